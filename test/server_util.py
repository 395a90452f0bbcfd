"""Helpers for the server's integration tests (test/server_*_test.py).

They start the real `ray-admission serve` on 127.0.0.1 with a free port and drive it over real TLS
with clients that are not ours: Python's ssl and http.client, raw sockets, curl, and the openssl
command-line tool to make test certificates. Every wait is bounded.
"""

import base64
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

# Generous bounds: CI runs these under AddressSanitizer on a busy 2-core machine.
START_TIMEOUT = 60.0



class LoopbackHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to 127.0.0.1 that checks the certificate for `host` (SNI and name):
    a minimal machine may have no /etc/hosts, so "localhost" is never looked up."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)

class TestFailure(AssertionError):
    pass


_servers = []  # every server started, stopped at the end of run_tests


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def run_tests(tests, workdirs=()):
    """Runs (name, function) pairs; prints a line per test; exits 1 if any failed. The work
    directories are removed when everything passed (kept for a look otherwise)."""
    failed = []
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            import traceback

            traceback.print_exc()
    for srv in _servers:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
    print(f"{len(tests) - len(failed)} passed, {len(failed)} failed", flush=True)
    if not failed:
        for d in workdirs:
            shutil.rmtree(d, ignore_errors=True)
    else:
        print("logs and files kept in: " + " ".join(workdirs), flush=True)
    sys.exit(1 if failed else 0)


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """Test certificates, made with the openssl command-line tool (the tests' own, independent PKI)."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_key = os.path.join(directory, "ca.key")
        self.ca_crt = os.path.join(directory, "ca.crt")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.ca_key, "-out", self.ca_crt, "-days", "2", "-subj", "/CN=test CA")

    def issue(self, name, key="ec", days=2, cn="localhost", client=False):
        """Writes NAME.crt and NAME.key signed by the CA; returns their paths."""
        key_path = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        crt = os.path.join(self.dir, name + ".crt")
        ext = os.path.join(self.dir, name + ".ext")
        if key == "rsa":
            newkey = ["-newkey", "rsa:2048"]
        else:
            newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        openssl("req", *newkey, "-nodes", "-keyout", key_path, "-out", csr, "-subj", "/CN=" + cn)
        with open(ext, "w") as f:
            if client:
                f.write("extendedKeyUsage=clientAuth\n")
            else:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key, "-CAcreateserial",
                "-out", crt, "-days", str(days), "-extfile", ext)
        return crt, key_path


def serial_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", pem_path], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].upper()


class Server:
    """A `ray-admission serve` process on 127.0.0.1 and a free port."""

    def __init__(self, binary, args=(), ca_file=None, workdir=None, env=None, auto_ca=True):
        self.workdir = workdir or tempfile.mkdtemp(prefix="ray-admission-test-")
        self.log_path = os.path.join(self.workdir, f"server-{uuid.uuid4().hex[:8]}.log")
        self.args = list(args)
        embedded = not any(a in self.args for a in ("--tls-cert", "--cert-dir"))
        if embedded and auto_ca and "--ca-out" not in self.args:
            self.args += ["--ca-out", os.path.join(self.workdir, "embedded-ca.crt")]
        self.ca_file = ca_file or (os.path.join(self.workdir, "embedded-ca.crt") if embedded else None)
        self.log_file = open(self.log_path, "w")
        cmd = [binary, "serve", "--address", "127.0.0.1", "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        _servers.append(self)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log()
            m = re.search(r'"msg":"listening".*?"port":(\d+)', text) or re.search(r" listening .*?port=(\d+)", text)
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise TestFailure(f"server exited with {self.proc.returncode} at start:\n{text}")
            time.sleep(0.05)
        raise TestFailure("server did not start:\n" + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def context(self, cafile=None, certfile=None, keyfile=None, min_version=None, max_version=None):
        ctx = ssl.create_default_context(cafile=cafile or self.ca_file)
        if certfile:
            ctx.load_cert_chain(certfile, keyfile)
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
        return ctx

    def connection(self, context=None, timeout=30, host="localhost"):
        return LoopbackHTTPS(host, self.port, context=context or self.context(), timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, context=None):
        """One request; returns (status, headers dict, body bytes). Opens and closes its own
        connection unless `conn` is given."""
        own = conn is None
        c = conn or self.connection(context)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                c.close()

    def post_json(self, path, doc, conn=None, context=None):
        body = json.dumps(doc).encode() if not isinstance(doc, (bytes, str)) else doc
        status, headers, data = self.request("POST", path, body, {"Content-Type": "application/json"}, conn, context)
        return status, headers, json.loads(data) if data else None

    def metrics(self):
        status, _, data = self.request("GET", "/metrics")
        check(status == 200, f"/metrics answered {status}")
        return data.decode()

    def metric(self, name, labels=None):
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
            if not m or m.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            if all(got.get(k) == v for k, v in (labels or {}).items()):
                total += float(m.group(3))
        return total

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM, then wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("server did not stop within %ss after SIGTERM:\n%s" % (timeout, self.log()))
        self.log_file.close()
        return self.proc.returncode

    def rss_kib(self, field="VmHWM"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log_file.closed:
            self.log_file.close()


def review(obj, operation="CREATE", version="admission.k8s.io/v1", old=None, dry_run=False, uid=None):
    kind = obj.get("kind", "") if isinstance(obj, dict) else ""
    req = {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": "ray.io", "version": "v1", "kind": kind},
        "resource": {"group": "ray.io", "version": "v1", "resource": kind.lower() + "s"},
        "namespace": "default",
        "name": (obj or {}).get("metadata", {}).get("name", "") if isinstance(obj, dict) else "",
        "operation": operation,
        "userInfo": {"username": "tester"},
        "object": obj,
        "dryRun": dry_run,
    }
    if old is not None:
        req["oldObject"] = old
    return {"apiVersion": version, "kind": "AdmissionReview", "request": req}


def ray_cluster(name="demo", prestop=None, memory=None):
    """A small RayCluster. prestop: None (no hook), or the exec command of one."""
    container = {
        "name": "ray-head",
        "image": "rayproject/ray:2.9.0",
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "1", "memory": "2Gi"}},
    }
    if prestop is not None:
        container["lifecycle"] = {"preStop": {"exec": {"command": prestop}}}
    params = {"dashboard-host": "0.0.0.0"}
    if memory is not None:
        params["memory"] = memory
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "rayVersion": "2.9.0",
            "headGroupSpec": {"rayStartParams": params, "template": {"spec": {"containers": [container]}}},
        },
    }


def decode_patch(response):
    return json.loads(base64.b64decode(response["patch"]))


def raw_tls_socket(port, context, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return context.wrap_socket(s, server_hostname="localhost")


class RecordTls:
    """TLS over a plain socket through memory BIOs, so that a test decides how the TLS records
    travel: write() makes one record per call, and send() puts every record made since into a
    single send(2), so that they reach the server in one read."""

    def __init__(self, port, context, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.send()
                self._receive()
        self.send()

    def _receive(self):
        data = self.sock.recv(65536)
        if not data:
            raise TestFailure("the server closed the connection")
        self.incoming.write(data)

    def write(self, data):
        self.tls.write(data)

    def send(self):
        out = self.outgoing.read()
        if out:
            self.sock.sendall(out)

    def read_responses(self, count):
        """The next `count` responses, each (status, body); Content-Length framing only."""
        data, responses = b"", []
        while len(responses) < count:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                lines = head.decode("latin-1").split("\r\n")
                length = next((int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:")), 0)
                if len(rest) >= length:
                    responses.append((int(lines[0].split()[1]), rest[:length]))
                    data = rest[length:]
                    continue
            try:
                data += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._receive()
        return responses

    def close(self):
        self.sock.close()


def poll_response(sock):
    """Bytes of a response that has started to arrive on a TLS socket, or None. (A readable socket
    alone says nothing: TLS 1.3 session tickets arrive after the handshake.)"""
    r, _, _ = select.select([sock], [], [], 0)
    if not r and not (hasattr(sock, "pending") and sock.pending()):
        return None
    sock.setblocking(False)
    try:
        data = sock.recv(65536)
    except (ssl.SSLWantReadError, BlockingIOError):
        data = None
    finally:
        sock.setblocking(True)
    return data


def read_http_response(sock, timeout=10, pending=b""):
    if pending:
        return read_http_response_from(sock, pending, timeout)
    return _read_http_response(sock, timeout)


def _read_http_response(sock, timeout=10):
    """Reads one HTTP/1.1 response (Content-Length framed) from a socket; returns (status, headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise TestFailure(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status == 100:
        return read_http_response_from(sock, rest, timeout)
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n]


def read_http_response_from(sock, pending, timeout):
    class Prefixed:
        def __init__(self, s, p):
            self.s, self.p = s, p

        def settimeout(self, t):
            self.s.settimeout(t)

        def recv(self, n):
            if self.p:
                out, self.p = self.p[:n], self.p[n:]
                return out
            return self.s.recv(n)

    return _read_http_response(Prefixed(sock, pending), timeout)
