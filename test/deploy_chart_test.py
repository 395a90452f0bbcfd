#!/usr/bin/python3
"""The Helm chart (charts/ray-admission), without Helm.

No `helm` binary is reachable from the build machines, so this file carries a small renderer for
the subset of Go templates and Sprig functions the chart uses (render_chart below). Anything
outside that subset is an error, which also keeps the templates simple enough to review by eye.
The chart is rendered with several sets of values; every rendered document must parse as YAML,
and the settings the deploy issue lists are checked on the parsed objects.

Usage: deploy_chart_test.py path/to/ray-admission SOURCE_DIR
"""

import base64
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

BINARY = None
SOURCE = None


# ---------------------------------------------------------------------------------------------
# A Go-template subset: text, {{ pipelines }}, if/else if/else, with/else, range, define,
# include, variables ($x := ..., $x = ...), and the Sprig functions listed in FUNCS.


class TemplateError(Exception):
    pass


class TemplateFail(Exception):
    """The template called `fail` or `required` (Helm stops the release with this message)."""


def _read(path):
    with open(path) as f:
        return f.read()


def _write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def _lex(src):
    """Text and action tokens, with Go's trim markers applied to the neighbouring text."""
    out = []
    pos = 0
    for m in _ACTION.finditer(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        out.append(("text", text))
        out.append(("action", m.group(2).strip(), bool(m.group(3))))
        pos = m.end()
    out.append(("text", src[pos:]))
    # A right trim marker eats the whitespace at the start of the next text.
    result = []
    trim_next = False
    for tok in out:
        if tok[0] == "text":
            text = tok[1].lstrip(" \t\r\n") if trim_next else tok[1]
            trim_next = False
            if text:
                result.append(("text", text))
        else:
            trim_next = tok[2]
            if not (tok[1].startswith("/*") and tok[1].endswith("*/")):
                result.append(("action", tok[1]))
    return result


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<punct>[()|,])
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)


def _tokens(s):
    toks = []
    pos = 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise TemplateError("cannot read %r at %r" % (s, s[pos:]))
        kind = m.lastgroup
        toks.append((kind, m.group(kind)))
        pos = m.end()
    return toks


class _Parser:
    """Pipelines: [decl] command ('|' command)*; a command is operands, the first maybe a function."""

    def __init__(self, toks):
        self.toks = toks
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def pipeline(self, allow_decl=True):
        decl = None
        if allow_decl and len(self.toks) > self.i + 1 and self.toks[self.i][0] == "var":
            nxt = self.toks[self.i + 1]
            if nxt[0] in ("decl", "assign"):
                decl = (self.toks[self.i][1], nxt[0])
                self.i += 2
            elif nxt == ("punct", ","):
                # range $i, $v := ...
                second = self.toks[self.i + 2]
                if self.toks[self.i + 3][0] != "decl":
                    raise TemplateError("bad range declaration")
                decl = ((self.toks[self.i][1], second[1]), "decl")
                self.i += 4
        cmds = [self.command()]
        while self.peek() == ("punct", "|"):
            self.take()
            cmds.append(self.command())
        return ("pipe", decl, cmds)

    def command(self):
        ops = []
        while True:
            kind, val = self.peek()
            if kind is None or (kind == "punct" and val in ("|", ")")):
                break
            ops.append(self.operand())
        if not ops:
            raise TemplateError("empty command")
        return ops

    def operand(self):
        kind, val = self.take()
        if kind == "punct" and val == "(":
            inner = self.pipeline(allow_decl=False)
            if self.take() != ("punct", ")"):
                raise TemplateError("missing )")
            return ("paren", inner)
        if kind == "str":
            return ("lit", json.loads(val))
        if kind == "raw":
            return ("lit", val[1:-1])
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "ident":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if val == "nil":
                return ("lit", None)
            if val not in FUNCS and val not in LAZY:
                raise TemplateError("function %r is outside the subset this renderer knows" % val)
            return ("func", val)
        if kind == "field":
            return ("field", [p for p in val.split(".") if p])
        if kind == "var":
            parts = val.split(".")
            return ("var", parts[0], parts[1:])
        raise TemplateError("unexpected %r" % val)


def _parse_action(text):
    p = _Parser(_tokens(text))
    pipe = p.pipeline()
    if p.i != len(p.toks):
        raise TemplateError("trailing tokens in %r" % text)
    return pipe


def _parse(tokens, defines):
    """Nested nodes; `define` bodies go into `defines`."""
    pos = 0

    def block(stop):
        nonlocal pos
        nodes = []
        while pos < len(tokens):
            kind, val = tokens[pos]
            if kind == "text":
                nodes.append(("text", val))
                pos += 1
                continue
            word = val.split(None, 1)[0] if val else ""
            if word in stop:
                return nodes, val
            pos += 1
            if word in ("if", "with", "range"):
                branches = [(word, _parse_action(val[len(word) :]))]
                bodies = []
                while True:
                    body, ender = block(("else", "end"))
                    bodies.append(body)
                    pos += 1
                    if ender == "end":
                        break
                    rest = ender[len("else") :].strip()
                    if rest.startswith("if ") or rest.startswith("with "):
                        w = rest.split(None, 1)[0]
                        branches.append((w, _parse_action(rest[len(w) :])))
                    elif rest:
                        raise TemplateError("cannot read else %r" % rest)
                    else:
                        branches.append(("else", None))
                nodes.append(("control", list(zip(branches, bodies))))
            elif word == "define":
                name = json.loads(val[len("define") :].strip())
                body, _ = block(("end",))
                pos += 1
                defines[name] = body
            elif word in ("end", "else"):
                raise TemplateError("unexpected {{%s}}" % val)
            elif word in ("template", "block", "break", "continue"):
                raise TemplateError("{{%s}} is outside the subset this renderer knows" % word)
            else:
                nodes.append(("action", _parse_action(val)))
        if stop:
            raise TemplateError("missing {{end}}")
        return nodes, None

    nodes, _ = block(())
    return nodes


def _truth(v):
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    if isinstance(v, (str, list, dict, tuple)):
        return len(v) > 0
    return True


def _go_str(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        raise TemplateError("printing a map or list as text: %r" % (v,))
    return str(v)


def _to_yaml(v):
    if v is None:
        return "null"
    out = yaml.safe_dump(v, default_flow_style=False, sort_keys=True, width=10000)
    if out.endswith("...\n"):
        out = out[: -len("...\n")]
    return out.rstrip("\n")


def _indent(n, s):
    pad = " " * int(n)
    return "\n".join(pad + line for line in s.split("\n"))


def _printf(fmt, *args):
    return re.sub(r"%v", "%s", fmt) % tuple(_go_str(a) for a in args)


def _semver_compare(constraint, version):
    m = re.fullmatch(r"\s*(<=|>=|<|>|=)?\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:-0)?\s*", constraint)
    v = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?.*", version)
    if not m or not v:
        raise TemplateError("semverCompare %r %r is outside the subset" % (constraint, version))
    want = tuple(int(x or 0) for x in m.group(2, 3, 4))
    have = tuple(int(x or 0) for x in v.group(1, 2, 3))
    op = m.group(1) or "="
    return {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want, "=": have == want}[op]


def _openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, check=True).stdout


def _gen_ca(cn, days):
    with tempfile.TemporaryDirectory() as d:
        key, crt = os.path.join(d, "k"), os.path.join(d, "c")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", str(days),
                 "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,digitalSignature")
        return {"Cert": _read(crt), "Key": _read(key)}


def _gen_signed_cert(cn, ips, dns, days, ca):
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("cak", "cac", "k", "csr", "c", "ext")}
        _write(paths["cak"], ca["Key"])
        _write(paths["cac"], ca["Cert"])
        sans = ["DNS:" + n for n in dns] + ["IP:" + i for i in (ips or [])]
        _write(paths["ext"], "subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(sans))
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", paths["k"], "-out", paths["csr"],
                 "-subj", "/CN=" + cn)
        _openssl("x509", "-req", "-in", paths["csr"], "-CA", paths["cac"], "-CAkey", paths["cak"], "-CAcreateserial",
                 "-out", paths["c"], "-days", str(days), "-extfile", paths["ext"])
        return {"Cert": _read(paths["c"]), "Key": _read(paths["k"])}


def _required(msg, v):
    if v is None or v == "":
        raise TemplateFail(msg)
    return v


def _fail(msg):
    raise TemplateFail(msg)


def _set(d, k, v):
    d[k] = v
    return d


def _index(v, *keys):
    for k in keys:
        if v is None:
            raise TemplateError("index of nil")
        v = v.get(k) if isinstance(v, dict) else v[k]
    return v


FUNCS = {
    "b64enc": lambda s: base64.b64encode(_go_str(s).encode()).decode(),
    "contains": lambda sub, s: sub in s,
    "default": lambda d, v=None: v if _truth(v) else d,
    "dict": lambda *kv: {kv[i]: kv[i + 1] for i in range(0, len(kv), 2)},
    "eq": lambda a, b: a == b,
    "fail": _fail,
    "genCA": _gen_ca,
    "genSignedCert": _gen_signed_cert,
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "indent": _indent,
    "index": _index,
    "int": lambda v: int(v or 0),
    "list": lambda *v: list(v),
    "ne": lambda a, b: a != b,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "not": lambda v: not _truth(v),
    "print": lambda *v: "".join(_go_str(x) for x in v),
    "printf": _printf,
    "quote": lambda v: json.dumps(_go_str(v)),
    "required": _required,
    "semverCompare": _semver_compare,
    "set": _set,
    "toYaml": _to_yaml,
    "trimSuffix": lambda suf, s: s[: -len(suf)] if suf and s.endswith(suf) else s,
    "trunc": lambda n, s: s[: int(n)],
}
LAZY = {"and", "or", "include", "lookup"}  # need the renderer (short-circuit, defines, the cluster)


class Renderer:
    def __init__(self, defines, cluster):
        self.defines = defines
        self.cluster = cluster  # (apiVersion, kind, namespace, name) -> object, for `lookup`

    def render(self, nodes, dot, root):
        out = []
        self._nodes(nodes, dot, [{"$": root}], out)
        return "".join(out)

    def _lookup_var(self, scopes, name):
        for s in reversed(scopes):
            if name in s:
                return s[name]
        raise TemplateError("undefined variable %s" % name)

    def _fields(self, v, names, what):
        for n in names:
            if v is None:
                raise TemplateError("nil pointer evaluating %s.%s" % (what, n))
            if not isinstance(v, dict):
                raise TemplateError("can't evaluate field %s in %r" % (n, type(v).__name__))
            v = v.get(n)
        return v

    def _operand(self, op, dot, scopes):
        kind = op[0]
        if kind == "lit":
            return op[1]
        if kind == "field":
            return self._fields(dot, op[1], ".")
        if kind == "var":
            return self._fields(self._lookup_var(scopes, op[1]), op[2], op[1])
        if kind == "paren":
            return self._pipe(op[1], dot, scopes)
        if kind == "func":
            return self._call(op[1], [], dot, scopes)
        raise TemplateError("bad operand %r" % (op,))

    def _call(self, name, arg_ops, dot, scopes, piped=()):
        if name in ("and", "or"):
            # Go 1.18+: arguments are evaluated left to right and evaluation stops at the first
            # false (and) or true (or) one, which is the result; otherwise the last one is.
            result = None
            for value in [lambda o=o: self._operand(o, dot, scopes) for o in arg_ops] + [lambda p=p: p for p in piped]:
                result = value()
                if (name == "and") != _truth(result):
                    return result
            return result
        args = [self._operand(o, dot, scopes) for o in arg_ops] + list(piped)
        if name == "include":
            body = self.defines.get(args[0])
            if body is None:
                raise TemplateError("no template %r" % args[0])
            out = []
            self._nodes(body, args[1], [{"$": args[1]}], out)
            return "".join(out)
        if name == "lookup":
            return copy.deepcopy(self.cluster.get(tuple(args), {}))
        return FUNCS[name](*args)

    def _pipe(self, pipe, dot, scopes):
        _, _, cmds = pipe
        value = None
        for i, cmd in enumerate(cmds):
            piped = (value,) if i > 0 else ()
            if cmd[0][0] == "func":
                value = self._call(cmd[0][1], cmd[1:], dot, scopes, piped)
            else:
                if len(cmd) > 1 or piped:
                    raise TemplateError("cannot give arguments to a non-function")
                value = self._operand(cmd[0], dot, scopes)
        return value

    def _assign(self, pipe, value, scopes):
        decl = pipe[1]
        if decl is None:
            return False
        name, how = decl
        if how == "decl":
            scopes[-1][name] = value
            return True
        for s in reversed(scopes):
            if name in s:
                s[name] = value
                return True
        raise TemplateError("assignment to undeclared %s" % name)

    def _nodes(self, nodes, dot, scopes, out):
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                value = self._pipe(node[1], dot, scopes)
                if not self._assign(node[1], value, scopes):
                    out.append(_go_str(value))
            elif kind == "control":
                self._control(node[1], dot, scopes, out)

    def _control(self, branches, dot, scopes, out):
        for (word, pipe), body in branches:
            if word == "else":
                self._nodes(body, dot, scopes + [{}], out)
                return
            scope = {}
            if word == "range":
                decl = pipe[1]
                value = self._pipe(pipe, dot, scopes + [scope])
                if not _truth(value):
                    continue
                # Go ranges over a map in key order.
                items = sorted(value.items()) if isinstance(value, dict) else list(enumerate(value))
                for k, v in items:
                    s = {}
                    if decl:
                        names = decl[0] if isinstance(decl[0], tuple) else (None, decl[0])
                        if names[0]:
                            s[names[0]] = k
                        s[names[1]] = v
                    self._nodes(body, v, scopes + [s], out)
                return
            value = self._pipe(pipe, dot, scopes + [scope])
            self._assign(pipe, value, scopes + [scope])
            if _truth(value):
                self._nodes(body, value if word == "with" else dot, scopes + [scope], out)
                return


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def render_chart(chart_dir, values=None, release="ray-admission", namespace="ray-system", kube_version="v1.30.0",
                 cluster=None):
    """Renders every template as Helm would; returns {template file: text}. Raises TemplateFail."""
    chart = yaml.safe_load(_read(os.path.join(chart_dir, "Chart.yaml")))
    defaults = yaml.safe_load(_read(os.path.join(chart_dir, "values.yaml")))
    tdir = os.path.join(chart_dir, "templates")
    defines = {}
    parsed = {}
    for name in sorted(os.listdir(tdir)):
        parsed[name] = _parse(_lex(_read(os.path.join(tdir, name))), defines)
    root = {
        "Values": _merge(defaults, values),
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": True},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
        "Capabilities": {"KubeVersion": {"Version": kube_version}},
        "Template": {"BasePath": "ray-admission/templates"},
    }
    r = Renderer(defines, cluster or {})
    return {name: r.render(nodes, root, root) for name, nodes in parsed.items() if not name.startswith("_")}


def render_objects(chart_dir, **kw):
    """The rendered manifests as parsed objects (NOTES.txt left out); every document must parse."""
    objects = []
    for name, text in render_chart(chart_dir, **kw).items():
        if name == "NOTES.txt":
            continue
        for doc in re.split(r"(?m)^---\s*$", text):
            if not doc.strip() or all(l.strip().startswith("#") or not l.strip() for l in doc.splitlines()):
                continue
            try:
                obj = yaml.safe_load(doc)
            except yaml.YAMLError as e:
                raise AssertionError("%s does not render to YAML: %s\n%s" % (name, e, doc))
            if obj is None:
                continue
            obj["__template"] = name
            objects.append(obj)
    return objects


def find(objects, kind, name=None):
    hits = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return hits


def one(objects, kind, name=None):
    hits = find(objects, kind, name)
    if len(hits) != 1:
        raise AssertionError("expected one %s%s, found %d" % (kind, " " + name if name else "", len(hits)))
    return hits[0]


# ---------------------------------------------------------------------------------------------


class RendererSelfTest(unittest.TestCase):
    """The renderer's own semantics on small templates, so that a chart test failing means the chart."""

    def render(self, src, values=None):
        defines = {}
        nodes = _parse(_lex(src), defines)
        root = {"Values": values or {}, "Release": {"Namespace": "ns"}}
        return Renderer(defines, {}).render(nodes, root, root)

    def test_trim_markers(self):
        self.assertEqual(self.render("a:\n  {{- if true }}\n  b: 1\n  {{- end }}\n"), "a:\n  b: 1\n")
        self.assertEqual(self.render("x {{- 1 -}} y"), "x1y")

    def test_include_nindent_and_scope(self):
        src = '{{- define "t" -}}\nk: {{ .v }}\n{{- end -}}\nroot:\n  {{- include "t" (dict "v" 3) | nindent 2 }}\n'
        self.assertEqual(self.render(src), "root:\n  k: 3\n")

    def test_variables_and_else_if(self):
        src = '{{- $x := "a" }}{{ if eq .Values.m "b" }}{{ $x = "B" }}{{ else if eq .Values.m "c" }}{{ $x = "C" }}{{ end }}{{ $x }}'
        self.assertEqual(self.render(src, {"m": "c"}), "C")
        self.assertEqual(self.render(src, {"m": "z"}), "a")

    def test_missing_field_of_nil_is_an_error(self):
        with self.assertRaises(TemplateError):
            self.render("{{ .Values.a.b }}")

    def test_required_and_fail(self):
        with self.assertRaises(TemplateFail):
            self.render('{{ required "need x" .Values.x }}')

    def test_unknown_function_is_rejected(self):
        with self.assertRaises(TemplateError):
            self.render("{{ tpl .Values.x . }}")

    def test_range_and_with(self):
        self.assertEqual(self.render("{{ range .Values.l }}[{{ . }}]{{ end }}", {"l": ["a", "b"]}), "[a][b]")
        self.assertEqual(self.render("{{ with .Values.s }}{{ . }}{{ else }}none{{ end }}", {"s": ""}), "none")


class ChartFiles(unittest.TestCase):
    def test_chart_and_values_parse(self):
        chart = yaml.safe_load(_read(os.path.join(CHART, "Chart.yaml")))
        self.assertEqual(chart["apiVersion"], "v2")
        self.assertEqual(chart["name"], "ray-admission")
        values = yaml.safe_load(_read(os.path.join(CHART, "values.yaml")))
        self.assertIsInstance(values, dict)

    def test_values_defaults_and_reasoning(self):
        values = yaml.safe_load(_read(os.path.join(CHART, "values.yaml")))
        self.assertEqual(values["replicaCount"], 2)
        self.assertEqual(values["webhook"]["validating"]["failurePolicy"], "Fail")
        self.assertEqual(values["webhook"]["mutating"]["failurePolicy"], "Ignore")
        self.assertEqual(values["webhook"]["mutating"]["reinvocationPolicy"], "IfNeeded")
        self.assertEqual(values["webhook"]["timeoutSeconds"], 5)
        self.assertFalse(values["webhook"]["staticClusters"]["enabled"])
        self.assertEqual(values["priorityClassName"], "")
        self.assertIn(values["certs"]["mode"], ("generate", "certManager", "secret"))
        # The reasoning for each failurePolicy is written next to it.
        text = _read(os.path.join(CHART, "values.yaml"))
        for policy in ("failurePolicy: Fail", "failurePolicy: Ignore"):
            before = text[: text.index(policy)].rstrip().splitlines()[-3:]
            self.assertTrue(all(l.strip().startswith("#") for l in before), "no reasoning above " + policy)
        for mode in ("generate:", "certManager:", "secret:"):
            self.assertIn("# " + mode, text)

    def test_templates_stay_in_the_subset(self):
        # Lexing and parsing every file is part of render_chart; this names the file that fails.
        for name in sorted(os.listdir(os.path.join(CHART, "templates"))):
            with self.subTest(template=name):
                _parse(_lex(_read(os.path.join(CHART, "templates", name))), {})


def container(deploy):
    return deploy["spec"]["template"]["spec"]["containers"][0]


class DefaultRender(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = render_objects(CHART)

    def test_every_object_is_namespaced_to_the_release_or_cluster_scoped(self):
        cluster_scoped = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
        for o in self.objs:
            with self.subTest(kind=o["kind"], name=o["metadata"]["name"]):
                self.assertIn("apiVersion", o)
                if o["kind"] in cluster_scoped:
                    self.assertNotIn("namespace", o["metadata"])
                else:
                    self.assertEqual(o["metadata"]["namespace"], "ray-system")
                self.assertEqual(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm")

    def test_the_objects(self):
        kinds = sorted(o["kind"] for o in self.objs)
        self.assertEqual(kinds, sorted(["ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget",
                                        "Secret", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]))

    def test_deployment(self):
        d = one(self.objs, "Deployment", "ray-admission")
        spec = d["spec"]
        pod = spec["template"]["spec"]
        c = container(d)
        self.assertEqual(spec["replicas"], 2)
        self.assertEqual(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        self.assertEqual(spec["selector"]["matchLabels"], {k: v for k, v in spec["template"]["metadata"]["labels"].items()
                                                           if k in spec["selector"]["matchLabels"]})
        # Probes on /healthz and /readyz, over HTTPS on the named port.
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "https", "scheme": "HTTPS"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "https", "scheme": "HTTPS"})
        self.assertEqual(c["ports"], [{"name": "https", "containerPort": 8443, "protocol": "TCP"}])
        # Resources.
        self.assertTrue(c["resources"]["requests"]["cpu"])
        self.assertTrue(c["resources"]["requests"]["memory"])
        self.assertTrue(c["resources"]["limits"]["memory"])
        # Non-root, read-only, no escalation, seccomp RuntimeDefault.
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
        self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
        sc = c["securityContext"]
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertIs(sc["privileged"], False)
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
        self.assertEqual(sc["seccompProfile"], {"type": "RuntimeDefault"})
        self.assertIs(pod["automountServiceAccountToken"], False)
        self.assertNotIn("priorityClassName", pod)
        # Topology spread over nodes and zones, selecting this release's pods.
        tsc = pod["topologySpreadConstraints"]
        self.assertEqual({t["topologyKey"] for t in tsc}, {"kubernetes.io/hostname", "topology.kubernetes.io/zone"})
        for t in tsc:
            self.assertEqual(t["labelSelector"]["matchLabels"], spec["selector"]["matchLabels"])
        # serve, with the mounted certificate and policy.
        args = c["args"]
        self.assertEqual(args[0], "serve")
        self.assertEqual(args[args.index("--cert-dir") + 1], "/etc/ray-admission/tls")
        self.assertEqual(args[args.index("--policy") + 1], "/etc/ray-admission/policy/policy.yaml")
        self.assertEqual(args[args.index("--port") + 1], "8443")
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        self.assertEqual(mounts["tls"]["mountPath"], "/etc/ray-admission/tls")
        self.assertTrue(mounts["tls"]["readOnly"])
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(vols["tls"]["secret"]["secretName"], "ray-admission-tls")
        self.assertEqual(vols["tls"]["secret"]["defaultMode"], 0o440)
        self.assertEqual(vols["policy"]["configMap"]["name"], "ray-admission-policy")
        self.assertEqual(c["image"], "ray-admission:0.1.0")

    def test_pdb_selects_the_pods(self):
        pdb = one(self.objs, "PodDisruptionBudget")
        d = one(self.objs, "Deployment")
        self.assertEqual(pdb["apiVersion"], "policy/v1")
        self.assertEqual(pdb["spec"]["minAvailable"], 1)
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], d["spec"]["selector"]["matchLabels"])

    def test_service_and_serviceaccount(self):
        svc = one(self.objs, "Service", "ray-admission")
        d = one(self.objs, "Deployment")
        self.assertEqual(svc["spec"]["selector"], d["spec"]["selector"]["matchLabels"])
        self.assertEqual(svc["spec"]["ports"], [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}])
        sa = one(self.objs, "ServiceAccount")
        self.assertIs(sa["automountServiceAccountToken"], False)
        self.assertEqual(d["spec"]["template"]["spec"]["serviceAccountName"], sa["metadata"]["name"])

    def test_policy_configmap_is_a_policy_the_binary_accepts(self):
        cm = one(self.objs, "ConfigMap", "ray-admission-policy")
        policy = yaml.safe_load(cm["data"]["policy.yaml"])
        self.assertEqual(policy, {"profile": "default"})
        with tempfile.TemporaryDirectory() as d:
            pf = os.path.join(d, "policy.yaml")
            _write(pf, cm["data"]["policy.yaml"])
            empty = os.path.join(d, "empty.yaml")
            _write(empty, "")
            r = subprocess.run([BINARY, "check", "--policy", pf, empty], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            # And a policy the binary refuses is caught the same way (the check above can fail).
            _write(pf, "profile: lenient\n")
            r = subprocess.run([BINARY, "check", "--policy", pf, empty], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)

    def test_webhooks(self):
        v = one(self.objs, "ValidatingWebhookConfiguration", "ray-admission")
        m = one(self.objs, "MutatingWebhookConfiguration", "ray-admission")
        self.assertEqual([w["name"] for w in v["webhooks"]], ["kuberay.validate.ray-admission.io"])
        self.assertEqual([w["name"] for w in m["webhooks"]], ["kuberay.mutate.ray-admission.io"])
        for cfg, path, policy in ((v, "/validate", "Fail"), (m, "/mutate", "Ignore")):
            w = cfg["webhooks"][0]
            self.assertEqual(w["rules"], [{"apiGroups": ["ray.io"], "apiVersions": ["v1", "v1alpha1"],
                                           "operations": ["CREATE", "UPDATE"],
                                           "resources": ["rayclusters", "rayjobs", "rayservices", "raycronjobs"],
                                           "scope": "Namespaced"}])
            self.assertEqual(w["sideEffects"], "None")
            self.assertEqual(w["admissionReviewVersions"], ["v1", "v1beta1"])
            self.assertEqual(w["timeoutSeconds"], 5)
            self.assertEqual(w["failurePolicy"], policy)
            self.assertEqual(w["clientConfig"]["service"],
                             {"name": "ray-admission", "namespace": "ray-system", "path": path, "port": 443})
            self.assertEqual(w["namespaceSelector"], {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "NotIn",
                "values": ["kube-system", "kube-node-lease", "ray-system"]}]})
            self.assertNotIn("matchConditions", w)
        self.assertEqual(m["webhooks"][0]["reinvocationPolicy"], "IfNeeded")
        self.assertNotIn("reinvocationPolicy", v["webhooks"][0])

    def test_generated_certificate_is_trusted_by_the_webhooks(self):
        secret = one(self.objs, "Secret", "ray-admission-tls")
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        v = one(self.objs, "ValidatingWebhookConfiguration")
        m = one(self.objs, "MutatingWebhookConfiguration")
        self.assertEqual(v["webhooks"][0]["clientConfig"]["caBundle"], secret["data"]["ca.crt"])
        self.assertEqual(m["webhooks"][0]["clientConfig"]["caBundle"], secret["data"]["ca.crt"])
        with tempfile.TemporaryDirectory() as d:
            for k in ("ca.crt", "tls.crt"):
                _write(os.path.join(d, k), base64.b64decode(secret["data"][k]))
            r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, "ca.crt"), "-purpose", "sslserver",
                                "-verify_hostname", "ray-admission.ray-system.svc", os.path.join(d, "tls.crt")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_uninstall_leaves_no_webhook_behind(self):
        # Helm deletes what it rendered. The webhook configurations are ordinary release objects
        # (not hooks, not kept), and nothing in the release may create webhook configurations on
        # its own: no RBAC at all, and no service account token in the pod.
        for o in self.objs:
            ann = o["metadata"].get("annotations") or {}
            with self.subTest(kind=o["kind"]):
                self.assertFalse([a for a in ann if a.startswith("helm.sh/hook")], ann)
                self.assertNotEqual(ann.get("helm.sh/resource-policy"), "keep")
                self.assertFalse(o["kind"].endswith("Role") or o["kind"].endswith("RoleBinding"))
        self.assertEqual(one(self.objs, "ValidatingWebhookConfiguration")["__template"], "webhooks.yaml")
        for name in os.listdir(os.path.join(CHART, "templates")):
            text = _read(os.path.join(CHART, "templates", name))
            self.assertNotIn("helm.sh/hook", text, name)
            self.assertNotIn("resource-policy", text, name)

    def test_notes_render(self):
        notes = render_chart(CHART)["NOTES.txt"]
        self.assertIn("kubectl delete validatingwebhookconfiguration ray-admission", notes)


class VariantRenders(unittest.TestCase):
    def test_priority_class_and_user_namespaces(self):
        objs = render_objects(CHART, values={"priorityClassName": "ray-admission-critical",
                                             "webhook": {"excludeNamespaces": ["monitoring", "ci"]}})
        pod = one(objs, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["priorityClassName"], "ray-admission-critical")
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for w in one(objs, kind)["webhooks"]:
                self.assertEqual(w["namespaceSelector"]["matchExpressions"][0]["values"],
                                 ["kube-system", "kube-node-lease", "ray-system", "monitoring", "ci"])

    def test_failure_policies_are_configurable(self):
        objs = render_objects(CHART, values={"webhook": {"validating": {"failurePolicy": "Ignore"},
                                                         "mutating": {"failurePolicy": "Fail"}}})
        self.assertEqual(one(objs, "ValidatingWebhookConfiguration")["webhooks"][0]["failurePolicy"], "Ignore")
        self.assertEqual(one(objs, "MutatingWebhookConfiguration")["webhooks"][0]["failurePolicy"], "Fail")

    def test_release_name_and_namespace_flow_everywhere(self):
        objs = render_objects(CHART, release="prod", namespace="webhooks")
        d = one(objs, "Deployment", "prod-ray-admission")
        self.assertEqual(d["metadata"]["namespace"], "webhooks")
        w = one(objs, "ValidatingWebhookConfiguration", "prod-ray-admission")["webhooks"][0]
        self.assertEqual(w["clientConfig"]["service"]["name"], "prod-ray-admission")
        self.assertIn("webhooks", w["namespaceSelector"]["matchExpressions"][0]["values"])

    def test_static_clusters(self):
        objs = render_objects(CHART, values={"webhook": {"staticClusters": {"enabled": True}}})
        for kind, verb in (("ValidatingWebhookConfiguration", "validate"), ("MutatingWebhookConfiguration", "mutate")):
            hooks = {w["name"]: w for w in one(objs, kind)["webhooks"]}
            self.assertEqual(sorted(hooks), sorted(n + "." + verb + ".ray-admission.io"
                                                   for n in ("kuberay", "workloads", "pods")))
            wl = hooks["workloads." + verb + ".ray-admission.io"]
            resources = {r for rule in wl["rules"] for r in rule["resources"]}
            self.assertEqual(resources, {"deployments", "statefulsets", "daemonsets", "jobs"})
            pods = hooks["pods." + verb + ".ray-admission.io"]
            self.assertEqual(pods["rules"][0]["resources"], ["pods"])
            self.assertEqual(pods["rules"][0]["operations"], ["CREATE"])
            self.assertIn("object.spec.template.spec.containers", wl["matchConditions"][0]["expression"])
            self.assertIn("object.spec.containers", pods["matchConditions"][0]["expression"])
            self.assertEqual([c["name"] for c in pods["matchConditions"]],
                             ["runs-ray-start", "not-owned-by-a-controller", "not-created-by-kuberay"])
            for w in hooks.values():
                self.assertEqual(w["sideEffects"], "None")
                self.assertEqual(w["timeoutSeconds"], 5)
                if verb == "mutate":
                    self.assertEqual(w["reinvocationPolicy"], "IfNeeded")

    def test_static_clusters_refuse_old_kubernetes(self):
        with self.assertRaises(TemplateFail) as e:
            render_chart(CHART, values={"webhook": {"staticClusters": {"enabled": True}}}, kube_version="v1.27.4")
        self.assertIn("1.28", str(e.exception))
        render_chart(CHART, values={"webhook": {"staticClusters": {"enabled": True}}}, kube_version="v1.28.0")

    def test_cert_manager(self):
        objs = render_objects(CHART, values={"certs": {"mode": "certManager"}})
        self.assertFalse(find(objs, "Secret"))
        serving = one(objs, "Certificate", "ray-admission-serving")
        self.assertEqual(serving["spec"]["dnsNames"], ["ray-admission", "ray-admission.ray-system",
                                                       "ray-admission.ray-system.svc",
                                                       "ray-admission.ray-system.svc.cluster.local"])
        self.assertEqual(serving["spec"]["issuerRef"], {"name": "ray-admission-ca", "kind": "Issuer"})
        ca = one(objs, "Certificate", "ray-admission-ca")
        self.assertTrue(ca["spec"]["isCA"])
        self.assertEqual(one(objs, "Issuer", "ray-admission-ca")["spec"]["ca"]["secretName"], ca["spec"]["secretName"])
        self.assertIn("selfSigned", one(objs, "Issuer", "ray-admission-selfsigned")["spec"])
        vols = {v["name"]: v for v in one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["tls"]["secret"]["secretName"], serving["spec"]["secretName"])
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            cfg = one(objs, kind)
            self.assertEqual(cfg["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
                             "ray-system/ray-admission-serving")
            for w in cfg["webhooks"]:
                self.assertNotIn("caBundle", w["clientConfig"])

    def test_cert_manager_with_own_issuer(self):
        objs = render_objects(CHART, values={"certs": {"mode": "certManager",
                                                       "certManager": {"issuerRef": {"name": "corp-ca",
                                                                                     "kind": "ClusterIssuer"}}}})
        self.assertFalse(find(objs, "Issuer"))
        self.assertEqual([c["metadata"]["name"] for c in find(objs, "Certificate")], ["ray-admission-serving"])
        self.assertEqual(one(objs, "Certificate")["spec"]["issuerRef"], {"name": "corp-ca", "kind": "ClusterIssuer"})

    def test_user_secret(self):
        with self.assertRaises(TemplateFail):
            render_chart(CHART, values={"certs": {"mode": "secret"}})
        with self.assertRaises(TemplateFail):
            render_chart(CHART, values={"certs": {"mode": "secret", "secret": {"name": "mine"}}})
        objs = render_objects(CHART, values={"certs": {"mode": "secret", "secret": {"name": "mine", "caBundle": "Q0E="}}})
        self.assertFalse(find(objs, "Secret"))
        vols = {v["name"]: v for v in one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["tls"]["secret"]["secretName"], "mine")
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            self.assertEqual(one(objs, kind)["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=")

    def test_unknown_cert_mode_fails(self):
        with self.assertRaises(TemplateFail):
            render_chart(CHART, values={"certs": {"mode": "letsencrypt"}})

    def test_generated_secret_is_reused_on_upgrade(self):
        existing = {"apiVersion": "v1", "kind": "Secret",
                    "data": {"ca.crt": "T0xEQ0E=", "tls.crt": "T0xEQ1JU", "tls.key": "T0xES0VZ"}}
        objs = render_objects(CHART, cluster={("v1", "Secret", "ray-system", "ray-admission-tls"): existing})
        self.assertEqual(one(objs, "Secret")["data"], existing["data"])
        self.assertEqual(one(objs, "ValidatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["caBundle"],
                         "T0xEQ0E=")

    def test_service_monitor(self):
        objs = render_objects(CHART, values={"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}})
        sm = one(objs, "ServiceMonitor")
        self.assertEqual(sm["metadata"]["labels"]["release"], "prom")
        ep = sm["spec"]["endpoints"][0]
        self.assertEqual((ep["port"], ep["scheme"], ep["path"]), ("https", "https", "/metrics"))
        self.assertEqual(ep["tlsConfig"]["serverName"], "ray-admission.ray-system.svc")
        self.assertEqual(ep["tlsConfig"]["ca"]["secret"], {"name": "ray-admission-tls", "key": "ca.crt"})
        svc = one(objs, "Service")
        self.assertTrue(all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()))
        self.assertFalse(find(render_objects(CHART), "ServiceMonitor"))

    def test_extra_args_and_disabled_extras(self):
        objs = render_objects(CHART, values={"extraArgs": ["--log-format", "json"],
                                             "podDisruptionBudget": {"enabled": False},
                                             "topologySpread": {"enabled": False}})
        c = container(one(objs, "Deployment"))
        self.assertEqual(c["args"][-2:], ["--log-format", "json"])
        self.assertFalse(find(objs, "PodDisruptionBudget"))
        self.assertNotIn("topologySpreadConstraints", one(objs, "Deployment")["spec"]["template"]["spec"])


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: deploy_chart_test.py path/to/ray-admission SOURCE_DIR")
    BINARY, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    CHART = os.path.join(SOURCE, "charts", "ray-admission")
    unittest.main(argv=sys.argv[:1], verbosity=2)
else:
    CHART = None
