// The subcommands of `ray-admission`. Each takes its own arguments (after the subcommand name)
// and returns the process exit status.
#pragma once

#include <span>
#include <string>

namespace ray_admission::cli {

using Args = std::span<char* const>;

int check_main(Args args);    // check.cpp
int rules_main(Args args);    // rules_docs.cpp
int explain_main(Args args);  // rules_docs.cpp
int serve_main(Args args);    // server/serve.cpp
int certs_main(Args args);    // certs_cmd.cpp
int manifests_main(Args args);  // manifests_cmd.cpp

// Markdown documentation generated from the rule registry (docs/rules.md is this, checked in).
std::string rules_markdown();

}  // namespace ray_admission::cli
