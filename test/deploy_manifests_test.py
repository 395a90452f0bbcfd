#!/usr/bin/python3
"""`ray-admission manifests`: its output parses, its fields are right, and it is what the Helm
chart renders with the same settings (same defaults, same rules, same CEL).

Usage: deploy_manifests_test.py path/to/ray-admission SOURCE_DIR
"""

import base64
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

BINARY = None
SOURCE = None
chart = None  # test/deploy_chart_test.py, for its chart renderer

CORPUS = os.environ.get("RAY_ADMISSION_CORPUS", "/work/shared/corpus")


def run(*args):
    return subprocess.run([BINARY, "manifests", *args], capture_output=True, text=True)


def runs_ray_start(pod_spec):
    """A line-for-line reading of the runs-ray-start CEL expression (see EXPRESSION below)."""
    def any_word(c, needle):
        return (("command" in c and any(needle in w for w in c["command"]))
                or ("args" in c and any(needle in w for w in c["args"])))
    return any(any_word(c, "ray") and any_word(c, "start") for c in pod_spec.get("containers", []))


EXPRESSION = ("{spec}.containers.exists(c, ((has(c.command) && c.command.exists(w, w.contains('ray'))) || "
              "(has(c.args) && c.args.exists(w, w.contains('ray')))) && ((has(c.command) && "
              "c.command.exists(w, w.contains('start'))) || (has(c.args) && c.args.exists(w, w.contains('start')))))")


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = os.path.join(cls.tmp.name, "certs")
        r = subprocess.run([BINARY, "certs", "--service", "ray-admission", "--namespace", "ray-system",
                            "--out", cls.certs], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.ca_file = os.path.join(cls.certs, "ca.crt")
        with open(cls.ca_file, "rb") as f:
            cls.ca_pem = f.read()
        cls.bundle = base64.b64encode(cls.ca_pem).decode()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def manifests(self, *extra, service="ray-admission", ns="ray-system"):
        r = run("--service", service, "--namespace", ns, "--ca-bundle", self.ca_file, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        docs = [d for d in yaml.safe_load_all(r.stdout) if d is not None]
        self.assertEqual([d["kind"] for d in docs], ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"])
        return docs

    def chart_webhooks(self, values, release="ray-admission", ns="ray-system"):
        values = chart._merge({"certs": {"mode": "secret", "secret": {"name": "tls", "caBundle": self.bundle}}}, values)
        objs = chart.render_objects(os.path.join(SOURCE, "charts", "ray-admission"), values=values,
                                    release=release, namespace=ns)
        return [chart.one(objs, "ValidatingWebhookConfiguration"), chart.one(objs, "MutatingWebhookConfiguration")]

    def assertSameAsChart(self, docs, chart_docs):
        for mine, theirs in zip(docs, chart_docs):
            self.assertEqual(mine["apiVersion"], theirs["apiVersion"])
            self.assertEqual(mine["kind"], theirs["kind"])
            self.assertEqual(mine["metadata"]["name"], theirs["metadata"]["name"])
            self.assertEqual(len(mine["webhooks"]), len(theirs["webhooks"]))
            for a, b in zip(mine["webhooks"], theirs["webhooks"]):
                self.assertEqual(a, b, json.dumps(a, indent=1) + "\n!=\n" + json.dumps(b, indent=1))

    def test_defaults(self):
        v, m = self.manifests()
        for cfg in (v, m):
            self.assertEqual(cfg["apiVersion"], "admissionregistration.k8s.io/v1")
            self.assertEqual(cfg["metadata"]["name"], "ray-admission")
            self.assertNotIn("namespace", cfg["metadata"])
            self.assertEqual(len(cfg["webhooks"]), 1)
        for w, verb, policy in ((v["webhooks"][0], "validate", "Fail"), (m["webhooks"][0], "mutate", "Ignore")):
            self.assertEqual(w["name"], "kuberay.%s.ray-admission.io" % verb)
            self.assertEqual(w["clientConfig"]["service"],
                             {"name": "ray-admission", "namespace": "ray-system", "path": "/" + verb, "port": 443})
            self.assertEqual(base64.b64decode(w["clientConfig"]["caBundle"]), self.ca_pem)
            self.assertEqual(w["failurePolicy"], policy)
            self.assertEqual(w["sideEffects"], "None")
            self.assertEqual(w["admissionReviewVersions"], ["v1", "v1beta1"])
            self.assertEqual(w["timeoutSeconds"], 5)
            self.assertEqual(w["matchPolicy"], "Equivalent")
            self.assertEqual(w["rules"], [{"apiGroups": ["ray.io"], "apiVersions": ["v1", "v1alpha1"],
                                           "operations": ["CREATE", "UPDATE"],
                                           "resources": ["rayclusters", "rayjobs", "rayservices", "raycronjobs"],
                                           "scope": "Namespaced"}])
            self.assertEqual(w["namespaceSelector"]["matchExpressions"],
                             [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                               "values": ["kube-system", "kube-node-lease", "ray-system"]}])
            self.assertNotIn("matchConditions", w)
        self.assertEqual(m["webhooks"][0]["reinvocationPolicy"], "IfNeeded")
        self.assertNotIn("reinvocationPolicy", v["webhooks"][0])

    def test_defaults_match_the_chart(self):
        self.assertSameAsChart(self.manifests(), self.chart_webhooks({}))

    def test_static_clusters_match_the_chart(self):
        docs = self.manifests("--static-clusters", "--exclude-namespace", "monitoring")
        self.assertSameAsChart(docs, self.chart_webhooks({"webhook": {"staticClusters": {"enabled": True},
                                                                      "excludeNamespaces": ["monitoring"]}}))
        for cfg, verb in zip(docs, ("validate", "mutate")):
            hooks = {w["name"].split(".")[0]: w for w in cfg["webhooks"]}
            self.assertEqual(sorted(hooks), ["kuberay", "pods", "workloads"])
            self.assertEqual(hooks["workloads"]["matchConditions"],
                             [{"name": "runs-ray-start", "expression": EXPRESSION.format(spec="object.spec.template.spec")}])
            self.assertEqual(hooks["pods"]["matchConditions"][0]["expression"], EXPRESSION.format(spec="object.spec"))
            self.assertEqual(hooks["workloads"]["rules"],
                             [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                               "resources": ["deployments", "statefulsets", "daemonsets"], "scope": "Namespaced"},
                              {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE"],
                               "resources": ["jobs"], "scope": "Namespaced"}])
            self.assertEqual(hooks["pods"]["rules"], [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                                       "resources": ["pods"], "scope": "Namespaced"}])
            for w in cfg["webhooks"]:
                self.assertEqual(w["namespaceSelector"]["matchExpressions"][0]["values"],
                                 ["kube-system", "kube-node-lease", "ray-system", "monitoring"])
                self.assertEqual(w["clientConfig"]["service"]["path"], "/" + verb)

    def test_options_match_the_chart_values(self):
        docs = self.manifests("--validating-failure-policy", "Ignore", "--mutating-failure-policy", "Fail",
                              "--timeout-seconds", "10", "--port", "8443", service="prod-ray-admission", ns="webhooks")
        self.assertSameAsChart(docs, self.chart_webhooks(
            {"webhook": {"validating": {"failurePolicy": "Ignore"}, "mutating": {"failurePolicy": "Fail"},
                         "timeoutSeconds": 10}, "service": {"port": 8443}}, release="prod", ns="webhooks"))
        self.assertEqual(docs[0]["webhooks"][0]["failurePolicy"], "Ignore")
        self.assertEqual(docs[1]["webhooks"][0]["failurePolicy"], "Fail")

    def test_all_matches_the_chart(self):
        r = run("--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file, "--all",
                "--image", "registry.example/ray-admission:1.2.3")
        self.assertEqual(r.returncode, 0, r.stderr)
        docs = [d for d in yaml.safe_load_all(r.stdout) if d is not None]
        self.assertEqual([d["kind"] for d in docs],
                         ["ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget",
                          "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"])
        objs = chart.render_objects(os.path.join(SOURCE, "charts", "ray-admission"), values={
            "certs": {"mode": "secret", "secret": {"name": "ray-admission-tls", "caBundle": self.bundle}},
            "image": {"repository": "registry.example/ray-admission", "tag": "1.2.3"}})
        for mine in docs:
            theirs = chart.one(objs, mine["kind"])
            with self.subTest(kind=mine["kind"]):
                self.assertEqual(mine["metadata"]["name"], theirs["metadata"]["name"])
                self.assertEqual(mine["metadata"].get("namespace"), theirs["metadata"].get("namespace"))
                for field in ("spec", "data", "automountServiceAccountToken", "webhooks"):
                    self.assertEqual(mine.get(field), theirs.get(field), field)
        self.assertEqual(chart.one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
                         "ray-admission-tls")
        # --image and --secret only make sense with --all.
        self.assertEqual(run("--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file,
                             "--image", "x:1").returncode, 2)

    def test_name_option(self):
        v, m = self.manifests("--name", "ray-webhooks")
        self.assertEqual(v["metadata"]["name"], "ray-webhooks")
        self.assertEqual(v["webhooks"][0]["clientConfig"]["service"]["name"], "ray-admission")

    def test_match_conditions_cover_what_the_engine_calls_ray_start(self):
        # Pods the engine reads as running `ray start` must pass runs-ray-start (else the API server
        # would never send them); a pod without Ray must not (else every pod reaches the webhook).
        def pod(**container):
            return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"containers": [dict(name="c", image="rayproject/ray:2.9.0", **container)]}}
        ray_pods = [
            pod(command=["ray", "start", "--head", "--block"]),
            pod(command=["/home/ray/anaconda3/bin/ray"], args=["start", "--address=head:6379", "--block"]),
            pod(command=["/bin/bash", "-c", "--"], args=["ulimit -n 65536; ray start --head --num-cpus=$CPUS --block"]),
            pod(command=["bash", "-lc", "ray start --head && sleep infinity"]),
            pod(args=["ray start --block --address=$HEAD:6379"]),
        ]
        other_pods = [pod(command=["nginx", "-g", "daemon off;"]), pod(), pod(command=["python", "serve.py"])]
        self.assertEqual([self.engine_recognises(p) for p in ray_pods], [True] * len(ray_pods))
        self.assertEqual([self.engine_recognises(p) for p in other_pods], [False] * len(other_pods))
        for p in ray_pods:
            self.assertTrue(runs_ray_start(p["spec"]), p)
        for p in other_pods:
            self.assertFalse(runs_ray_start(p["spec"]), p)

    def test_match_conditions_cover_the_static_corpus(self):
        static = os.path.join(CORPUS, "static")
        if not os.path.isdir(static):
            self.skipTest("no corpus at %s (set RAY_ADMISSION_CORPUS)" % CORPUS)
        seen = 0
        for root, _, files in os.walk(static):
            for name in sorted(files):
                if not name.endswith((".yaml", ".yml")):
                    continue
                path = os.path.join(root, name)
                r = subprocess.run([BINARY, "check", "--format", "json", path], capture_output=True, text=True)
                self.assertIn(r.returncode, (0, 1), r.stderr)
                results = json.loads(r.stdout)["results"]
                with open(path) as f:
                    docs = [d for d in yaml.safe_load_all(f)]
                for res in results:
                    doc = docs[res["document"]]
                    if not res["recognised"] or res["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"):
                        continue
                    spec = doc["spec"] if res["kind"] == "Pod" else doc["spec"]["template"]["spec"]
                    with self.subTest(file=name, document=res["document"]):
                        self.assertTrue(runs_ray_start(spec))
                    seen += 1
        self.assertGreater(seen, 0, "no static Ray cluster found in " + static)

    def engine_recognises(self, obj):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(obj, f)
            f.flush()
            r = subprocess.run([BINARY, "check", "--format", "json", f.name], capture_output=True, text=True)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)["results"][0]["recognised"]

    def test_errors(self):
        bad_pem = os.path.join(self.tmp.name, "bad.pem")
        with open(bad_pem, "w") as f:
            f.write("not a certificate\n")
        cases = [
            [],
            ["--service", "ray-admission", "--namespace", "ray-system"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", "/nonexistent/ca.crt"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", bad_pem],
            ["--service", "Ray", "--namespace", "ray-system", "--ca-bundle", self.ca_file],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file,
             "--validating-failure-policy", "fail"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file,
             "--timeout-seconds", "31"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file, "--port", "0"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file,
             "--exclude-namespace", "Bad_NS"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--ca-bundle", self.ca_file, "--what"],
        ]
        for args in cases:
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertEqual(r.stdout, "")

    def test_a_leaf_as_bundle_is_allowed_with_a_note(self):
        r = run("--service", "ray-admission", "--namespace", "ray-system",
                "--ca-bundle", os.path.join(self.certs, "tls.crt"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not a CA certificate", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: deploy_manifests_test.py path/to/ray-admission SOURCE_DIR")
    BINARY, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    spec = importlib.util.spec_from_file_location("deploy_chart_test", os.path.join(SOURCE, "test", "deploy_chart_test.py"))
    chart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chart)
    unittest.main(argv=sys.argv[:1], verbosity=2)
