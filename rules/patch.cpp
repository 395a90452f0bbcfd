#include "patch.h"

#include "json_pointer.h"
#include "workload.h"

#include <algorithm>
#include <charconv>

namespace ray_admission {

namespace {

bool is_prefix(std::string_view prefix, std::string_view ptr) {
  return ptr.size() > prefix.size() && ptr.compare(0, prefix.size(), prefix) == 0 && ptr[prefix.size()] == '/';
}

std::string parent_of(const std::string& ptr) {
  auto slash = ptr.rfind('/');
  return slash == std::string::npos ? std::string() : ptr.substr(0, slash);
}

}  // namespace

namespace {

std::optional<std::size_t> index_token(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One step of pointer::resolve: the member or element `token` of `v`, or nullptr.
const Json* step(const Json* v, std::string_view token) {
  if (v == nullptr) return nullptr;
  if (v->is_object()) return member(*v, token);
  if (v->is_array()) {
    auto idx = index_token(token);
    return idx && *idx < v->size() ? &(*v)[*idx] : nullptr;
  }
  return nullptr;
}

}  // namespace

bool PatchBuilder::append(PatchOp op) {
  if (op.op != "add") {
    ops_.push_back(std::move(op));
    return true;
  }
  // Find the outermost missing ancestor and wrap the value in objects up to it.
  //
  // Every ancestor of op.path is looked up, as it is once the ops so far are applied, in one pass:
  // the ancestors' pointers (prefix_[d], the first d tokens) and their values in the document
  // (in_doc_[d]) are found one token at a time, and only the earlier ops that wrote op.path or one
  // of its ancestors are consulted (the latest one that wrote a place or a parent of it decides).
  // Re-reading every op and re-resolving every pointer from the root for each ancestor made a
  // patch quadratic in its size.
  if (op.path.empty() || op.path.front() != '/') return false;
  const std::string_view path = op.path;
  // One pass over the path: each token, as a view into the path or into unescaped_ for the few
  // with escapes (reserved first, so that the strings, and the views of them, stay put), and
  // prefix_[d], op.path up to the end of its d-th token, with in_doc_[d], its value in the document.
  const auto tokens = static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
  unescaped_.clear();
  unescaped_.reserve(tokens);
  tokens_.clear();
  tokens_.reserve(tokens);
  prefix_.assign(1, std::string_view());
  prefix_.reserve(tokens + 1);
  in_doc_.assign(1, &doc_);
  in_doc_.reserve(tokens + 1);
  for (std::size_t pos = 1;;) {
    const std::size_t next = path.find('/', pos);
    std::string_view raw = path.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    tokens_.push_back(raw.find('~') == std::string_view::npos
                          ? raw
                          : std::string_view(unescaped_.emplace_back(pointer::unescape(raw))));
    prefix_.push_back(path.substr(0, next));
    in_doc_.push_back(step(in_doc_.back(), tokens_.back()));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  const std::size_t n = tokens_.size();
  writes_.clear();                        // oldest first
  constexpr std::size_t kIndexFrom = 32;  // below this many ops, reading them all is cheaper
  if (ops_.size() < kIndexFrom) {
    for (const PatchOp& o : ops_) {
      if (o.op != "add" && o.op != "replace") continue;
      if (o.path == path || is_prefix(o.path, path)) writes_.push_back(&o);
    }
  } else {
    for (; indexed_ < ops_.size(); ++indexed_) {
      const PatchOp& o = ops_[indexed_];
      if (o.op == "add" || o.op == "replace") by_path_.emplace(o.path, indexed_);
    }
    // The writes to op.path or an ancestor are the ops whose path is one of its prefixes (the
    // root's "" included).
    for (std::size_t d = 0; d <= n; ++d) {
      auto [first, last] = by_path_.equal_range(prefix_[d]);
      for (auto it = first; it != last; ++it) writes_.push_back(&ops_[it->second]);
    }
    std::sort(writes_.begin(), writes_.end());  // ops_ order: pointers into one vector
  }
  auto at = [&](std::size_t d) -> const Json* {  // lookup(prefix_[d])
    const std::string_view ptr = prefix_[d];
    for (auto it = writes_.rbegin(); it != writes_.rend(); ++it) {
      const PatchOp& w = **it;
      if (w.path == ptr) return &w.value;
      if (is_prefix(w.path, ptr)) return pointer::resolve(w.value, ptr.substr(w.path.size()));
    }
    return in_doc_[d];
  };
  std::size_t depth = 0;  // prefix_[depth] is the deepest existing container
  for (; depth + 1 < n; ++depth) {
    const Json* v = at(depth + 1);
    if (v == nullptr || !(v->is_object() || v->is_array())) break;
  }
  if (depth + 1 < n) {
    // Parents from tokens_[depth] are missing (or not containers): create them as objects.
    if (at(depth + 1) != nullptr) return false;  // a scalar stands where an object is needed
    const Json* parent = at(depth);
    if (parent == nullptr || !parent->is_object()) return false;
    Json value = std::move(op.value);
    for (std::size_t k = n - 1; k > depth; --k) {
      Json wrapped = Json::object();
      wrapped[std::string(tokens_[k])] = std::move(value);
      value = std::move(wrapped);
    }
    std::string outer(prefix_[depth + 1]);
    ops_.push_back(PatchOp{"add", std::move(outer), "", std::move(value)});
    return true;
  }
  const Json* parent = at(depth);  // every parent exists
  if (parent == nullptr) return false;
  if (parent->is_object()) {
    const Json* cur = at(n);
    if (cur != nullptr && *cur == op.value) return true;  // already so: nothing to do
    if (cur != nullptr) op.op = "replace";
    ops_.push_back(std::move(op));
    return true;
  }
  if (!parent->is_array()) return false;  // a scalar stands where a container is needed
  // An array insert: the last token must be an index within the array, or "-".
  const std::string_view last = tokens_.back();
  if (last != "-") {
    auto idx = last.size() > 9 ? std::nullopt : index_token(last);
    if (!idx || *idx > parent->size()) return false;
  }
  ops_.push_back(std::move(op));
  return true;
}

namespace {

struct Target {
  Json* parent = nullptr;
  std::string key;  // the last token
};

std::optional<std::string> locate(Json& doc, const std::string& ptr, Target& t) {
  if (ptr.empty()) return "the root cannot be the target";
  std::string parent_ptr = parent_of(ptr);
  const Json* p = pointer::resolve(doc, parent_ptr);
  if (p == nullptr) return "parent of " + ptr + " does not exist";
  t.parent = const_cast<Json*>(p);  // resolve() found it inside `doc`, which we own mutably
  t.key = pointer::unescape(ptr.substr(parent_ptr.size() + 1));
  return std::nullopt;
}

std::optional<std::size_t> array_index(const Json& arr, const std::string& key, bool allow_end) {
  if (allow_end && key == "-") return arr.size();
  if (key.empty() || key.find_first_not_of("0123456789") != std::string::npos || (key.size() > 1 && key[0] == '0')) {
    return std::nullopt;
  }
  std::size_t idx = std::stoul(key);
  if (idx > arr.size() || (!allow_end && idx == arr.size())) return std::nullopt;
  return idx;
}

std::optional<std::string> do_add(Json& doc, const std::string& path, Json value) {
  if (path.empty()) {
    doc = std::move(value);
    return std::nullopt;
  }
  Target t;
  if (auto err = locate(doc, path, t)) return err;
  if (t.parent->is_object()) {
    (*t.parent)[t.key] = std::move(value);
  } else if (t.parent->is_array()) {
    auto idx = array_index(*t.parent, t.key, true);
    if (!idx) return "bad array index in " + path;
    t.parent->insert(t.parent->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
  } else {
    return "parent of " + path + " is not a container";
  }
  return std::nullopt;
}

std::optional<std::string> do_remove(Json& doc, const std::string& path, Json* removed) {
  Target t;
  if (auto err = locate(doc, path, t)) return err;
  if (t.parent->is_object()) {
    auto it = t.parent->find(t.key);
    if (it == t.parent->end()) return path + " does not exist";
    if (removed != nullptr) *removed = std::move(*it);
    t.parent->erase(it);
  } else if (t.parent->is_array()) {
    auto idx = array_index(*t.parent, t.key, false);
    if (!idx) return path + " does not exist";
    if (removed != nullptr) *removed = std::move((*t.parent)[*idx]);
    t.parent->erase(*idx);
  } else {
    return path + " does not exist";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> apply_patch(Json& doc, const Patch& patch) {
  Json work = doc;
  for (const PatchOp& op : patch) {
    std::optional<std::string> err;
    if (op.op == "add") {
      err = do_add(work, op.path, op.value);
    } else if (op.op == "replace") {
      // In place: a replaced member keeps its position among its siblings.
      const Json* target = pointer::resolve(work, op.path);
      if (target == nullptr) {
        err = op.path + " does not exist";
      } else {
        *const_cast<Json*>(target) = op.value;  // resolve() found it inside `work`, which we own
      }
    } else if (op.op == "remove") {
      err = do_remove(work, op.path, nullptr);
    } else if (op.op == "move") {
      if (is_prefix(op.from, op.path)) {
        err = "cannot move " + op.from + " into itself";
      } else {
        Json v;
        err = do_remove(work, op.from, &v);
        if (!err) err = do_add(work, op.path, std::move(v));
      }
    } else {
      err = "unsupported op " + op.op;
    }
    if (err) return err;
  }
  doc = std::move(work);
  return std::nullopt;
}

}  // namespace ray_admission
