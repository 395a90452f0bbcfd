// ray-redis-password: a static head using external Redis passes its password, and takes it from a Secret.
#include "../json_pointer.h"
#include "../rule.h"

#include <cctype>

namespace ray_admission::checks {

namespace {

// The env entry of `container` named `name`, and its index; nullptr when there is none.
const Json* env_entry(const Json* container, std::string_view name, std::size_t& index) {
  const Json* env = member(container, "env");
  if (env == nullptr || !env->is_array()) return nullptr;
  for (std::size_t i = 0; i < env->size(); ++i) {
    const Json* n = member((*env)[i], "name");
    if (n != nullptr && n->is_string() && n->get_ref<const std::string&>() == name) {
      index = i;
      return &(*env)[i];
    }
  }
  return nullptr;
}

// The variable a value consists of: "$NAME", "${NAME}" (the shell) or "$(NAME)" (the kubelet).
std::optional<std::string> variable(std::string_view v) {
  if (v.size() < 2 || v[0] != '$') return std::nullopt;
  std::string_view body = v.substr(1);
  if (body.size() >= 2 &&
      ((body.front() == '{' && body.back() == '}') || (body.front() == '(' && body.back() == ')'))) {
    body = body.substr(1, body.size() - 2);
  }
  if (body.empty()) return std::nullopt;
  for (char c : body) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
  }
  return std::string(body);
}

void check(const Workload& w, Reporter& r) {
  const Group* head = w.head();
  if (w.kuberay || head == nullptr || !head->ray_start) return;
  const Json* c = head->container();
  std::size_t address_index = 0;
  if (env_entry(c, "RAY_REDIS_ADDRESS", address_index) == nullptr) return;

  const RayStart& rs = *head->ray_start;
  const std::string cmd = pointer::to_dotted(rs.pointer);
  const RayStartFlag* flag = rs.find("redis-password");
  if (flag == nullptr) {
    r.report(rs.pointer, cmd +
                             " starts a head with RAY_REDIS_ADDRESS but no --redis-password: pass the Redis password "
                             "from a Secret (--redis-password=$REDIS_PASSWORD), or --redis-password='' if it has none");
    return;
  }
  // An explicitly empty password (`--redis-password=''`, as in Ray's own example) says that Redis has
  // no password: nothing secret is written down.
  if (flag->value.empty()) return;
  auto var = variable(flag->value);
  if (!var) {
    if (flag->value.find('$') != std::string::npos) return;  // built from variables: not judged
    // Never repeat the password in the message: warnings end up in kubectl output and logs.
    r.report(rs.pointer, cmd +
                             " passes the Redis password literally in --redis-password: anyone who can read the "
                             "manifest sees it; set --redis-password=$REDIS_PASSWORD and REDIS_PASSWORD from a Secret");
    return;
  }
  std::size_t index = 0;
  const Json* entry = env_entry(c, *var, index);
  if (entry == nullptr) return;  // from envFrom or the image: not a literal in this manifest
  const Json* from = member(entry, "valueFrom");
  if (member(from, "secretKeyRef") != nullptr) return;
  const std::string entry_ptr = pointer::child(head->container_ptr() + "/env", index);
  const Json* value = member(entry, "value");
  if (value != nullptr && value->is_string() && !value->get_ref<const std::string&>().empty()) {
    const std::string ptr = entry_ptr + "/value";
    r.report(ptr, pointer::to_dotted(ptr) + " holds the Redis password in plain text: take it from a Secret with " +
                      "valueFrom.secretKeyRef instead");
  } else if (member(from, "configMapKeyRef") != nullptr) {
    r.report(entry_ptr, pointer::to_dotted(entry_ptr) +
                            " takes the Redis password from a ConfigMap, which is not secret: use "
                            "valueFrom.secretKeyRef instead");
  }
}

}  // namespace

extern const RuleInfo ray_redis_password{
    .name = "ray-redis-password",
    .default_action = Action::Warn,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary =
        "A static Ray head that stores GCS data in external Redis passes the Redis password, taken from a "
        "Secret.",
    .why =
        "For GCS fault tolerance without KubeRay, the Ray guide on static clusters has the head read the "
        "external Redis address from the `RAY_REDIS_ADDRESS` environment variable and the password from "
        "`ray start --head --redis-password`. Without the flag, a head in front of a password-protected Redis "
        "cannot store its metadata and fails to start; with the password written into the manifest, everyone "
        "who can read the Deployment (or its copy in Git) can read it too. An explicitly empty password "
        "(`--redis-password=''`, which Ray's example uses for a Redis without a password) is accepted: it "
        "discloses nothing. A password taken from an environment variable is accepted when that variable "
        "comes from a Secret (`valueFrom.secretKeyRef`), or from outside the container's `env` list; one "
        "set with a literal `value` or from a ConfigMap trips the rule. KubeRay clusters are checked by "
        "`kuberay-gcs-ft` instead.",
    .example =
        "containers:\n"
        "- name: ray-head\n"
        "  image: rayproject/ray:2.9.0\n"
        "  command: [\"/bin/bash\", \"-c\", \"--\"]\n"
        "  args: [\"ray start --head --redis-password=hunter2 --block\"]\n"
        "  env:\n"
        "  - name: RAY_REDIS_ADDRESS\n"
        "    value: redis:6379\n",
    .fix =
        "Read the password from a Secret:\n\n"
        "  args: [\"ray start --head --redis-password=$REDIS_PASSWORD --block\"]\n"
        "  env:\n"
        "  - name: RAY_REDIS_ADDRESS\n"
        "    value: redis:6379\n"
        "  - name: REDIS_PASSWORD\n"
        "    valueFrom:\n"
        "      secretKeyRef: {name: redis-password, key: password}\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
