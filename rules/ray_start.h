// Finding `ray start` in a container's command and args, and reading its flags.
#pragma once

#include "types.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

struct RayStartFlag {
  std::string name;   // without the leading "--", with '_' read as '-': "num-cpus"
  std::string value;  // "" for a flag given without a value
  bool has_value = false;
};

struct RayStart {
  bool head = false;
  std::vector<RayStartFlag> flags;  // in the order given
  std::string pointer;              // the command or args element that holds `ray start`

  const RayStartFlag* find(std::string_view name) const;
};

// Splits a shell command line into words, the way sh would for simple scripts: single and
// double quotes, backslash escapes, backslash-newline continuations. Control operators
// (&&, ||, ;, |, &, newline) come out as their own words, marked by a leading '\0'.
std::vector<std::string> shell_words(std::string_view script);

// Looks for `ray start` in `command` + `args` of a container: directly as words, or inside a
// string run by a shell (`bash -c "...; ray start --head ..."`). Flags are read in both forms,
// `--num-cpus=4` and `--num-cpus 4`. `container_ptr` is the container's JSON pointer.
std::optional<RayStart> find_ray_start(const Json& container, std::string_view container_ptr);

}  // namespace ray_admission
