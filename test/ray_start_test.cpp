// rules/ray_start: finding `ray start` in command + args, and reading its flags.
#include "rules/ray_start.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ray_admission;

namespace {

Json container(const char* json_text) {
  Json c = Json::parse(json_text, nullptr, false);
  REQUIRE_MESSAGE(!c.is_discarded(), "bad test JSON: " << json_text);
  return c;
}

// The flags of the `ray start` in `c`, as "name=value" (or "name" without a value).
std::vector<std::string> flags(const Json& c) {
  auto rs = find_ray_start(c, "/c");
  REQUIRE_MESSAGE(rs.has_value(), "no ray start in " << c.dump());
  std::vector<std::string> out;
  for (const RayStartFlag& f : rs->flags) out.push_back(f.has_value ? f.name + "=" + f.value : f.name);
  return out;
}

std::string value_of(const Json& c, const char* name) {
  auto rs = find_ray_start(c, "/c");
  REQUIRE(rs.has_value());
  const RayStartFlag* f = rs->find(name);
  REQUIRE_MESSAGE(f != nullptr, "no --" << name);
  return f->value;
}

using V = std::vector<std::string>;

// shell_words marks control operators with a leading '\0'.
std::string op(const char* text) { return std::string(1, '\0') + text; }

}  // namespace

TEST_CASE("--flag=value and --flag value, in command and in args") {
  CHECK(flags(container(R"({"command": ["ray", "start", "--head", "--num-cpus=4", "--port", "6379"]})")) ==
        V{"head", "num-cpus=4", "port=6379"});
  CHECK(flags(container(R"({"command": ["ray"], "args": ["start", "--num-cpus", "2", "--block"]})")) ==
        V{"num-cpus=2", "block"});
  CHECK(flags(container(R"({"command": ["/home/ray/anaconda3/bin/ray", "start", "--address=head:6379"]})")) ==
        V{"address=head:6379"});
  // Underscores read as dashes; a value may be empty; a value never starts with "--".
  CHECK(flags(container(
            R"({"command": ["ray", "start", "--num_cpus=1", "--redis-password=", "--memory", "--block"]})")) ==
        V{"num-cpus=1", "redis-password=", "memory", "block"});
  // Boolean flags never take the next word.
  CHECK(flags(container(R"({"command": ["ray", "start", "--head", "4", "--disable-usage-stats", "x"]})")) ==
        V{"head", "disable-usage-stats"});
}

TEST_CASE("the head flag, and the last occurrence wins") {
  auto rs = find_ray_start(container(R"({"args": ["ray", "start", "--num-cpus=1", "--head", "--num-cpus=2"]})"), "/c");
  REQUIRE(rs.has_value());
  CHECK(rs->head);
  REQUIRE(rs->find("num-cpus") != nullptr);
  CHECK(rs->find("num-cpus")->value == "2");
  CHECK(rs->find("port") == nullptr);
  auto worker = find_ray_start(container(R"({"args": ["ray", "start", "--address=h:6379"]})"), "/c");
  REQUIRE(worker.has_value());
  CHECK(!worker->head);
}

TEST_CASE("quoted values, as the shell reads them") {
  // The form the Ray docs show: --resources='{"Custom1": 1}'
  const Json c = container(R"({"command": ["/bin/bash", "-c", "--"],
      "args": ["ray start --head --resources='{\"Custom1\": 1}' --num-cpus=1 --block"]})");
  CHECK(value_of(c, "resources") == R"({"Custom1": 1})");
  CHECK(value_of(c, "num-cpus") == "1");
  CHECK(flags(c) == V{"head", R"(resources={"Custom1": 1})", "num-cpus=1", "block"});
  // Double quotes with escaped quotes inside.
  CHECK(value_of(container(R"({"command": ["bash", "-c", "ray start --resources=\"{\\\"GPU_type\\\": 2}\""]})"),
                 "resources") == R"({"GPU_type": 2})");
  // The space-separated form with a quoted value.
  CHECK(value_of(container(R"({"command": ["sh", "-c", "ray start --resources '{\"a\": 1, \"b\": 2}'"]})"),
                 "resources") == R"({"a": 1, "b": 2})");
  // The documented doubly-quoted form keeps its inner quotes.
  CHECK(value_of(container(R"({"command": ["sh", "-c", "ray start --resources='\"{\\\"Custom1\\\": 1}\"'"]})"),
                 "resources") == R"("{\"Custom1\": 1}")");
  // An empty quoted password (Ray's static manifest): a flag with an empty value.
  CHECK(value_of(container(R"({"args": ["ray start --head --redis-password='' --block"]})"), "redis-password") == "");
  // $VARIABLES are left as written.
  CHECK(value_of(container(R"({"args": ["ray start --num-cpus=$MY_CPU_REQUEST"]})"), "num-cpus") == "$MY_CPU_REQUEST");
}

TEST_CASE("bash -c strings, && chains, ; and line continuations") {
  CHECK(
      flags(container(
          R"({"command": ["/bin/bash", "-lc", "pip install x && ray start --head --port=6379 && sleep infinity"]})")) ==
      V{"head", "port=6379"});
  CHECK(
      flags(container(
          R"({"command": ["bash", "-c", "ulimit -n 65536; ray start --address=$RAY_IP:6379 --block; echo done"]})")) ==
      V{"address=$RAY_IP:6379", "block"});
  CHECK(flags(container(R"({"command": ["sh", "-c", "ray start --head || exit 1"]})")) == V{"head"});
  CHECK(flags(container(R"({"command": ["sh", "-c", "ray start --head | tee log"]})")) == V{"head"});
  CHECK(flags(container(R"({"command": ["sh", "-c", "ray start \\\n  --head \\\n  --num-cpus=2\nsleep 1"]})")) ==
        V{"head", "num-cpus=2"});
  CHECK(flags(container(R"({"command": ["sh", "-c", "# start the node\nexec ray start --block"]})")) == V{"block"});
  CHECK(flags(container(R"({"args": ["ray start --head --dashboard-host=0.0.0.0 &"]})")) ==
        V{"head", "dashboard-host=0.0.0.0"});
}

TEST_CASE("the pointer names the command or args element that holds ray start") {
  auto in_args = find_ray_start(container(R"({"command": ["/bin/bash", "-c", "--"], "args": ["ray start --head"]})"),
                                "/spec/containers/0");
  REQUIRE(in_args.has_value());
  CHECK(in_args->pointer == "/spec/containers/0/args/0");
  auto direct = find_ray_start(container(R"({"command": ["ray", "start", "--head"]})"), "/x");
  REQUIRE(direct.has_value());
  CHECK(direct->pointer == "/x/command/0");
  auto after_wrapper = find_ray_start(container(R"({"command": ["dumb-init", "--"], "args": ["ray", "start"]})"), "/x");
  REQUIRE(after_wrapper.has_value());
  CHECK(after_wrapper->pointer == "/x/args/0");
  auto script_in_command =
      find_ray_start(container(R"({"command": ["bash", "-c", "ray start --head"], "args": []})"), "/x");
  REQUIRE(script_in_command.has_value());
  CHECK(script_in_command->pointer == "/x/command/2");
}

TEST_CASE("no ray start") {
  for (const char* c : {R"({"name": "x"})", R"({"command": ["python", "app.py"]})", R"({"command": ["ray", "status"]})",
                        R"({"command": ["sh", "-c", "ray stop && ray status"]})",
                        R"({"command": ["sh", "-c", "echo 'ray start --head'"]})", R"({"command": ["x-ray", "start"]})",
                        R"({"command": "ray start --head"})", R"({"command": [1, 2]})", R"([])", R"("ray start")"}) {
    INFO(c);
    CHECK(!find_ray_start(container(c), "/c").has_value());
  }
}

TEST_CASE("shell_words") {
  CHECK(shell_words("a  b\tc") == V{"a", "b", "c"});
  CHECK(shell_words("'a b' \"c d\" e\\ f") == V{"a b", "c d", "e f"});
  CHECK(shell_words("x='1 2'y") == V{"x=1 2y"});
  CHECK(shell_words("\"a\\\"b\\\\c\\$d\\e\"") == V{"a\"b\\c$d\\e"});
  CHECK(shell_words("'a\\b'") == V{"a\\b"});
  CHECK(shell_words("''") == V{""});
  CHECK(shell_words("a&&b||c;d|e&f\ng") ==
        V{"a", op("&&"), "b", op("||"), "c", op(";"), "d", op("|"), "e", op("&"), "f", op("\n"), "g"});
  CHECK(shell_words("a \\\nb") == V{"a", "b"});
  CHECK(shell_words("a # comment && b\nc") == V{"a", op("\n"), "c"});
  CHECK(shell_words("a#b") == V{"a#b"});
  CHECK(shell_words("").empty());
  CHECK(shell_words("'unterminated") == V{"unterminated"});
}
