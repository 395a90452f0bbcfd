"""YAML read the way kubectl reads it, for the Python tests.

This is the tests' second opinion on yaml/yaml_json.cpp, written independently on top of PyYAML.
kubectl turns YAML into JSON with sigs.k8s.io/yaml, which types plain scalars with go-yaml v2
(YAML 1.1 flavoured), not with PyYAML's YAML 1.1 resolver. The differences that matter here:

- booleans: y Y yes Yes YES n N no No NO, true/false and on/off in their three spellings;
- integers: Go's strconv.ParseInt(s, 0, 64) after removing underscores, so 0777 is octal (511),
  0x1F hex, 0b101 binary, 0o17 octal; no sexagesimal (1:30 stays a string);
- floats: [-+]?(.N|N(.N*)?)([eE][-+]?N)? (so 1e3 is a number, which PyYAML reads as a string);
- timestamps stay strings;
- the JSON that reaches the API server has no "1000.0": a whole float is an integer there.
"""

import re

import yaml

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # pylint: disable=too-many-ancestors
    """A SafeLoader whose implicit typing follows go-yaml v2."""


Loader.yaml_implicit_resolvers = {}

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_INT = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_FLOAT_RAW = re.compile(r"^[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?$")
_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}

Loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("yYnNtTfFoO"))
Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RAW, list("-+.0123456789"))
Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


def _int(text):
    s = text.replace("_", "")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s.startswith("0b"):
        v = int(s[2:], 2)
    elif s.startswith("0o"):
        v = int(s[2:], 8)
    elif s.startswith("0x"):
        v = int(s[2:], 16)
    elif len(s) > 1 and s.startswith("0"):
        v = int(s[1:], 8)
    else:
        v = int(s)
    v *= sign
    if -(2**63) <= v < 2**64:
        return v
    return float(v)  # beyond int64/uint64 Go falls back to a float


def _construct_int(loader, node):
    return _int(loader.construct_scalar(node))


def _construct_float(loader, node):
    s = loader.construct_scalar(node).replace("_", "")
    if not _FLOAT.match(s):
        return loader.construct_scalar(node)
    return float(s)


def _construct_bool(loader, node):
    return loader.construct_scalar(node) in _TRUE


Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
# Explicit !!timestamp aside, timestamps are strings.
Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
# "<<" merges as a key; as a value it is the string.
Loader.add_constructor("tag:yaml.org,2002:merge", lambda loader, node: loader.construct_scalar(node))


def _key(k):
    # sigs.k8s.io/yaml writes non-string keys as Go formats them.
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, float) and k.is_integer():
        return str(int(k))
    return str(k)


def normalize(value):
    """The JSON the API server sees: whole floats are integers, keys are strings."""
    if isinstance(value, dict):
        return {_key(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def load_all(text):
    """Every document of a YAML stream, as the JSON values kubectl would send."""
    return [normalize(d) for d in yaml.load_all(text, Loader=Loader)]


def load(text):
    return normalize(yaml.load(text, Loader=Loader))
