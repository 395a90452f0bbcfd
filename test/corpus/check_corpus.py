#!/usr/bin/python3
"""Runs ray-admission over the real-world corpus: KubeRay's official samples and Ray's static manifests.

Usage: /usr/bin/python3 test/corpus/check_corpus.py BINARY CORPUS_DIR [-v]

For every YAML file under CORPUS_DIR/kuberay/samples and CORPUS_DIR/static it runs
`check --format json` and `check --fix`, and fails when:
- a document is denied, unless docs/corpus.md lists that (file, rule) pair with the mistake;
  a listed pair that is no longer denied fails too, so the page and the code cannot drift;
- the exit status disagrees with the findings (0 without a deny, 1 with one);
- the `--fix` output is not the input with the JSON patch of `--format json` applied (applied
  here with python3-jsonpatch; documents are compared as kubectl would read them);
- a `--fix` output of a ray.io kind does not validate against its CRD (the openAPIV3Schema of its
  apiVersion, after the API server's null-dropping and defaulting), or has fields the CRD does
  not know that the input did not have (the API server would silently prune them);
- `--fix` on its own output changes anything, `--format json` on it proposes a patch, or a rule
  denies the fixed document that did not deny the input.
Docs: docs/corpus.md.
"""

import argparse
import collections
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import jsonpatch
import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import k8s_yaml  # noqa: E402  pylint: disable=wrong-import-position

CORPUS_DOC = os.path.join(ROOT, "docs", "corpus.md")

# ---------------------------------------------------------------------------------------------
# The CRD schemas, as the API server uses them.


def k8s_to_jsonschema(node, strict):
    """A structural schema as plain JSON Schema (draft 4, which OpenAPI v3's schemas follow).

    - x-kubernetes-int-or-string: an integer or a string (the pattern applies to strings only);
    - nullable: null is allowed;
    - x-kubernetes-preserve-unknown-fields: anything goes below;
    - strict: an object with `properties` and no `additionalProperties` admits no other key
      (the API server would prune it; used to find fields a fix adds that the CRD does not know).
    """
    if isinstance(node, list):
        return [k8s_to_jsonschema(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: k8s_to_jsonschema(s, strict) for name, s in v.items()}
        elif k in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[k] = k8s_to_jsonschema(v, strict)
        elif k.startswith("x-kubernetes-") or k in ("nullable", "default", "description", "example"):
            continue
        else:
            out[k] = v
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        out.pop("type", None)
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "anyOf" in out:
            out["anyOf"] = out["anyOf"] + [{"type": "null"}]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    if (strict and "properties" in out and "additionalProperties" not in out
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("int32")
def _int32(v):
    return not isinstance(v, int) or -(2**31) <= v < 2**31


@FORMATS.checks("int64")
def _int64(v):
    return not isinstance(v, int) or -(2**63) <= v < 2**63


def apply_k8s_defaults(value, schema):
    """What the API server does before validating: drop nulls of non-nullable fields, then fill in
    the schema's `default`s for absent fields, recursively (never creating a missing parent)."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key in list(value.keys()):
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if value[key] is None and not (isinstance(sub, dict) and sub.get("nullable")):
                del value[key]
        for key, sub in props.items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            apply_k8s_defaults(item, sub)
    elif isinstance(value, list):
        for item in value:
            apply_k8s_defaults(item, schema.get("items"))


class Crds:
    def __init__(self, folder):
        self.schemas = {}  # (apiVersion, kind) -> (raw, validator, strict validator)
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".yaml"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                crd = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for ver in crd["spec"]["versions"]:
                if not ver.get("served", True):
                    continue
                raw = ver["schema"]["openAPIV3Schema"]
                self.schemas[(group + "/" + ver["name"], kind)] = (
                    raw,
                    jsonschema.Draft4Validator(k8s_to_jsonschema(raw, False), format_checker=FORMATS),
                    jsonschema.Draft4Validator(k8s_to_jsonschema(raw, True)),
                )

    def find(self, doc):
        if not isinstance(doc, dict):
            return None
        return self.schemas.get((doc.get("apiVersion"), doc.get("kind")))

    @staticmethod
    def errors(validator, raw, doc):
        d = copy.deepcopy(doc)
        apply_k8s_defaults(d, raw)
        return sorted("/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message.splitlines()[0][:200]
                      for e in validator.iter_errors(d))


    def self_test(self):
        """The validation must be able to fail: known-bad and known-good objects (against RayCluster v1)."""
        raw, validator, strict = self.schemas[("ray.io/v1", "RayCluster")]
        base = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "t"},
                "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"metadata": None, "spec": {
                    "containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0",
                                    "resources": {"limits": {"cpu": 1, "memory": "2Gi"}}}]}}},
                         "workerGroupSpecs": [{"groupName": "w", "minReplicas": 1, "template": {"spec": {
                             "containers": [{"name": "w", "image": "rayproject/ray:2.9.0"}]}}}]}}
        problems = []
        if self.errors(validator, raw, base):  # null metadata dropped, maxReplicas defaulted, int-or-string
            problems.append("a valid RayCluster fails: %s" % self.errors(validator, raw, base))
        bad = [
            ("/spec/headGroupSpec/rayStartParams/num-cpus", 1),            # additionalProperties: string
            ("/spec/headGroupSpec/template/spec/containers/0/resources/limits/cpu", 0.5),  # int-or-string
            ("/spec/workerGroupSpecs/0/minReplicas", 2**31),               # format int32
            ("/spec/workerGroupSpecs/0/groupName", None),                  # required after null-dropping
        ]
        for ptr, v in bad:
            doc = copy.deepcopy(base)
            jsonpatch.JsonPointer(ptr).set(doc, v)
            if not self.errors(validator, raw, doc):
                problems.append("%s = %r passes the schema" % (ptr, v))
        doc = copy.deepcopy(base)
        doc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["lifecycle"] = {"preStp": {}}
        if not self.errors(strict, raw, doc):
            problems.append("an unknown field passes the strict schema")
        return problems


# ---------------------------------------------------------------------------------------------
# docs/corpus.md: the samples denied for a named mistake.

ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|(.*)\|\s*$")


def read_known_denials(path):
    """(file, rule) -> the mistake, from the table rows `| `file` | `rule` | mistake |`."""
    known = {}
    problems = []
    if not os.path.exists(path):
        return known, ["%s is missing" % path]
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = ROW.match(line.strip())
            if not m:
                continue
            key = (m.group(1), m.group(2))
            mistake = m.group(3).strip()
            if not mistake:
                problems.append("%s:%d: no mistake named for %s [%s]" % (path, n, key[0], key[1]))
            if key in known:
                problems.append("%s:%d: %s [%s] listed twice" % (path, n, key[0], key[1]))
            known[key] = mistake
    return known, problems


# ---------------------------------------------------------------------------------------------


def run(binary, args, stdin=None):
    p = subprocess.run([binary] + args, input=stdin, capture_output=True, timeout=60, check=False)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def corpus_files(corpus):
    out = []
    for sub in ("kuberay/samples", "static"):
        base = os.path.join(corpus, sub)
        for dirpath, _, names in os.walk(base):
            for name in names:
                if name.endswith((".yaml", ".yml")):
                    full = os.path.join(dirpath, name)
                    out.append((os.path.relpath(full, corpus), full))
    return sorted(out)


def denied_rules(result):
    return {f["rule"] for f in result["findings"] if f["action"] == "deny"}


class Checker:
    def __init__(self, binary, corpus, verbose):
        self.binary = binary
        self.corpus = corpus
        self.verbose = verbose
        self.crds = Crds(os.path.join(corpus, "kuberay", "crds"))
        self.known, self.failures = read_known_denials(CORPUS_DOC)
        self.failures += ["schema self-test: " + p for p in self.crds.self_test()]
        self.seen_known = set()
        self.stats = collections.Counter()
        self.per_rule = collections.defaultdict(collections.Counter)  # rule -> action -> count
        self.patched_by_rule = collections.Counter()

    def fail(self, where, msg):
        self.failures.append("%s: %s" % (where, msg))

    def check_file(self, rel, full):
        self.stats["files"] += 1
        with open(full, encoding="utf-8") as f:
            text = f.read()
        originals = k8s_yaml.load_all(text)

        rc, out, err = run(self.binary, ["check", "--format", "json", full])
        if rc not in (0, 1):
            return self.fail(rel, "check --format json exited %d: %s" % (rc, err.strip()))
        results = json.loads(out)["results"]
        if len(results) != len(originals):
            return self.fail(rel, "%d results for %d documents" % (len(results), len(originals)))
        any_deny = False
        for res, doc in zip(results, originals):
            where = "%s[%d]" % (rel, res["document"])
            self.stats["documents"] += 1
            if res["recognised"]:
                self.stats["ray documents"] += 1
            kind = doc.get("kind") if isinstance(doc, dict) and isinstance(doc.get("kind"), str) else ""
            if res["kind"] != kind:
                self.fail(where, "kind %r, but the document says %r" % (res["kind"], kind))
            for f in res["findings"]:
                self.per_rule[f["rule"]][f["action"]] += 1
                self.stats[f["action"]] += 1
            denied = denied_rules(res)
            if res["allowed"] == bool(denied):
                self.fail(where, "allowed=%s with denials %s" % (res["allowed"], sorted(denied)))
            any_deny = any_deny or bool(denied)
            for rule in sorted(denied):
                key = (rel, rule)
                if key in self.known:
                    self.seen_known.add(key)
                    continue
                msgs = "; ".join(f["message"] for f in res["findings"] if f["rule"] == rule)
                self.fail(where, "denied by %s (official sample; if it is a real mistake, list it in "
                          "docs/corpus.md): %s" % (rule, msgs))
            for op in res["patch"]:
                m = re.search(r"/(lifecycle|rayStartParams|resources|containers)\b", op["path"])
                self.patched_by_rule[op["op"] + " " + (m.group(1) if m else op["path"])] += 1
            if res["patch"]:
                self.stats["documents patched"] += 1
        if rc != (1 if any_deny else 0):
            self.fail(rel, "exit status %d, but %s" % (rc, "a document is denied" if any_deny else "nothing is"))
        self.check_fix(rel, full, originals, results, [])

        # Again with every mutation on, the opt-in ones too: their fixes must be as valid.
        policy = ["--policy", self.all_on_policy]
        rc, out, err = run(self.binary, ["check", "--format", "json"] + policy + [full])
        if rc not in (0, 1):
            return self.fail(rel, "check --format json (every mutation on) exited %d: %s" % (rc, err.strip()))
        results = json.loads(out)["results"]
        if any(r["patch"] for r in results):
            self.stats["documents patched (every mutation on)"] += sum(1 for r in results if r["patch"])
        return self.check_fix(rel + " (every mutation on)", full, originals, results, policy)

    def check_fix(self, rel, full, originals, results, policy):
        """--fix is the input with the patches applied; valid against the CRD; idempotent."""
        rc, fixed_text, err = run(self.binary, ["check", "--fix"] + policy + [full])
        if rc not in (0, 1):
            return self.fail(rel, "check --fix exited %d: %s" % (rc, err.strip()))
        try:
            fixed = k8s_yaml.load_all(fixed_text)
        except yaml.YAMLError as e:
            return self.fail(rel, "--fix output is not YAML: %s" % e)
        if len(fixed) != len(originals):
            return self.fail(rel, "--fix wrote %d documents for %d" % (len(fixed), len(originals)))
        for res, doc, out_doc in zip(results, originals, fixed):
            where = "%s[%d]" % (rel, res["document"])
            try:
                expected = jsonpatch.apply_patch(copy.deepcopy(doc), res["patch"]) if res["patch"] else doc
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                self.fail(where, "the patch does not apply (python3-jsonpatch): %s" % e)
                continue
            if out_doc != expected:
                diff = jsonpatch.make_patch(expected, out_doc).patch
                self.fail(where, "--fix output differs from input + patch: %s" % json.dumps(diff)[:600])
            self.check_schema(where, doc, out_doc)

        # --fix is idempotent, and the fixed documents need nothing more.
        rc2, fixed_again, err = run(self.binary, ["check", "--fix"] + policy + ["-"], stdin=fixed_text.encode())
        if rc2 not in (0, 1):
            self.fail(rel, "check --fix on its own output exited %d: %s" % (rc2, err.strip()))
        elif fixed_again != fixed_text:
            self.fail(rel, "check --fix on its own output changed it")
        rc3, out3, err = run(self.binary, ["check", "--format", "json"] + policy + ["-"], stdin=fixed_text.encode())
        if rc3 not in (0, 1):
            return self.fail(rel, "check --format json on the --fix output exited %d: %s" % (rc3, err.strip()))
        for before, after in zip(results, json.loads(out3)["results"]):
            where = "%s[%d]" % (rel, before["document"])
            if after["patch"]:
                self.fail(where, "a second pass patches again: %s" % json.dumps(after["patch"])[:400])
            new = denied_rules(after) - denied_rules(before)
            if new:
                self.fail(where, "the fix made %s deny" % sorted(new))
        return None

    def write_all_on_policy(self, folder):
        rc, out, err = run(self.binary, ["rules"])
        if rc != 0:
            raise SystemExit("ray-admission rules failed: " + err)
        mutating = [row.split()[0] for row in out.splitlines()[1:] if not row.rstrip().endswith(" none")]
        self.all_on_policy = os.path.join(folder, "every-mutation-on.yaml")
        with open(self.all_on_policy, "w", encoding="utf-8") as f:
            f.write("mutations:\n" + "".join("  %s: on\n" % r for r in mutating) if mutating else "{}\n")
        return mutating

    def check_schema(self, where, original, fixed):
        found = self.crds.find(fixed)
        if found is None:
            if isinstance(fixed, dict) and str(fixed.get("apiVersion", "")).startswith("ray.io/"):
                self.fail(where, "no CRD schema for %s %s" % (fixed.get("apiVersion"), fixed.get("kind")))
            return
        raw, validator, strict = found
        self.stats["schema-validated"] += 1
        errs = Crds.errors(validator, raw, fixed)
        if errs:
            self.fail(where, "--fix output does not validate against the CRD:\n    " + "\n    ".join(errs[:10]))
        # Fields the CRD does not know: fine when the user wrote them (the API server prunes them,
        # and that is KubeRay's business), a bug when the fix added them.
        unknown_before = set(Crds.errors(strict, raw, original))
        added = [e for e in Crds.errors(strict, raw, fixed) if e not in unknown_before]
        if added:
            self.fail(where, "the fix adds what the CRD does not know:\n    " + "\n    ".join(added[:10]))

    def report(self, elapsed):
        s = self.stats
        print("corpus: %d files, %d documents (%d Ray workloads); %d patched by default, %d with every mutation "
              "on; %d fixed documents schema-validated; %.1fs"
              % (s["files"], s["documents"], s["ray documents"], s["documents patched"],
                 s["documents patched (every mutation on)"], s["schema-validated"], elapsed))
        print("findings: %d deny, %d warn" % (s["deny"], s["warn"]))
        for rule in sorted(self.per_rule):
            c = self.per_rule[rule]
            print("  %-32s deny %4d   warn %4d" % (rule, c["deny"], c["warn"]))
        if self.patched_by_rule:
            print("patch ops: " + ", ".join("%s x%d" % kv for kv in sorted(self.patched_by_rule.items())))
        print("known denials (docs/corpus.md): %d listed, %d seen" % (len(self.known), len(self.seen_known)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("corpus")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    start = time.monotonic()
    c = Checker(os.path.abspath(a.binary), os.path.abspath(a.corpus), a.verbose)
    files = corpus_files(c.corpus)
    if len([f for f in files if f[0].startswith("kuberay/")]) == 0:
        print("check_corpus: no samples under %s/kuberay/samples" % a.corpus, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ray-admission-corpus-") as tmp:
        mutating = c.write_all_on_policy(tmp)
        for rel, full in files:
            c.check_file(rel, full)
    print("mutating rules (all turned on for the second pass): " + ", ".join(mutating))
    for key in sorted(set(c.known) - c.seen_known):
        c.fail(CORPUS_DOC, "%s [%s] is listed but no longer denied: remove the row" % key)
    c.report(time.monotonic() - start)
    if c.failures:
        print("\n%d failure(s):" % len(c.failures))
        for f in c.failures:
            print("FAIL " + f)
        return 1
    print("corpus check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
