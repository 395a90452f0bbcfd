#!/usr/bin/python3
"""Every case object of test/rules/*.yaml through the real binary, its patch applied by python3-jsonpatch.

Usage: /usr/bin/python3 test/patch_roundtrip_test.py BINARY SOURCE_DIR   (CTest: py.patch_roundtrip_test)

For each case, twice (with the case's policy, and with that policy plus every mutation turned on):
1. `check --format json` on the object;
2. the patch applied with python3-jsonpatch, an implementation independent of rules/patch.cpp
   (it fails on an "add" whose parent is missing, a "replace" of nothing, a bad escape);
3. `check --format json` on the result: the patch must be empty (the mutation is idempotent) and
   no rule may deny that did not deny the original (RULES.md section 4);
4. `check --fix` on the object must print the same document as step 2 produced.
"""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_yaml  # noqa: E402  pylint: disable=wrong-import-position


def run(binary, args):
    p = subprocess.run([binary] + args, capture_output=True, timeout=60, check=False)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def mutating_rules(binary):
    rc, out, err = run(binary, ["rules"])
    if rc != 0:
        sys.exit("ray-admission rules failed: " + err)
    rules = []
    for row in out.splitlines()[1:]:
        m = re.match(r"^(\S+)\s+(deny|warn|off)\s+(.+)$", row)
        if not m:
            sys.exit("unexpected line from `rules`: " + row)
        if m.group(3) != "none":
            rules.append(m.group(1))
    return rules


class RoundTrip:
    def __init__(self, binary, tmp):
        self.binary = binary
        self.tmp = tmp
        self.failures = []
        self.counts = {"cases": 0, "runs": 0, "patched": 0, "ops": 0}
        self.n = 0

    def write(self, value, suffix):
        self.n += 1
        path = os.path.join(self.tmp, "%d-%s.yaml" % (self.n, suffix))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(value, f)  # JSON is YAML, and leaves no doubt about the types
        return path

    def check(self, path, policy_path):
        args = ["check", "--format", "json"] + (["--policy", policy_path] if policy_path else []) + [path]
        rc, out, err = run(self.binary, args)
        if rc not in (0, 1):
            raise RuntimeError("%s exited %d: %s" % (" ".join(args), rc, err.strip()))
        [result] = json.loads(out)["results"]
        return result

    def one(self, where, obj, policy):
        self.counts["runs"] += 1
        policy_path = self.write(policy, "policy") if policy else None
        path = self.write(obj, "object")
        first = self.check(path, policy_path)
        patch = first["patch"]
        if not patch:
            return
        self.counts["patched"] += 1
        self.counts["ops"] += len(patch)
        try:
            patched = jsonpatch.JsonPatch(patch).apply(copy.deepcopy(obj))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            self.failures.append("%s: python3-jsonpatch cannot apply %s: %s" % (where, json.dumps(patch), e))
            return
        second = self.check(self.write(patched, "patched"), policy_path)
        if second["patch"]:
            self.failures.append("%s: a second pass patches again: %s" % (where, json.dumps(second["patch"])))
        denied_before = {f["rule"] for f in first["findings"] if f["action"] == "deny"}
        new = sorted({f["rule"] for f in second["findings"] if f["action"] == "deny"} - denied_before)
        if new:
            self.failures.append("%s: after the patch, %s deny (they did not before)" % (where, new))
        args = ["check", "--fix"] + (["--policy", policy_path] if policy_path else []) + [path]
        rc, out, err = run(self.binary, args)
        if rc not in (0, 1):
            self.failures.append("%s: check --fix exited %d: %s" % (where, rc, err.strip()))
            return
        try:
            fixed = k8s_yaml.load_all(out)
        except yaml.YAMLError as e:
            self.failures.append("%s: check --fix printed what is not YAML (%s):\n%s" % (where, e, out))
            return
        if fixed != [k8s_yaml.normalize(patched)]:
            self.failures.append("%s: check --fix printed something else than the object with its patch:\n%s"
                                 % (where, out))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: patch_roundtrip_test.py BINARY SOURCE_DIR")
    binary, source = os.path.abspath(sys.argv[1]), sys.argv[2]
    mutating = mutating_rules(binary)
    cases_dir = os.path.join(source, "test", "rules")
    files = sorted(f for f in os.listdir(cases_dir) if f.endswith(".yaml"))
    if not files or not mutating:
        sys.exit("nothing to test: %d case files, %d mutating rules" % (len(files), len(mutating)))
    with tempfile.TemporaryDirectory(prefix="ray-admission-roundtrip-") as tmp:
        rt = RoundTrip(binary, tmp)
        for name in files:
            with open(os.path.join(cases_dir, name), encoding="utf-8") as f:
                case_file = k8s_yaml.load(f.read())
            for i, case in enumerate(case_file.get("cases") or []):
                rt.counts["cases"] += 1
                where = "%s case %d (%s)" % (name, i, case.get("name", ""))
                policy = case.get("policy") or {}
                all_on = copy.deepcopy(policy)
                all_on["mutations"] = dict(all_on.get("mutations") or {}, **{r: "on" for r in mutating})
                try:
                    rt.one(where, case["object"], policy)
                    rt.one(where + " [every mutation on]", case["object"], all_on)
                except RuntimeError as e:
                    rt.failures.append("%s: %s" % (where, e))
        c = rt.counts
        print("%d case files, %d cases, %d runs; %d patches (%d ops) applied with python3-jsonpatch; "
              "mutating rules: %s" % (len(files), c["cases"], c["runs"], c["patched"], c["ops"], ", ".join(mutating)))
        if c["patched"] == 0:
            rt.failures.append("no case produced a patch: the test checked nothing")
        for f in rt.failures:
            print("FAIL " + f)
        return 1 if rt.failures else 0


if __name__ == "__main__":
    sys.exit(main())
