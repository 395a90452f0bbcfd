#!/usr/bin/python3
"""`ray-admission check`, `rules` and `explain` as a user sees them: output lines, exit codes, JSON, --fix.

Usage: /usr/bin/python3 test/cli_test.py BINARY SOURCE_DIR   (CTest runs it as py.cli_test)

The fixtures are written to satisfy every documented rule, so that the findings asserted here come
from the one fault each test puts in (a preStop hook that does not run `ray stop`: rule ray-prestop,
which warns, denies under --profile strict, and whose mutation adds a missing hook).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_yaml  # noqa: E402  pylint: disable=wrong-import-position

BINARY = None

CONTAINER = """\
        - name: {name}
          image: rayproject/ray:2.9.0
          resources:
            limits: {{cpu: "1", memory: 2Gi}}
            requests: {{cpu: "1", memory: 2Gi}}
"""
PRESTOP = """\
          lifecycle:
            preStop:
              exec:
                command: [/bin/sh, -c, {command}]
"""


HEAD = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: {name}
spec:
  rayVersion: "2.9.0"
  headGroupSpec:
    rayStartParams:
      dashboard-host: "0.0.0.0"
    template:
      spec:
        containers:
"""
WORKERS = """\
  workerGroupSpecs:
  - groupName: small
    replicas: 1
    minReplicas: 1
    maxReplicas: 2
    rayStartParams: {}
    template:
      spec:
        containers:
"""


def raycluster(name="demo", head_prestop="ray stop", worker_prestop="ray stop"):
    """A RayCluster that follows the Ray docs; a *_prestop of None leaves that hook out."""
    text = HEAD.format(name=name) + CONTAINER.format(name="ray-head")
    if head_prestop is not None:
        text += PRESTOP.format(command=json.dumps(head_prestop))
    text += WORKERS + CONTAINER.format(name="ray-worker")
    if worker_prestop is not None:
        text += PRESTOP.format(command=json.dumps(worker_prestop))
    return text


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: "0777"
  enabled: "on"
  text: |
    two
    lines
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: head
spec:
  ports:
  - port: 6379
    name: gcs
"""


def line_of(text, needle, nth=1):
    """1-based line and column of the nth occurrence of `needle` (a key, at its first character)."""
    seen = 0
    for n, line in enumerate(text.splitlines(), 1):
        col = line.find(needle)
        if col >= 0:
            seen += 1
            if seen == nth:
                return n, col + 1
    raise AssertionError("%r not in text" % needle)


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ray-admission-cli-")
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text, mode="w"):
        path = os.path.join(self.tmp.name, name)
        with open(path, mode) as f:
            f.write(text)
        return path

    def run_cli(self, *args, stdin=None):
        p = subprocess.run([BINARY] + list(args), input=stdin.encode() if isinstance(stdin, str) else stdin,
                           capture_output=True, timeout=60, check=False)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def check_json(self, *args, stdin=None):
        rc, out, err = self.run_cli("check", "--format", "json", *args, stdin=stdin)
        self.assertIn(rc, (0, 1), err)
        return rc, json.loads(out)

    # -- sanity of the fixtures: clean under every rule --------------------------------------------

    def test_clean_fixtures_have_no_findings_and_no_patch(self):
        path = self.write("clean.yaml", raycluster() + "---\n" + CONFIGMAP + "---\n" + SERVICE)
        rc, doc = self.check_json(path)
        self.assertEqual(rc, 0)
        self.assertEqual([r["kind"] for r in doc["results"]], ["RayCluster", "ConfigMap", "Service"])
        for r in doc["results"]:
            self.assertEqual(r["findings"], [], r)
            self.assertEqual(r["patch"], [], r)
            self.assertTrue(r["allowed"])
        rc, out, err = self.run_cli("check", path)
        self.assertEqual((rc, out, err), (0, "3 documents checked: 0 denials, 0 warnings\n", ""))

    # -- text output ---------------------------------------------------------------------------------

    def test_text_lines_point_at_the_finding(self):
        # Two documents: line numbers count from the top of the file, not of the document.
        text = CONFIGMAP + "---\n" + raycluster(worker_prestop="sleep 5")
        path = self.write("warn.yaml", text)
        rc, out, err = self.run_cli("check", path)
        self.assertEqual(err, "")
        self.assertEqual(rc, 0, out)
        lines = out.splitlines()
        line, col = line_of(text, "preStop:", nth=2)  # the worker's hook
        self.assertEqual(len(lines), 2, out)
        self.assertRegex(lines[0], r"^%s:%d:%d: warn \[ray-prestop\] " % (re.escape(path), line, col))
        self.assertIn("spec.workerGroupSpecs[0].template.spec.containers[0].lifecycle.preStop", lines[0])
        self.assertIn("ray stop", lines[0])
        self.assertEqual(lines[1], "2 documents checked: 0 denials, 1 warning")

    def test_every_line_has_the_compiler_shape(self):
        text = raycluster(head_prestop="sleep 1", worker_prestop="sleep 2")
        path = self.write("two.yaml", text)
        rc, out, _ = self.run_cli("check", "--profile", "strict", path)
        self.assertEqual(rc, 1)
        *findings, summary = out.splitlines()
        self.assertEqual(len(findings), 2)
        for f in findings:
            self.assertRegex(f, r"^[^:]+:\d+:\d+: (deny|warn) \[[a-z0-9-]+\] \S.*$")
        self.assertEqual([int(f.split(":")[1]) for f in findings],
                         [line_of(text, "preStop:", 1)[0], line_of(text, "preStop:", 2)[0]])
        self.assertEqual(summary, "1 document checked: 2 denials, 0 warnings")

    def test_profiles(self):
        path = self.write("warn.yaml", raycluster(head_prestop="sleep 5"))
        rc, out, _ = self.run_cli("check", "--profile", "strict", path)
        self.assertEqual(rc, 1)
        self.assertIn(": deny [ray-prestop] ", out)
        self.assertTrue(out.endswith("1 document checked: 1 denial, 0 warnings\n"), out)
        rc, out, _ = self.run_cli("check", "--profile", "audit", path)
        self.assertEqual(rc, 0)
        self.assertIn(": warn [ray-prestop] ", out)
        # The policy makes the rule deny; audit still never denies; the command line wins over the file.
        policy = self.write("policy.yaml", "rules:\n  ray-prestop: deny\n")
        rc, out, _ = self.run_cli("check", "--policy", policy, path)
        self.assertEqual(rc, 1)
        self.assertIn(": deny [ray-prestop] ", out)
        rc, out, _ = self.run_cli("check", "--policy", policy, "--profile", "audit", path)
        self.assertEqual(rc, 0)
        self.assertIn(": warn [ray-prestop] ", out)
        off = self.write("off.yaml", "rules:\n  ray-prestop: off\n")
        rc, out, _ = self.run_cli("check", "--policy", off, "--profile", "strict", path)
        self.assertEqual((rc, out), (0, "1 document checked: 0 denials, 0 warnings\n"))
        rc, out, err = self.run_cli("check", "--profile", "paranoid", path)
        self.assertEqual(rc, 2)
        self.assertIn("paranoid", err)

    def test_non_ray_documents_pass_silently(self):
        text = CONFIGMAP + "---\n" + SERVICE + "---\n# just a comment\n---\n" + \
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n" \
            "      containers:\n      - name: nginx\n        image: nginx\n"
        path = self.write("plain.yaml", text)
        rc, out, err = self.run_cli("check", path)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"^\d+ documents checked: 0 denials, 0 warnings\n$")
        rc, doc = self.check_json(path)
        for r in doc["results"]:
            self.assertEqual((r["allowed"], r["findings"], r["patch"]), (True, [], []))

    def test_stdin(self):
        text = raycluster(head_prestop="sleep 5")
        rc, out, _ = self.run_cli("check", "-", stdin=text)
        self.assertEqual(rc, 0)
        self.assertRegex(out.splitlines()[0], r"^<stdin>:%d:%d: warn \[ray-prestop\] " % line_of(text, "preStop:"))
        rc, doc = self.check_json("-", stdin=text)
        self.assertEqual(doc["results"][0]["file"], "<stdin>")

    def test_several_files_and_the_exit_status_of_the_worst(self):
        a = self.write("a.yaml", raycluster(name="a"))
        b = self.write("b.yaml", raycluster(name="b", head_prestop="sleep 5"))
        policy = self.write("p.yaml", "rules:\n  ray-prestop: deny\n")
        rc, doc = self.check_json("--policy", policy, a, b)
        self.assertEqual(rc, 1)
        self.assertEqual([(r["file"], r["name"], r["allowed"]) for r in doc["results"]],
                         [(a, "a", True), (b, "b", False)])
        rc, out, _ = self.run_cli("check", "--policy", policy, a, b)
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith(b + ":"), out)
        self.assertTrue(out.endswith("2 documents checked: 1 denial, 0 warnings\n"), out)

    def test_kubectl_list_output_is_checked_item_by_item(self):
        # `kubectl get rayclusters -o yaml` prints one `kind: List` document holding the objects.
        def item(text):
            return "".join("  " + ("- " if n == 0 else "  ") + line + "\n" if line else "\n"
                           for n, line in enumerate(text.splitlines()))
        text = "apiVersion: v1\nkind: List\nitems:\n" + item(raycluster(name="a")) + \
            item(raycluster(name="b", head_prestop="sleep 5", worker_prestop=None)) + \
            "metadata:\n  resourceVersion: \"\"\n"
        path = self.write("list.yaml", text)
        rc, out, _ = self.run_cli("check", "--profile", "strict", path)
        self.assertEqual(rc, 1)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertRegex(lines[0], r"^%s:%d:%d: deny \[ray-prestop\] " % ((re.escape(path),) + line_of(text, "preStop:", 3)))
        self.assertEqual(lines[1], "2 documents checked: 1 denial, 0 warnings")
        rc, doc = self.check_json(path)
        self.assertEqual([(r["document"], r.get("item"), r["name"]) for r in doc["results"]], [(0, 0, "a"), (0, 1, "b")])
        self.assertEqual(doc["results"][1]["patch"][0]["path"],
                         "/spec/workerGroupSpecs/0/template/spec/containers/0/lifecycle")  # against the item
        rc, out, err = self.run_cli("check", "--fix", path)
        self.assertEqual(rc, 0, err)
        [fixed] = k8s_yaml.load_all(out)
        self.assertEqual(fixed["kind"], "List")
        self.assertEqual(fixed["items"][0], k8s_yaml.load(raycluster(name="a")))
        worker = fixed["items"][1]["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
        self.assertEqual(worker["lifecycle"]["preStop"]["exec"]["command"], ["/bin/sh", "-c", "ray stop"])
        self.assertEqual(self.run_cli("check", "--fix", "-", stdin=out)[1], out)

    # -- exit status 2 -------------------------------------------------------------------------------

    def test_unreadable_input(self):
        good = self.write("good.yaml", raycluster())
        missing = os.path.join(self.tmp.name, "missing.yaml")
        rc, out, err = self.run_cli("check", good, missing)
        self.assertEqual((rc, out), (2, ""))  # nothing is reported before every file is read
        self.assertIn(missing, err)
        self.assertIn("cannot read", err)
        rc, out, err = self.run_cli("check", self.tmp.name)  # a directory
        self.assertEqual(rc, 2)
        self.assertIn(self.tmp.name, err)

    def test_invalid_yaml_names_file_and_line(self):
        text = raycluster() + "---\nkind: Broken\nspec: [1, 2\nmore: x\n"
        path = self.write("broken.yaml", text)
        for fmt in ([], ["--format", "json"], ["--fix"]):
            rc, out, err = self.run_cli("check", *fmt, path)
            self.assertEqual((rc, out), (2, ""), fmt)
            m = re.match(r"^%s:(\d+):(\d+): error: invalid YAML: \S" % re.escape(path), err)
            self.assertTrue(m, err)
            broken_line = line_of(text, "spec: [1, 2")[0]
            self.assertIn(int(m.group(1)), (broken_line, broken_line + 1), err)
        latin1 = self.write("latin1.yaml", b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: caf\xe9\n", mode="wb")
        rc, out, err = self.run_cli("check", "--format", "json", latin1)
        self.assertEqual((rc, out), (2, ""))
        self.assertRegex(err, r"^%s:4:\d+: error: invalid YAML: invalid UTF-8" % re.escape(latin1))

    def test_bad_policy_names_file_and_line(self):
        path = self.write("ok.yaml", raycluster())
        cases = {
            "unknown rule": ("profile: strict\nrules:\n  ray-prestp: deny\n", 3, "unknown rule 'ray-prestp'"),
            "bad action": ("rules:\n  ray-prestop: block\n", 2, "deny, warn or off"),
            "unknown key": ("profile: strict\nrulez: {}\n", 2, "unknown key 'rulez'"),
            "bad yaml": ("rules:\n  ray-prestop: [deny\n", None, ""),
            "unknown mutation": ("mutations:\n  nope: on\n", 2, "unknown rule 'nope'"),
        }
        for what, (text, line, msg) in cases.items():
            policy = self.write("policy.yaml", text)
            rc, out, err = self.run_cli("check", "--policy", policy, path)
            self.assertEqual((rc, out), (2, ""), what)
            m = re.match(r"^%s:(\d+):(\d+): " % re.escape(policy), err)
            self.assertTrue(m, "%s: %s" % (what, err))
            if line is not None:
                self.assertEqual(int(m.group(1)), line, what + ": " + err)
            self.assertIn(msg, err, what)
        rc, out, err = self.run_cli("check", "--policy", os.path.join(self.tmp.name, "nope.yaml"), path)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("nope.yaml: cannot read", err)
        rc, out, err = self.run_cli("check", "--policy", self.tmp.name, path)  # a directory
        self.assertEqual((rc, out), (2, ""))
        self.assertIn(self.tmp.name + ": cannot read", err)

    def test_usage_errors(self):
        path = self.write("ok.yaml", raycluster())
        for args in (["check"], ["check", "--bogus", path], ["check", "--format", "xml", path],
                     ["check", "--fix", "--format", "json", path], ["check", "--policy"], ["frobnicate"], []):
            rc, out, err = self.run_cli(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, "", args)
            self.assertIn("usage", err, args)

    # -- JSON ----------------------------------------------------------------------------------------

    def test_json_shape(self):
        text = raycluster(head_prestop="sleep 5", worker_prestop=None) + "---\n" + CONFIGMAP
        path = self.write("shape.yaml", text)
        rc, doc = self.check_json(path)
        self.assertEqual(rc, 0)
        self.assertEqual(list(doc.keys()), ["results"])
        self.assertEqual(len(doc["results"]), 2)
        required = {"file", "document", "apiVersion", "kind", "name", "allowed", "findings", "patch"}
        finding_keys = {"rule", "action", "path", "pointer", "line", "column", "message"}
        for i, r in enumerate(doc["results"]):
            self.assertLessEqual(required, set(r), r)
            self.assertEqual((r["file"], r["document"]), (path, i))
            self.assertIsInstance(r["allowed"], bool)
            self.assertIsInstance(r["findings"], list)
            self.assertIsInstance(r["patch"], list)
            for f in r["findings"]:
                self.assertLessEqual(finding_keys, set(f))
                self.assertIn(f["action"], ("deny", "warn"))
                for k in ("line", "column"):
                    self.assertIsInstance(f[k], int)
                    self.assertGreaterEqual(f[k], 1)
                self.assertLessEqual(len(f["message"]), 256)
        ray, cm = doc["results"]
        self.assertEqual((ray["apiVersion"], ray["kind"], ray["name"]), ("ray.io/v1", "RayCluster", "demo"))
        self.assertEqual((cm["apiVersion"], cm["kind"], cm["name"]), ("v1", "ConfigMap", "settings"))
        self.assertEqual(cm["patch"], [])
        [f] = ray["findings"]
        self.assertEqual(f["rule"], "ray-prestop")
        self.assertEqual(f["action"], "warn")
        self.assertEqual(f["pointer"], "/spec/headGroupSpec/template/spec/containers/0/lifecycle/preStop")
        self.assertEqual(f["path"], "spec.headGroupSpec.template.spec.containers[0].lifecycle.preStop")
        self.assertEqual((f["line"], f["column"]), line_of(text, "preStop:"))
        # The worker has no hook: the patch adds one (an RFC 6902 op on an escaped pointer).
        self.assertEqual(ray["patch"], [{
            "op": "add", "path": "/spec/workerGroupSpecs/0/template/spec/containers/0/lifecycle",
            "value": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}}}])

    # -- --fix ---------------------------------------------------------------------------------------

    def test_fix_writes_every_document_in_order(self):
        docs_text = [CONFIGMAP, raycluster(name="nohook", head_prestop=None, worker_prestop=None), SERVICE,
                     raycluster(name="clean")]
        text = "---\n".join(docs_text)
        path = self.write("fix.yaml", text)
        rc, out, err = self.run_cli("check", "--fix", path)
        self.assertEqual(rc, 0, err)
        before = k8s_yaml.load_all(text)
        after = k8s_yaml.load_all(out)
        self.assertEqual(len(after), 4)
        self.assertEqual(after[0], before[0])  # non-Ray: the same content ("0777" and "on" stay strings)
        self.assertEqual(after[2], before[2])
        self.assertEqual(after[3], before[3])  # clean: the same content
        fixed = after[1]
        for c in (fixed["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0],
                  fixed["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]):
            self.assertEqual(c["lifecycle"], {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}})
        # Nothing but the hooks changed.
        for c in (fixed["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0],
                  fixed["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]):
            del c["lifecycle"]
        self.assertEqual(fixed, before[1])
        # The findings go to stderr, with a summary.
        err_lines = err.splitlines()
        self.assertEqual(len([x for x in err_lines if "fixed [ray-prestop]" in x]), 2, err)
        self.assertRegex(err_lines[-1], r"^4 documents checked: 0 denials, 0 warnings, 2 fixed$")
        # Twice changes nothing.
        rc, again, err = self.run_cli("check", "--fix", "-", stdin=out)
        self.assertEqual(rc, 0)
        self.assertEqual(again, out)
        self.assertTrue(err.endswith("0 fixed\n"), err)

    def test_fix_keeps_denials_and_their_exit_status(self):
        path = self.write("deny.yaml", raycluster(head_prestop="sleep 5", worker_prestop=None))
        rc, out, err = self.run_cli("check", "--fix", "--profile", "strict", path)
        self.assertEqual(rc, 1)  # the mutation cannot fix a hook that exists
        self.assertIn(": deny [ray-prestop] ", err)
        self.assertIn(": fixed [ray-prestop] ", err)
        self.assertNotIn("deny", out)
        self.assertEqual(len(k8s_yaml.load_all(out)), 1)

    def test_fix_mutation_off_in_policy(self):
        path = self.write("nohook.yaml", raycluster(head_prestop=None))
        policy = self.write("p.yaml", "mutations:\n  ray-prestop: off\n")
        rc, out, err = self.run_cli("check", "--fix", "--policy", policy, path)
        self.assertEqual(rc, 0)
        self.assertEqual(k8s_yaml.load_all(out), k8s_yaml.load_all(raycluster(head_prestop=None)))
        self.assertNotIn("fixed [", err)
        rc, doc = self.check_json("--policy", policy, path)
        self.assertEqual(doc["results"][0]["patch"], [])

    def test_fix_keeps_what_kubectl_would_read(self):
        # Octal, hex, quoted look-alikes, booleans, multi-line strings, unicode: the fixed output reads
        # the same to kubectl as the input.
        text = raycluster(head_prestop=None).replace(
            "metadata:\n  name: demo\n",
            "metadata:\n  name: demo\n  annotations:\n    a: \"0777\"\n    b: 'true'\n    c: \"caf\u00e9 \u2603\"\n"
            "    d: |\n      line one\n        indented\n    e: \"\"\n    f: \"- x\"\n    g: \"1e3\"\n") \
            .replace("rayStartParams: {}", "rayStartParams: {}\n    numOfHosts: 0x1")
        path = self.write("types.yaml", text)
        rc, out, err = self.run_cli("check", "--fix", path)
        self.assertIn(rc, (0, 1), err)
        fixed = k8s_yaml.load(out)
        original = k8s_yaml.load(text)
        self.assertEqual(fixed["metadata"], original["metadata"])
        self.assertEqual(fixed["spec"]["workerGroupSpecs"][0]["numOfHosts"], 1)

    def test_fix_types_plain_scalars_as_kubectl(self):
        # --fix prints every document through the tool's YAML reader and writer; read back the way
        # kubectl reads YAML (test/k8s_yaml.py, written independently), nothing may change.
        scalars = ["0777", "0644", "0x1F", "-0b11", "0o17", "1_000", "1e3", "2.0", ".5", "08", "-0", "+7", "y", "n",
                   "Yes", "on", "OFF", "~", "null", "", "1:30", "2024-01-01", "1.2.3", "v1", "0x", "-x", "--flag",
                   "9223372036854775807", "18446744073709551615", "'quoted 1'", '"true"', "caf\u00e9"]
        text = "kind: Anything\nplain:\n" + "".join("  k%d: %s\n" % (i, v) for i, v in enumerate(scalars)) + \
            "list: [%s]\n" % ", ".join(v for v in scalars if v) + \
            "base: &b {x: 1, z: 2}\nmerged:\n  <<: *b\n  z: 3\non: a key kubectl reads as true\n"
        rc, out, err = self.run_cli("check", "--fix", "-", stdin=text)
        self.assertEqual(rc, 0, err)
        self.assertEqual(k8s_yaml.load_all(out), k8s_yaml.load_all(text), out)
        again = k8s_yaml.load(out)
        self.assertEqual(again["plain"]["k0"], 511)
        self.assertEqual(again["merged"], {"x": 1, "z": 3})
        self.assertIn("true", again)

    # -- rules and explain ---------------------------------------------------------------------------

    def test_rules_and_explain(self):
        rc, out, err = self.run_cli("rules")
        self.assertEqual((rc, err), (0, ""))
        header, *rows = out.splitlines()
        self.assertEqual(header.split(), ["RULE", "DEFAULT", "MUTATION"])
        listed = {}
        for row in rows:
            name, action, mutation = re.match(r"^(\S+)\s+(deny|warn|off)\s+(.+)$", row).groups()
            listed[name] = (action, mutation)
        self.assertIn("ray-prestop", listed)
        self.assertEqual(listed["ray-prestop"], ("warn", "on by default"))
        self.assertEqual(list(listed), sorted(listed))
        rc, md, _ = self.run_cli("rules", "--markdown")
        self.assertEqual(rc, 0)
        self.assertEqual(re.findall(r"^## (\S+)$", md, re.M), list(listed))
        for name, (action, _) in listed.items():
            rc, page, err = self.run_cli("explain", name)
            self.assertEqual((rc, err), (0, ""), name)
            self.assertTrue(page.startswith("# %s\n" % name), page[:80])
            self.assertIn("- Default action: %s\n" % action, page)
            for part in ("**Why.**", "**Example**", "**Fix.**", "```yaml"):
                self.assertIn(part, page, name)
        rc, out, err = self.run_cli("explain", "no-such-rule")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("unknown rule 'no-such-rule'", err)
        self.assertEqual(self.run_cli("explain")[0], 2)
        self.assertEqual(self.run_cli("rules", "--bogus")[0], 2)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: cli_test.py BINARY [SOURCE_DIR]")
    BINARY = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0], "-v"] if os.environ.get("VERBOSE") else [sys.argv[0]])
