#include "patch.h"

#include "json_pointer.h"

namespace ray_admission {

namespace {

bool is_prefix(const std::string& prefix, const std::string& ptr) {
  return ptr.size() > prefix.size() && ptr.compare(0, prefix.size(), prefix) == 0 && ptr[prefix.size()] == '/';
}

std::string parent_of(const std::string& ptr) {
  auto slash = ptr.rfind('/');
  return slash == std::string::npos ? std::string() : ptr.substr(0, slash);
}

}  // namespace

const Json* PatchBuilder::lookup(const std::string& ptr) const {
  // The latest op that wrote this place or a parent of it decides; otherwise the document.
  for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
    if (it->op != "add" && it->op != "replace") continue;
    if (it->path == ptr) return &it->value;
    if (is_prefix(it->path, ptr)) return pointer::resolve(it->value, std::string_view(ptr).substr(it->path.size()));
  }
  return pointer::resolve(doc_, ptr);
}

bool PatchBuilder::append(const PatchOp& op) {
  if (op.op != "add") {
    ops_.push_back(op);
    return true;
  }
  // Find the outermost missing ancestor and wrap the value in objects up to it.
  std::vector<std::string> tokens = pointer::split(op.path);
  if (tokens.empty()) return false;
  std::string existing;  // deepest existing prefix
  std::size_t depth = 0;
  for (; depth + 1 < tokens.size(); ++depth) {
    std::string next = pointer::child(existing, tokens[depth]);
    const Json* v = lookup(next);
    if (v == nullptr || !(v->is_object() || v->is_array())) break;
    existing = std::move(next);
  }
  if (depth + 1 < tokens.size()) {
    // Parents from tokens[depth] are missing (or not containers): create them as objects.
    const Json* at = lookup(pointer::child(existing, tokens[depth]));
    if (at != nullptr) return false;  // a scalar stands where an object is needed
    const Json* parent = lookup(existing);
    if (parent == nullptr || !parent->is_object()) return false;
    Json value = op.value;
    for (std::size_t k = tokens.size() - 1; k > depth; --k) {
      Json wrapped = Json::object();
      wrapped[tokens[k]] = std::move(value);
      value = std::move(wrapped);
    }
    ops_.push_back(PatchOp{"add", pointer::child(existing, tokens[depth]), "", std::move(value)});
    return true;
  }
  const Json* parent = lookup(existing);  // every parent exists
  if (parent == nullptr) return false;
  if (parent->is_object()) {
    const Json* cur = lookup(op.path);
    if (cur != nullptr && *cur == op.value) return true;  // already so: nothing to do
    ops_.push_back(PatchOp{cur != nullptr ? "replace" : "add", op.path, "", op.value});
    return true;
  }
  ops_.push_back(op);  // an array insert
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
      if (pointer::resolve(work, op.path) == nullptr) {
        err = op.path + " does not exist";
      } else if (op.path.empty()) {
        work = op.value;
      } else {
        err = do_remove(work, op.path, nullptr);
        if (!err) err = do_add(work, op.path, op.value);
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
