#include "workload.h"

#include "json_pointer.h"

#include <algorithm>

namespace ray_admission {

std::string_view to_string(Kind k) {
  switch (k) {
    case Kind::RayCluster: return "RayCluster";
    case Kind::RayJob: return "RayJob";
    case Kind::RayService: return "RayService";
    case Kind::RayCronJob: return "RayCronJob";
    case Kind::Deployment: return "Deployment";
    case Kind::StatefulSet: return "StatefulSet";
    case Kind::DaemonSet: return "DaemonSet";
    case Kind::Job: return "Job";
    case Kind::Pod: return "Pod";
  }
  return "";
}

const Json* member(const Json* obj, std::string_view key) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  auto it = obj->find(key);
  return it == obj->end() ? nullptr : &*it;
}

const Json* member(const Json& obj, std::string_view key) { return member(&obj, key); }

const Json* Group::containers() const {
  const Json* c = member(pod_spec, "containers");
  return c != nullptr && c->is_array() ? c : nullptr;
}

std::string Group::containers_ptr() const { return pod_spec_ptr + "/containers"; }

const Json* Group::container() const {
  const Json* c = containers();
  if (c == nullptr || ray_container < 0 || static_cast<std::size_t>(ray_container) >= c->size()) return nullptr;
  return &(*c)[static_cast<std::size_t>(ray_container)];
}

namespace {

std::string json_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::optional<Param> Group::param(std::string_view name) const {
  if (start_params != nullptr) {
    const Json* v = member(start_params, name);
    if (v == nullptr) return std::nullopt;
    return Param{std::string(name), v, json_text(*v), pointer::child(start_params_ptr, name)};
  }
  if (ray_start) {
    const RayStartFlag* f = ray_start->find(name);
    if (f == nullptr) return std::nullopt;
    return Param{f->name, nullptr, f->value, ray_start->pointer};
  }
  return std::nullopt;
}

std::vector<Param> Group::params() const {
  std::vector<Param> out;
  if (start_params != nullptr && start_params->is_object()) {
    for (auto it = start_params->begin(); it != start_params->end(); ++it) {
      out.push_back(Param{it.key(), &it.value(), json_text(it.value()), pointer::child(start_params_ptr, it.key())});
    }
  } else if (ray_start) {
    for (const RayStartFlag& f : ray_start->flags) out.push_back(Param{f.name, nullptr, f.value, ray_start->pointer});
  }
  return out;
}

const Group* Workload::head() const {
  for (const Group& g : groups) {
    if (g.role == Role::Head) return &g;
  }
  return nullptr;
}

std::string_view Workload::name() const {
  const Json* n = member(member(object, "metadata"), "name");
  return n != nullptr && n->is_string() ? std::string_view(n->get_ref<const std::string&>()) : std::string_view();
}

namespace {

std::optional<Kind> kind_of(const Json& obj) {
  const Json* api = member(obj, "apiVersion");
  const Json* kind = member(obj, "kind");
  if (api == nullptr || kind == nullptr || !api->is_string() || !kind->is_string()) return std::nullopt;
  const std::string& a = api->get_ref<const std::string&>();
  const std::string& k = kind->get_ref<const std::string&>();
  if (a.rfind("ray.io/", 0) == 0) {
    if (k == "RayCluster") return Kind::RayCluster;
    if (k == "RayJob") return Kind::RayJob;
    if (k == "RayService") return Kind::RayService;
    if (k == "RayCronJob") return Kind::RayCronJob;
    return std::nullopt;
  }
  if (a == "apps/v1") {
    if (k == "Deployment") return Kind::Deployment;
    if (k == "StatefulSet") return Kind::StatefulSet;
    if (k == "DaemonSet") return Kind::DaemonSet;
  }
  if (a == "batch/v1" && k == "Job") return Kind::Job;
  if (a == "v1" && k == "Pod") return Kind::Pod;
  return std::nullopt;
}

void set_template(Group& g, const Json* tmpl, std::string tmpl_ptr) {
  g.pod_template = tmpl;
  g.template_ptr = std::move(tmpl_ptr);
  g.pod_spec = member(tmpl, "spec");
  g.pod_spec_ptr = g.template_ptr + "/spec";
}

Group kuberay_group(Role role, const Json& spec, std::string spec_ptr, std::string name) {
  Group g;
  g.role = role;
  g.name = std::move(name);
  g.spec = &spec;
  g.spec_ptr = std::move(spec_ptr);
  set_template(g, member(spec, "template"), g.spec_ptr + "/template");
  g.start_params = member(spec, "rayStartParams");
  if (g.start_params != nullptr && g.start_params->is_null()) g.start_params = nullptr;
  g.start_params_ptr = g.spec_ptr + "/rayStartParams";
  const Json* c = g.containers();
  g.ray_container = c != nullptr && !c->empty() ? 0 : -1;
  g.ray_container_ptr = g.pod_spec_ptr + "/containers/0";
  return g;
}

void add_cluster(Workload& w, const Json* cluster, std::string cluster_ptr) {
  if (cluster == nullptr || !cluster->is_object()) return;
  w.cluster = cluster;
  w.cluster_ptr = std::move(cluster_ptr);
  const Json* workers = member(cluster, "workerGroupSpecs");
  w.groups.reserve(1 + (workers != nullptr && workers->is_array() ? workers->size() : 0));
  if (const Json* head = member(cluster, "headGroupSpec"); head != nullptr && head->is_object()) {
    w.groups.push_back(kuberay_group(Role::Head, *head, w.cluster_ptr + "/headGroupSpec", "head"));
  }
  if (workers == nullptr || !workers->is_array()) return;
  const std::string workers_ptr = w.cluster_ptr + "/workerGroupSpecs";
  for (std::size_t i = 0; i < workers->size(); ++i) {
    const Json& spec = (*workers)[i];
    if (!spec.is_object()) continue;
    const Json* name = member(spec, "groupName");
    w.groups.push_back(kuberay_group(Role::Worker, spec, pointer::child(workers_ptr, i),
                                     name != nullptr && name->is_string() ? name->get<std::string>() : ""));
  }
}

// Pods whose template was already checked on their owner, or that KubeRay made.
bool is_owned_pod(const Json& pod) {
  const Json* meta = member(pod, "metadata");
  if (member(member(meta, "labels"), "ray.io/node-type") != nullptr) return true;
  const Json* owners = member(meta, "ownerReferences");
  if (owners == nullptr || !owners->is_array()) return false;
  for (const Json& o : *owners) {
    const Json* k = member(o, "kind");
    if (k == nullptr || !k->is_string()) continue;
    const std::string& s = k->get_ref<const std::string&>();
    if (s == "RayCluster" || s == "ReplicaSet" || s == "StatefulSet" || s == "Job" || s == "DaemonSet") return true;
  }
  return false;
}

void add_static(Workload& w, const Json* tmpl, std::string tmpl_ptr) {
  Group base;
  set_template(base, tmpl, std::move(tmpl_ptr));
  const Json* containers = base.containers();
  if (containers == nullptr) return;
  for (std::size_t i = 0; i < containers->size(); ++i) {
    std::string cptr = pointer::child(base.containers_ptr(), i);
    auto rs = find_ray_start((*containers)[i], cptr);
    if (!rs) continue;
    Group g = base;
    g.role = rs->head ? Role::Head : Role::Worker;
    const Json* name = member((*containers)[i], "name");
    g.name = name != nullptr && name->is_string() ? name->get<std::string>() : "";
    g.ray_container = static_cast<int>(i);
    g.ray_container_ptr = std::move(cptr);
    g.ray_start = std::move(rs);
    w.groups.push_back(std::move(g));
  }
  // The head first, like KubeRay kinds.
  std::stable_partition(w.groups.begin(), w.groups.end(), [](const Group& g) { return g.role == Role::Head; });
}

}  // namespace

std::optional<Workload> adapt(const Json& object) {
  if (!object.is_object()) return std::nullopt;
  auto kind = kind_of(object);
  if (!kind) return std::nullopt;
  Workload w;
  w.kind = *kind;
  w.object = &object;
  const Json* spec = member(object, "spec");
  switch (*kind) {
    case Kind::RayCluster:
      w.kuberay = true;
      add_cluster(w, spec, "/spec");
      break;
    case Kind::RayJob:
      w.kuberay = true;
      add_cluster(w, member(spec, "rayClusterSpec"), "/spec/rayClusterSpec");
      break;
    case Kind::RayService:
      w.kuberay = true;
      add_cluster(w, member(spec, "rayClusterConfig"), "/spec/rayClusterConfig");
      break;
    case Kind::RayCronJob:
      w.kuberay = true;
      add_cluster(w, member(member(spec, "jobTemplate"), "rayClusterSpec"), "/spec/jobTemplate/rayClusterSpec");
      break;
    case Kind::Deployment:
    case Kind::StatefulSet:
    case Kind::DaemonSet:
    case Kind::Job:
      add_static(w, member(spec, "template"), "/spec/template");
      if (w.groups.empty()) return std::nullopt;
      break;
    case Kind::Pod:
      if (is_owned_pod(object)) return std::nullopt;
      add_static(w, &object, "");
      if (w.groups.empty()) return std::nullopt;
      break;
  }
  return w;
}

}  // namespace ray_admission
