// ray-admission: one binary, several subcommands. Each subcommand is a thin shell over the
// engine in rules/ (and, for serve, the HTTPS layer in server/).
#include "commands.h"

#include <iostream>
#include <string_view>

namespace {

struct Command {
  std::string_view name;
  int (*run)(ray_admission::cli::Args);
  std::string_view help;
};

// One line per subcommand.
constexpr Command kCommands[] = {
    {"check", ray_admission::cli::check_main, "check Ray workloads in YAML files (offline; --fix applies the mutations)"},
    {"rules", ray_admission::cli::rules_main, "list every rule, its default action and whether it mutates"},
    {"explain", ray_admission::cli::explain_main, "explain one rule: what, why, an example, the fix"},
    {"serve", ray_admission::cli::serve_main, "run the HTTPS admission webhook (/validate, /mutate, /metrics)"},
    {"certs", ray_admission::cli::certs_main, "write a CA and the webhook's serving certificate (--renew renews it)"},
    {"manifests", ray_admission::cli::manifests_main, "print the webhook configurations (--all: the server too), for installs without Helm"},
};

void usage(std::ostream& out) {
  out << "usage: ray-admission COMMAND [ARGS...]\n\ncommands:\n";
  for (const Command& c : kCommands) {
    out << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.help << "\n";
  }
  out << "\n`ray-admission COMMAND --help` describes one command.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(std::cout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::cout << "ray-admission 0.1.0\n";
    return 0;
  }
  for (const Command& c : kCommands) {
    if (c.name == name) return c.run(ray_admission::cli::Args(argv + 2, static_cast<std::size_t>(argc - 2)));
  }
  std::cerr << "ray-admission: unknown command '" << name << "'\n";
  usage(std::cerr);
  return 2;
}
