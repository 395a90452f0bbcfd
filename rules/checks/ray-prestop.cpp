// ray-prestop: every Ray container should stop Ray cleanly before its pod goes away.
#include "../json_pointer.h"
#include "../ray_start.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

bool has_ray_stop(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& prog = words[i];
    bool is_ray = prog == "ray" || (prog.size() > 4 && prog.compare(prog.size() - 4, 4, "/ray") == 0);
    if (is_ray && words[i + 1] == "stop") return true;
  }
  return false;
}

// True when the preStop exec command runs `ray stop`: as its own words, or inside a string that
// a shell runs (`sh -c "sleep 5 && ray stop"`).
bool runs_ray_stop(const Json& prestop) {
  const Json* cmd = member(member(prestop, "exec"), "command");
  if (cmd == nullptr || !cmd->is_array()) return false;
  std::vector<std::string> argv;
  for (const Json& w : *cmd) {
    if (!w.is_string()) continue;
    argv.push_back(w.get<std::string>());
    if (has_ray_stop(shell_words(argv.back()))) return true;
  }
  return has_ray_stop(argv);
}

void check(const Workload& w, Reporter& r) {
  for (const Group& g : w.groups) {
    const Json* c = g.container();
    if (c == nullptr || !c->is_object()) continue;
    const std::string& cptr = g.container_ptr();
    const Json* prestop = member(member(c, "lifecycle"), "preStop");
    if (prestop == nullptr || prestop->is_null()) {
      if (!r.fixes_wanted()) continue;  // only the mutation acts on a missing hook
      const std::vector<std::string>& words = r.policy().prestop_command;
      Json command(Json::value_t::array);
      command.get_ref<Json::array_t&>().reserve(words.size());
      for (const std::string& word : words) command.push_back(word);
      Json hook(Json::value_t::object);
      hook["exec"]["command"] = std::move(command);
      r.suggest(cptr, pointer::to_dotted(cptr) + " has no preStop hook: add one that runs `ray stop`",
                add_op(cptr + "/lifecycle/preStop", std::move(hook)));
      continue;
    }
    if (!runs_ray_stop(*prestop)) {
      std::string pptr = cptr + "/lifecycle/preStop";
      r.report(pptr, pointer::to_dotted(pptr) +
                         " does not run `ray stop`: Ray is killed without a clean shutdown; make the hook run "
                         "`ray stop` (after any other step)");
    }
  }
}

}  // namespace

extern const RuleInfo ray_prestop{
    .name = "ray-prestop",
    .default_action = Action::Warn,
    .mutation = Mutation::OnByDefault,
    .origin = Origin::RayDocs,
    .summary = "Every Ray container has a preStop hook that runs `ray stop`.",
    .why =
        "Ray's KubeRay configuration guide recommends a preStop hook running `ray stop` in every Ray "
        "container, so that when Kubernetes stops a pod, the Ray processes on it shut down cleanly "
        "instead of being killed, and the rest of the cluster learns at once that the node is gone.",
    .example =
        "containers:\n"
        "- name: ray-worker\n"
        "  image: rayproject/ray:2.9.0\n"
        "  lifecycle:\n"
        "    preStop:\n"
        "      exec:\n"
        "        command: [\"/bin/sh\", \"-c\", \"sleep 5\"]\n",
    .fix =
        "Run `ray stop` in the hook (after anything else it must do):\n\n"
        "  lifecycle:\n"
        "    preStop:\n"
        "      exec:\n"
        "        command: [\"/bin/sh\", \"-c\", \"sleep 5 && ray stop\"]\n",
    .mutation_doc =
        "When a Ray container has no preStop hook at all, the mutation adds "
        "`lifecycle.preStop.exec.command: [\"/bin/sh\", \"-c\", \"ray stop\"]` (the command is the "
        "policy's `preStopCommand`). A hook that exists is never rewritten; it only warns.",
    .check = check,
};

}  // namespace ray_admission::checks
