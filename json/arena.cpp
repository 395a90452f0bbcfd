#include "arena.h"

#include <algorithm>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define RAY_ADMISSION_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // Clang (the fuzz targets)
#define RAY_ADMISSION_ASAN 1
#endif
#endif
#ifdef RAY_ADMISSION_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace ray_admission::json_model {

namespace {

constexpr std::size_t kFirstChunk = 64 * 1024;
// What an idle arena keeps for the next document: enough for a review of a few hundred KB. A
// larger document's chunks are returned to the heap once it is freed.
constexpr std::size_t kMaxRetained = 4 * 1024 * 1024;

void poison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) {
#ifdef RAY_ADMISSION_ASAN
  ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
}

}  // namespace

Arena* Arena::create() { return new Arena(); }

Arena::~Arena() {
  while (chunks_ != nullptr) {
    Chunk* next = chunks_->next;
    std::free(chunks_);
    chunks_ = next;
  }
}

void Arena::release_owner() {
  owned_ = false;
  if (live_ == 0) delete this;
}

void Arena::unpoison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) {
#ifdef RAY_ADMISSION_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
}

void Arena::grow(std::size_t bytes) {
  std::size_t size = std::max({bytes, kFirstChunk, chunks_ != nullptr ? chunks_->size * 2 : 0});
  // The header is padded to kAlign, so that the chunk's data is aligned like the blocks in it.
  constexpr std::size_t kChunkHeader = (sizeof(Chunk) + kAlign - 1) & ~(kAlign - 1);
  void* mem = std::malloc(kChunkHeader + size);
  if (mem == nullptr) throw std::bad_alloc();
  auto* chunk = static_cast<Chunk*>(mem);
  chunk->next = chunks_;
  chunk->size = size;
  chunks_ = chunk;
  capacity_ += size;
  cur_ = static_cast<char*>(mem) + kChunkHeader;
  end_ = cur_ + size;
  poison(cur_, size);
}

void Arena::on_empty() {
  if (!owned_) {
    delete this;
    return;
  }
  reset();
}

// Every block has been freed: start again at the beginning of the newest (largest) chunk, and
// give the others back. Under AddressSanitizer the memory is poisoned until handed out again, so
// a use of a freed document is reported as it would be with the heap.
void Arena::reset() {
  if (chunks_ == nullptr) return;
  Chunk* keep = chunks_;
  Chunk* rest = keep->next;
  keep->next = nullptr;
  while (rest != nullptr) {
    Chunk* next = rest->next;
    std::free(rest);
    rest = next;
  }
  constexpr std::size_t kChunkHeader = (sizeof(Chunk) + kAlign - 1) & ~(kAlign - 1);
  if (keep->size > kMaxRetained) {
    std::free(keep);
    chunks_ = nullptr;
    cur_ = end_ = nullptr;
    capacity_ = 0;
    return;
  }
  capacity_ = keep->size;
  cur_ = reinterpret_cast<char*>(keep) + kChunkHeader;
  end_ = cur_ + keep->size;
  poison(cur_, keep->size);
}

}  // namespace ray_admission::json_model
