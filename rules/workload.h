// Adapters: every kind of object the engine understands, seen as the Ray pod templates in it.
//
// Rules never look at the raw object's layout. They get a Workload: the cluster spec (for
// KubeRay kinds), and one Group per Ray pod template with the JSON Pointer of each piece, so that
// a rule written once works on a RayCluster, on the cluster embedded in a RayJob, RayService or
// RayCronJob, and on a static cluster run as a Deployment. Nothing here copies the object.
#pragma once

#include "ray_start.h"
#include "types.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

enum class Kind { RayCluster, RayJob, RayService, RayCronJob, Deployment, StatefulSet, DaemonSet, Job, Pod };

std::string_view to_string(Kind k);

enum class Role { Head, Worker };

// One `rayStartParams` entry, or one `ray start --flag` of a static cluster.
struct Param {
  std::string name;
  const Json* value = nullptr;  // the JSON value (KubeRay); nullptr for a command-line flag
  std::string text;             // a JSON string's contents, another JSON value dumped, or the flag's value
  std::string pointer;          // the entry (KubeRay) or the command word that holds it (static)
  bool is_flag() const { return value == nullptr; }
};

struct Group {
  Role role = Role::Worker;
  std::string name;  // "head", the worker groupName, or the static container's name

  // KubeRay only: the HeadGroupSpec / WorkerGroupSpec, and its pointer.
  const Json* spec = nullptr;
  std::string spec_ptr;

  // The PodTemplateSpec (for a bare Pod, the Pod itself) and its pod spec.
  const Json* pod_template = nullptr;
  std::string template_ptr;
  const Json* pod_spec = nullptr;  // may be nullptr when the template has no spec
  std::string pod_spec_ptr;

  // The Ray container: containers[0] for KubeRay (RayContainerIndex), the container that runs
  // `ray start` for static clusters; -1 when the template has no containers.
  int ray_container = -1;
  // Its pointer (where containers[0] would be when there is none), set by the adapter with
  // ray_container: rules ask for it often enough that building it each time showed up.
  std::string ray_container_ptr;

  // KubeRay: rayStartParams (nullptr when absent) and where it is or would be.
  const Json* start_params = nullptr;
  std::string start_params_ptr;
  // Static clusters: the parsed `ray start` command.
  std::optional<RayStart> ray_start;

  const Json* container() const;  // the Ray container, or nullptr
  const std::string& container_ptr() const { return ray_container_ptr; }
  const Json* containers() const;  // pod_spec.containers when it is an array, or nullptr
  std::string containers_ptr() const;

  // rayStartParams entries or `ray start` flags, by name.
  std::optional<Param> param(std::string_view name) const;
  std::vector<Param> params() const;
};

struct Workload {
  Kind kind = Kind::RayCluster;
  const Json* object = nullptr;
  bool kuberay = false;  // a ray.io kind, as opposed to a static cluster

  // KubeRay: the RayClusterSpec and its pointer ("/spec", "/spec/rayClusterSpec", ...).
  // nullptr for static clusters and for a RayJob that uses clusterSelector.
  const Json* cluster = nullptr;
  std::string cluster_ptr;

  std::vector<Group> groups;  // the head first, when there is one

  const Group* head() const;
  std::string_view name() const;  // metadata.name, or "" when absent
};

// nullopt when the object is nothing the engine looks at (not a Ray workload, a static pod
// template without `ray start`, or a Pod that KubeRay or a controller owns).
std::optional<Workload> adapt(const Json& object);

// Small accessors for rules: the member if `obj` is an object that has it, else nullptr.
const Json* member(const Json* obj, std::string_view key);
const Json* member(const Json& obj, std::string_view key);

}  // namespace ray_admission
