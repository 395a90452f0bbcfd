// Building RFC 6902 patches that are minimal and create missing parents, and applying them.
#pragma once

#include "types.h"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ray_admission {

// Turns the fixes of several rules into one patch against `doc`. An "add" whose parents are
// missing becomes one "add" of the outermost missing parent holding the nested value; an "add"
// onto an existing object member becomes a "replace"; an "add" of a value that is already there
// is dropped. Later ops see what earlier ones created, so two fixes that both need a new
// `rayStartParams` do not overwrite each other.
class PatchBuilder {
 public:
  explicit PatchBuilder(const Json& doc) : doc_(doc) {}

  // Returns false (and adds nothing) when the op cannot apply to the document. Taken by value:
  // a fix moved in is not copied.
  bool append(PatchOp op);
  const Patch& patch() const { return ops_; }
  Patch take() {
    by_path_.clear();
    indexed_ = 0;
    return std::move(ops_);
  }

 private:
  const Json& doc_;
  Patch ops_;
  // append()'s working vectors, kept so that their memory is allocated once per builder.
  std::vector<std::string_view> tokens_;
  std::vector<std::string> unescaped_;  // the tokens that had escapes (tokens_ views them)
  std::vector<std::string_view> prefix_;
  std::vector<const Json*> in_doc_;
  std::vector<const PatchOp*> writes_;
  // Once the patch is long, the adds and replaces by path (ops_[0, indexed_) are in it), so that
  // finding the earlier writes to a path and its ancestors does not read every op: a patch of n
  // fixes (one per worker group) would cost n squared.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_multimap<std::string, std::size_t, Hash, std::equal_to<>> by_path_;
  std::size_t indexed_ = 0;
};

// Applies a patch in place. Returns an error message, or nullopt on success. On error the
// document is left unchanged.
std::optional<std::string> apply_patch(Json& doc, const Patch& patch);

}  // namespace ray_admission
