// The allocator of the engine's JSON model, which lets one parse put a whole document's nodes in
// a bump arena.
//
// An 8 KB AdmissionReview is about 480 JSON values and 700 heap blocks in nlohmann's model; with
// glibc's malloc, allocating and freeing them was a third of the instructions of a whole review
// (docs/benchmarks.md). FastJsonParser builds its documents inside an Arena instead: allocating is
// a pointer bump, freeing is a counter decrement, and the arena's memory is reused as soon as every
// block of the documents built in it has been freed.
//
// Every block carries a header that says where it came from, so a block is always freed the right
// way, whoever frees it: a Json built outside an arena (the CLI's YAML documents, the rules' own
// values, a copy of a parsed document) gets ordinary heap blocks, and a parsed document can be
// changed, copied, moved and destroyed like any other Json. The one constraint: a document built
// in an arena must be destroyed on the thread that built it (the arena's counters are not atomic).
//
// The only state is which arena this thread is building into, if any: set by ArenaScope, that is,
// only while FastJsonParser builds a document.
#pragma once

#include <cstddef>
#include <new>

namespace ray_admission::json_model {

class Arena {
 public:
  // Arenas are created on the heap and freed by release_owner(): one can outlive its owner until
  // the last block it handed out is freed.
  static Arena* create();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // The owner is done with the arena; it is freed now, or when its last block is.
  void release_owner();

  // `bytes` of memory aligned to alignof(std::max_align_t).
  void* allocate(std::size_t bytes) {
    bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (static_cast<std::size_t>(end_ - cur_) < bytes) grow(bytes);
    void* p = cur_;
    cur_ += bytes;
    ++live_;
    unpoison(p, bytes);
    return p;
  }
  void deallocate() {
    if (--live_ == 0) on_empty();
  }
  // Forgets every block handed out, as if each had been freed, without anyone freeing them: for
  // FastJsonParser::discard(), which knows that nothing else owns memory through them.
  void forget_all() {
    live_ = 0;
    on_empty();
  }

  std::size_t live_blocks() const { return live_; }
  std::size_t capacity() const { return capacity_; }  // bytes held, in every chunk

  static constexpr std::size_t kAlign = alignof(std::max_align_t);

 private:
  Arena() = default;
  ~Arena();
  void grow(std::size_t bytes);
  void on_empty();  // reuses the memory, or frees the arena when its owner is gone
  void reset();
  static void unpoison(void* p, std::size_t bytes);

  struct Chunk {
    Chunk* next;
    std::size_t size;  // bytes after this header
  };
  Chunk* chunks_ = nullptr;  // newest first
  char* cur_ = nullptr;
  char* end_ = nullptr;
  std::size_t live_ = 0;
  std::size_t capacity_ = 0;
  bool owned_ = true;
};

// The arena that Allocator puts new blocks in, on this thread; nullptr: the heap.
inline thread_local Arena* current_arena = nullptr;

// Makes `arena` this thread's current arena until the scope ends.
class ArenaScope {
 public:
  explicit ArenaScope(Arena* arena) : previous_(current_arena) { current_arena = arena; }
  ~ArenaScope() { current_arena = previous_; }
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  Arena* previous_;
};

// The allocator for every node of Json: stateless, so all instances are equal and blocks can be
// freed through any of them.
template <typename T>
struct Allocator {
  using value_type = T;

  Allocator() noexcept = default;
  template <typename U>
  Allocator(const Allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= Arena::kAlign);
    if (n > (static_cast<std::size_t>(-1) - kHeader) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = kHeader + n * sizeof(T);
    Arena* arena = current_arena;
    void* block = arena != nullptr ? arena->allocate(bytes) : ::operator new(bytes);
    *static_cast<Arena**>(block) = arena;
    return reinterpret_cast<T*>(static_cast<char*>(block) + kHeader);
  }

  void deallocate(T* p, std::size_t) noexcept {
    void* block = reinterpret_cast<char*>(p) - kHeader;
    if (Arena* arena = *static_cast<Arena**>(block)) {
      arena->deallocate();
    } else {
      ::operator delete(block);
    }
  }

  template <typename U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }

 private:
  static constexpr std::size_t kHeader = Arena::kAlign;  // holds the Arena*, keeps T aligned
};

}  // namespace ray_admission::json_model
