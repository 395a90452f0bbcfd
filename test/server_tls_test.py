"""`ray-admission serve`: TLS. Certificates from files and from a Secret-style directory, ECDSA and
RSA keys, TLS 1.2 and 1.3 only, client certificates, the embedded default, and hot reload under
load with no failed request.

Usage: server_tls_test.py path/to/ray-admission SOURCE_DIR

The test certificates come from the openssl command-line tool (the tests' own PKI); the clients
are Python's ssl and http.client, and curl.
"""

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.0/1.1 on purpose, to see them refused

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import Pki, Server, check, ray_cluster, review, run_tests, serial_of  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="ray-admission-tls-")
PKI = Pki(WORK)


def peer_serial(srv, context=None):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    with (context or srv.context()).wrap_socket(s, server_hostname="localhost") as t:
        return t.getpeercert()["serialNumber"].upper(), t.version(), t.cipher()[0]


def test_files_ecdsa_rsa_and_versions():
    for key in ("ec", "rsa"):
        crt, k = PKI.issue("serve-" + key, key=key)
        with Server(BINARY, ["--tls-cert", crt, "--tls-key", k], ca_file=PKI.ca_crt, workdir=WORK) as srv:
            serial, version, cipher = peer_serial(srv)
            check(serial == serial_of(crt), (serial, serial_of(crt)))
            status, _, body = srv.post_json("/validate", review(ray_cluster()))
            check(status == 200 and body["response"]["allowed"] is True, body)
            # TLS 1.3 and 1.2 work; 1.2 negotiates ECDHE with an AEAD cipher.
            v13 = peer_serial(srv, srv.context(min_version=ssl.TLSVersion.TLSv1_3))[1]
            check(v13 == "TLSv1.3", v13)
            _, v12, c12 = peer_serial(srv, srv.context(max_version=ssl.TLSVersion.TLSv1_2))
            check(v12 == "TLSv1.2" and "ECDHE" in c12 and ("GCM" in c12 or "CHACHA" in c12), (v12, c12))
            # TLS 1.1 and older are refused, and so are TLS 1.2 suites without forward secrecy.
            old = srv.context(max_version=ssl.TLSVersion.TLSv1_1)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.set_ciphers("ALL:@SECLEVEL=0")
            refused(lambda: peer_serial(srv, old), "TLS 1.1")
            weak = srv.context(max_version=ssl.TLSVersion.TLSv1_2)
            weak.set_ciphers("AES128-SHA:AES256-SHA:AES128-GCM-SHA256")
            refused(lambda: peer_serial(srv, weak), "static RSA key exchange")
            check(srv.stop() == 0, "exit status")


def refused(fn, what):
    try:
        fn()
    except (ssl.SSLError, ConnectionError, OSError):
        return
    raise AssertionError(what + " was accepted")


def test_cert_dir_and_curl():
    d = os.path.join(WORK, "secret")
    os.makedirs(d)
    crt, k = PKI.issue("dir")
    shutil.copy(crt, os.path.join(d, "tls.crt"))
    shutil.copy(k, os.path.join(d, "tls.key"))
    with Server(BINARY, ["--cert-dir", d], ca_file=PKI.ca_crt, workdir=WORK) as srv:
        out = subprocess.run(["curl", "-sS", "--cacert", PKI.ca_crt, f"https://127.0.0.1:{srv.port}/healthz"],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0 and json.loads(out.stdout)["status"] == "ok", out.stderr)
        check(srv.stop() == 0, "exit status")


def test_client_ca():
    crt, k = PKI.issue("mtls")
    client_crt, client_key = PKI.issue("client", cn="kube-apiserver", client=True)
    other = Pki(tempfile.mkdtemp(dir=WORK))
    stranger_crt, stranger_key = other.issue("stranger", client=True)
    with Server(BINARY, ["--tls-cert", crt, "--tls-key", k, "--client-ca", PKI.ca_crt], ca_file=PKI.ca_crt,
                workdir=WORK) as srv:
        ok = srv.context(certfile=client_crt, keyfile=client_key)
        status, _, body = srv.post_json("/validate", review(ray_cluster()), context=ok)
        check(status == 200 and body["response"]["allowed"] is True, body)
        # With TLS 1.3 the refusal can surface on the first read rather than in the handshake.
        refused(lambda: srv.request("GET", "/healthz", context=srv.context()), "no client certificate")
        refused(lambda: srv.request("GET", "/healthz", context=srv.context(certfile=stranger_crt,
                                                                          keyfile=stranger_key)),
                "a client certificate from another CA")
        check(srv.request("GET", "/healthz", context=ok)[0] == 200, "still serving")
        check(srv.stop() == 0, "exit status")


def test_embedded_default():
    tmp = tempfile.mkdtemp(dir=WORK)
    env = dict(os.environ, TMPDIR=tmp)
    with Server(BINARY, [], workdir=WORK, env=env, auto_ca=False) as srv:
        ca = os.path.join(tmp, "ray-admission", "ca.crt")
        check(os.path.exists(ca), "the CA was not written to $TMPDIR/ray-admission/ca.crt")
        check(re.search(r"ca_file=" + re.escape(ca), srv.log()), "the CA's path is not logged:\n" + srv.log())
        for host in ("localhost", "127.0.0.1"):
            out = subprocess.run(["curl", "-sS", "--cacert", ca, f"https://{host}:{srv.port}/readyz"],
                                 capture_output=True, text=True, timeout=60)
            check(out.returncode == 0 and json.loads(out.stdout)["status"] == "ready", (host, out.stderr))
        check(srv.stop() == 0, "exit status")


class Load:
    """Requests in a loop on two kinds of connection (a new one per request, and one kept alive),
    recording every failure."""

    def __init__(self, srv, cafile):
        self.srv, self.cafile = srv, cafile
        self.stop = threading.Event()
        self.count = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(keep,), daemon=True) for keep in (False, False, True)]
        for t in self.threads:
            t.start()

    def run(self, keep_alive):
        ctx = ssl.create_default_context(cafile=self.cafile)
        conn = None
        while not self.stop.is_set():
            try:
                c = conn or self.srv.connection(ctx)
                status, _, body = self.srv.post_json("/validate", review(ray_cluster()), conn=c)
                if status != 200 or body["response"]["allowed"] is not True:
                    self.failures.append(f"status {status}: {body}")
                self.count += 1
                if keep_alive:
                    conn = c
                else:
                    c.close()
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"{type(e).__name__}: {e}")
                conn = None
            time.sleep(0.005)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_rotation_under_load():
    # A directory laid out like a mounted Secret: tls.crt -> ..data/tls.crt, ..data -> ..<version>.
    d = os.path.join(WORK, "mounted")
    os.makedirs(d)
    version = [0]

    def publish(crt, key):
        version[0] += 1
        v = os.path.join(d, f"..v{version[0]}")
        os.makedirs(v)
        shutil.copy(crt, os.path.join(v, "tls.crt"))
        shutil.copy(key, os.path.join(v, "tls.key"))
        tmp_link = os.path.join(d, "..data_tmp")
        os.symlink(os.path.basename(v), tmp_link)
        os.replace(tmp_link, os.path.join(d, "..data"))  # the atomic swap
        for name in ("tls.crt", "tls.key"):
            if not os.path.islink(os.path.join(d, name)):
                os.symlink(os.path.join("..data", name), os.path.join(d, name))

    first = PKI.issue("rot1")
    publish(*first)
    with Server(BINARY, ["--cert-dir", d], ca_file=PKI.ca_crt, workdir=WORK) as srv:
        load = Load(srv, PKI.ca_crt)
        try:
            time.sleep(0.5)

            def rotated_to(crt):
                want = serial_of(crt)
                deadline = time.monotonic() + 10  # the issue's bound for new connections
                while time.monotonic() < deadline:
                    if peer_serial(srv)[0] == want:
                        return time.monotonic() - (deadline - 10)
                    time.sleep(0.1)
                raise AssertionError("new connections still get the old certificate after 10 s\n" + srv.log())

            # 1. A Secret update (symlink swap), to an RSA key.
            second = PKI.issue("rot2", key="rsa")
            publish(*second)
            rotated_to(second[0])
            # 2. In place, the way cert-manager or a script may write: the certificate, then the key.
            third = PKI.issue("rot3")
            target = os.path.realpath(os.path.join(d, "..data"))
            with open(os.path.join(target, "tls.crt"), "w") as f:
                f.write(open(third[0]).read())
            time.sleep(0.05)
            with open(os.path.join(target, "tls.key"), "w") as f:
                f.write(open(third[1]).read())
            rotated_to(third[0])
            # 3. An atomic rename over the files.
            fourth = PKI.issue("rot4")
            for src, name in ((fourth[0], "tls.crt"), (fourth[1], "tls.key")):
                shutil.copy(src, os.path.join(target, name + ".new"))
                os.replace(os.path.join(target, name + ".new"), os.path.join(target, name))
            rotated_to(fourth[0])
            check(srv.metric("ray_admission_certificate_reloads_total") >= 3, srv.metrics())
            # 4. A broken pair (a certificate with another key): the old one keeps serving, and the
            # error is logged and counted.
            broken_crt, _ = PKI.issue("rot5")
            _, other_key = PKI.issue("rot6")
            errors_before = srv.metric("ray_admission_certificate_reload_errors_total")
            publish(broken_crt, other_key)
            deadline = time.monotonic() + 10
            while srv.metric("ray_admission_certificate_reload_errors_total") == errors_before:
                check(time.monotonic() < deadline, "the broken pair was not counted\n" + srv.log())
                time.sleep(0.1)
            check(peer_serial(srv)[0] == serial_of(fourth[0]), "the previous certificate must keep serving")
            check("could not be loaded" in srv.log(), "the reload error is logged")
            expiry = srv.metric("ray_admission_certificate_expiry_timestamp_seconds")
            check(expiry > time.time(), expiry)
            time.sleep(0.3)
        finally:
            load.finish()
        check(load.count > 20, f"only {load.count} requests under load")
        check(not load.failures, f"{len(load.failures)} failed requests during rotation: {load.failures[:5]}")
        check(srv.stop() == 0, "exit status")


run_tests([
    ("certificate files, ECDSA and RSA, TLS 1.2/1.3 only", test_files_ecdsa_rsa_and_versions),
    ("--cert-dir and curl", test_cert_dir_and_curl),
    ("--client-ca", test_client_ca),
    ("embedded default", test_embedded_default),
    ("rotation under load, broken pair", test_rotation_under_load),
], workdirs=[WORK])
