#include "fast_parse.h"

#include "rules/json_pointer.h"

#include <simdjson.h>

#include <bit>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ray_admission {

namespace {

// What the build records for FastJsonParser::discard(): the strings (values and keys) that own
// heap memory, and whether a repeated key replaced a value (whose strings may be on the list).
struct BuildLog {
  std::vector<const std::string*> heap_strings;
  bool replaced = false;
};

}  // namespace

struct FastJsonParser::Impl {
  simdjson::dom::parser parser;
  std::size_t max_depth = 0;  // set only when the first allocation failed
  json_model::Arena* arena = json_model::Arena::create();
  std::vector<std::vector<std::string>> skipped;  // the tokens of each pointer left out
  // What discard() needs of the last document: the build's log, its root's storage (nullptr: no
  // document to discard), and the arena's count of blocks when the parse ended.
  BuildLog log;
  const void* last_root = nullptr;
  std::size_t last_blocks = 0;
  ~Impl() { arena->release_owner(); }
};

namespace {

// Which members the parse leaves out (FastJsonParser::skip): `paths` holds their tokens; bit i
// of `active` says that the value being built lies on the way to paths[i], `depth` tokens down.
struct Skips {
  const std::vector<std::vector<std::string>>* paths = nullptr;
  std::uint32_t active = 0;
  std::size_t depth = 0;
  BuildLog* log = nullptr;

  // For member `key` of the current object: whether to leave it out, and the skips below it.
  bool leave_out(std::string_view key, Skips& below) const {
    below = Skips{paths, 0, depth + 1, log};
    for (std::uint32_t bits = active; bits != 0; bits &= bits - 1) {
      const auto i = static_cast<std::size_t>(std::countr_zero(bits));
      const std::vector<std::string>& path = (*paths)[i];
      if (path[depth] != key) continue;
      if (depth + 1 == path.size()) return true;
      below.active |= 1u << i;
    }
    return false;
  }
};

void build(simdjson::dom::element e, Json& out, const Skips& skips);

// Constructs a value over `out`, which is null. A null Json owns nothing, so this skips what an
// assignment would do: swap, then destroy the null (a call per node, 5 % of the parse).
template <typename... Args>
void emplace(Json& out, Args&&... args) {
  ::new (static_cast<void*>(&out)) Json(std::forward<Args>(args)...);
}

// Whether a string may own heap memory: longer than what fits in the string object itself.
bool on_heap(const std::string& s) {
  static const std::size_t kInline = std::string().capacity();
  return s.capacity() > kInline;
}

Json& append_member(Json::object_t& map, std::string_view key, const Skips& skips) {
  auto& member = map.Json::object_t::Container::emplace_back(std::piecewise_construct, std::forward_as_tuple(key),
                                                             std::forward_as_tuple());
  if (on_heap(member.first)) skips.log->heap_strings.push_back(&member.first);
  return member.second;
}

// An object of many members: repeated keys are found by hash, so that a body of a million keys
// costs a million lookups, not a million squared.
void build_large_object(simdjson::dom::object obj, Json::object_t& map, const Skips& skips) {
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(obj.size());
  for (simdjson::dom::key_value_pair kv : obj) {
    Skips below;
    if (skips.leave_out(kv.key, below)) continue;
    auto [it, fresh] = index.try_emplace(kv.key, map.size());
    Json* slot = nullptr;
    if (fresh) {
      slot = &append_member(map, kv.key, skips);
    } else {
      slot = &(map.begin() + static_cast<std::ptrdiff_t>(it->second))->second;
      *slot = nullptr;
      skips.log->replaced = true;
    }
    build(kv.value, *slot, below);
  }
}

// Builds `e` into `out`, which must be null. Containers are sized once and filled in place.
void build(simdjson::dom::element e, Json& out, const Skips& skips) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::ARRAY: {
      simdjson::dom::array arr = e.get_array().value_unsafe();
      emplace(out, Json::value_t::array);
      auto& vec = out.get_ref<Json::array_t&>();
      vec.reserve(arr.size());
      const Skips none{skips.paths, 0, skips.depth + 1, skips.log};  // skipped paths name object members only
      for (simdjson::dom::element child : arr) build(child, vec.emplace_back(), none);
      return;
    }
    case element_type::OBJECT: {
      simdjson::dom::object obj = e.get_object().value_unsafe();
      emplace(out, Json::value_t::object);
      auto& map = out.get_ref<Json::object_t&>();
      map.reserve(obj.size());
      if (obj.size() > 16) {
        build_large_object(obj, map, skips);
        return;
      }
      // A repeated key keeps its first place and takes the last value, as with nlohmann.
      for (simdjson::dom::key_value_pair kv : obj) {
        Skips below;
        if (skips.leave_out(kv.key, below)) continue;
        Json* slot = nullptr;
        for (auto& [key, value] : map) {
          if (std::string_view(key) == kv.key) {
            slot = &value;
            *slot = nullptr;
            skips.log->replaced = true;
            break;
          }
        }
        if (slot == nullptr) slot = &append_member(map, kv.key, skips);
        build(kv.value, *slot, below);
      }
      return;
    }
    case element_type::STRING: {
      emplace(out, e.get_string().value_unsafe());
      const auto* str = out.get_ptr<const std::string*>();
      if (on_heap(*str)) skips.log->heap_strings.push_back(str);
      return;
    }
    case element_type::INT64: emplace(out, e.get_int64().value_unsafe()); return;
    case element_type::UINT64: emplace(out, e.get_uint64().value_unsafe()); return;
    case element_type::DOUBLE: emplace(out, e.get_double().value_unsafe()); return;
    case element_type::BOOL: emplace(out, e.get_bool().value_unsafe()); return;
    case element_type::NULL_VALUE: return;  // already null
  }
}

// Empties every container under `v`, deepest first, so that each one is freed when it holds only
// scalars and empty containers: the destructor's cheap case.
void empty(Json& v, std::size_t depth) {
  if (depth == 0) return;  // the destructor frees what is left
  if (v.is_array()) {
    auto& arr = v.get_ref<Json::array_t&>();
    for (Json& child : arr) {
      if (child.is_structured()) empty(child, depth - 1);
    }
    arr.clear();
  } else if (v.is_object()) {
    auto& map = v.get_ref<Json::object_t&>();
    for (auto& kv : map) {
      if (kv.second.is_structured()) empty(kv.second, depth - 1);
    }
    map.clear();
  }
}

// The node a structured or string root points to, which identifies the document.
const void* root_storage(const Json& doc) {
  if (doc.is_object()) return doc.get_ptr<const Json::object_t*>();
  if (doc.is_array()) return doc.get_ptr<const Json::array_t*>();
  if (doc.is_string()) return doc.get_ptr<const std::string*>();
  return nullptr;
}

}  // namespace

void release(Json& doc, std::size_t max_depth) {
  empty(doc, max_depth);
  doc = nullptr;
}

FastJsonParser::FastJsonParser(std::size_t max_depth) : impl_(std::make_unique<Impl>()) {
  impl_->parser = simdjson::dom::parser(simdjson::SIMDJSON_MAXSIZE_BYTES);
  // Capacity grows with the documents; the depth limit is fixed here. A failed allocation here
  // is retried by parse(), which allocates what each document needs.
  if (impl_->parser.allocate(64 * 1024, max_depth) != simdjson::SUCCESS) impl_->max_depth = max_depth;
}

FastJsonParser::~FastJsonParser() = default;
FastJsonParser::FastJsonParser(FastJsonParser&&) noexcept = default;
FastJsonParser& FastJsonParser::operator=(FastJsonParser&&) noexcept = default;

std::size_t FastJsonParser::arena_blocks() const { return impl_->arena->live_blocks(); }
std::size_t FastJsonParser::arena_bytes() const { return impl_->arena->capacity(); }

bool FastJsonParser::parse(std::string_view text, Json& out, std::string& error, bool* too_deep) {
  if (too_deep != nullptr) *too_deep = false;
  if (impl_->max_depth != 0) {
    if (impl_->parser.allocate(64 * 1024, impl_->max_depth) != simdjson::SUCCESS) {
      error = "out of memory";
      return false;
    }
    impl_->max_depth = 0;
  }
  simdjson::dom::element root;
  auto err = impl_->parser.parse(text.data(), text.size(), true).get(root);
  if (err != simdjson::SUCCESS) {
    if (too_deep != nullptr) *too_deep = err == simdjson::DEPTH_ERROR;
    error = simdjson::error_message(err);
    return false;
  }
  out = nullptr;  // frees the caller's previous document first: its arena may be reused
  if (impl_->arena->live_blocks() != 0) {
    // An earlier document is still alive: its arena cannot be reused until it is freed, so leave
    // that arena to it (it frees itself with the document's last block) and start a new one.
    // Memory is then bounded by the documents alive, not by the number of parses.
    impl_->arena->release_owner();
    impl_->arena = json_model::Arena::create();
  }
  impl_->log.heap_strings.clear();  // keeps its capacity for the next document
  impl_->log.replaced = false;
  impl_->last_root = nullptr;
  {
    json_model::ArenaScope scope(impl_->arena);
    const auto n = impl_->skipped.size();
    const auto active = n == 0 ? 0u : static_cast<std::uint32_t>((std::uint64_t{1} << n) - 1);
    build(root, out, Skips{&impl_->skipped, active, 0, &impl_->log});
  }
  if (!impl_->log.replaced) {
    impl_->last_root = root_storage(out);
    impl_->last_blocks = impl_->arena->live_blocks();
  }
  return true;
}

void FastJsonParser::discard(Json& doc) {
  Impl& impl = *impl_;
  // A node freed or replaced changes the count of blocks; another document, or this one moved
  // away or reassigned, has another root (the root's storage moves with the document).
  const bool intact =
      impl.last_root != nullptr && root_storage(doc) == impl.last_root && impl.arena->live_blocks() == impl.last_blocks;
  impl.last_root = nullptr;
  std::vector<const std::string*>& strings = impl.log.heap_strings;
  // The list keeps its memory for the next document, up to 128 KB (like the arena, which keeps
  // what a few-hundred-KB review needs): one huge document does not pin its list for good.
  auto forget_list = [&strings] {
    constexpr std::size_t kKept = 16 * 1024;
    strings.clear();
    if (strings.capacity() > kKept) std::vector<const std::string*>().swap(strings);
  };
  if (!intact) {
    forget_list();
    release(doc);
    return;
  }
  for (const std::string* s : strings) s->~basic_string();
  forget_list();
  ::new (static_cast<void*>(&doc)) Json();  // the old value's nodes are all in the arena
  impl.arena->forget_all();
}

bool FastJsonParser::skip(const std::vector<std::string>& pointers, std::string& error) {
  std::vector<std::vector<std::string>> paths;
  for (const std::string& p : pointers) {
    std::vector<std::string> tokens = pointer::split(p);
    if (p.empty() || p.front() != '/' || tokens.empty()) {
      error = "'" + p + "' is not a JSON Pointer to a member";
      return false;
    }
    paths.push_back(std::move(tokens));
  }
  if (paths.size() > 32) {
    error = "at most 32 pointers can be skipped";
    return false;
  }
  impl_->skipped = std::move(paths);
  return true;
}

}  // namespace ray_admission
