#!/usr/bin/python3
"""`certs` output works with `serve --cert-dir`: a TLS client that trusts only ca.crt and asks for
NAME.NS.svc (as the API server does) completes a verified handshake, and a renewed certificate
is picked up by the running server.

Usage: certs_handshake_test.py path/to/ray-admission SOURCE_DIR
"""

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = None
SERVICE, NAMESPACE = "ray-admission", "ray-system"
HOST = SERVICE + "." + NAMESPACE + ".svc"
START_TIMEOUT = 60  # seconds; sanitizer builds start slowly


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certs(out, *extra):
    r = subprocess.run([BINARY, "certs", "--service", SERVICE, "--namespace", NAMESPACE, "--out", out, *extra],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("certs failed: " + r.stderr)
    return r


def client_context(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    ctx.load_verify_locations(cafile)
    return ctx


def handshake(port, ctx, server_hostname):
    """Returns the server's certificate (DER) after a verified handshake and a GET /healthz."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            der = tls.getpeercert(binary_form=True)
            tls.sendall(("GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % server_hostname).encode())
            reply = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return der, reply


class Handshake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        help_text = subprocess.run([BINARY, "--help"], capture_output=True, text=True).stdout
        if "\n  serve " not in help_text:
            raise AssertionError("`ray-admission --help` does not list serve: the server is not built yet")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "certs")
        # 20 days: within the renewal window, so that the renewal test below reissues it.
        certs(cls.dir, "--days", "20")
        cls.port = free_port()
        cls.log = open(os.path.join(cls.tmp.name, "serve.log"), "w+")
        cls.server = subprocess.Popen(
            [BINARY, "serve", "--address", "127.0.0.1", "--port", str(cls.port), "--cert-dir", cls.dir,
             "--reload-interval", "1"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT
        while True:
            if cls.server.poll() is not None:
                raise AssertionError("serve exited with %s:\n%s" % (cls.server.returncode, cls.server_log()))
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    cls.stop()
                    raise AssertionError("serve did not listen within %ds:\n%s" % (START_TIMEOUT, cls.server_log()))
                time.sleep(0.2)

    @classmethod
    def server_log(cls):
        cls.log.flush()
        cls.log.seek(0)
        return cls.log.read()

    @classmethod
    def stop(cls):
        if cls.server.poll() is None:
            cls.server.send_signal(signal.SIGTERM)
            try:
                cls.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cls.server.kill()
                cls.server.wait()

    @classmethod
    def tearDownClass(cls):
        cls.stop()
        cls.log.close()
        cls.tmp.cleanup()

    def test_1_verified_handshake_for_the_service_name(self):
        ctx = client_context(os.path.join(self.dir, "ca.crt"))
        for name in (HOST, SERVICE + "." + NAMESPACE, HOST + ".cluster.local"):
            with self.subTest(server_hostname=name):
                der, reply = handshake(self.port, ctx, name)
                self.assertTrue(der)
                self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])

    def test_2_wrong_name_or_other_ca_is_refused(self):
        ctx = client_context(os.path.join(self.dir, "ca.crt"))
        with self.assertRaises(ssl.SSLCertVerificationError) as e:
            handshake(self.port, ctx, "other.ray-system.svc")
        self.assertIn("match", str(e.exception).lower())
        other = os.path.join(self.tmp.name, "other")
        certs(other)
        with self.assertRaises(ssl.SSLCertVerificationError):
            handshake(self.port, client_context(os.path.join(other, "ca.crt")), HOST)

    def test_3_renewed_certificate_is_served(self):
        ctx = client_context(os.path.join(self.dir, "ca.crt"))
        before, _ = handshake(self.port, ctx, HOST)
        r = certs(self.dir, "--renew")
        self.assertIn("renewed", r.stdout)
        deadline = time.time() + 30
        while True:
            after, reply = handshake(self.port, ctx, HOST)  # still verified against the same CA
            if after != before:
                break
            if time.time() > deadline:
                self.fail("the server still serves the old certificate 30 s after `certs --renew`:\n"
                          + self.server_log())
            time.sleep(0.5)
        with open(os.path.join(self.dir, "tls.crt")) as f:
            self.assertEqual(ssl.DER_cert_to_PEM_cert(after).strip(), f.read().strip())
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: certs_handshake_test.py path/to/ray-admission SOURCE_DIR")
    BINARY = os.path.abspath(sys.argv[1])
    unittest.main(argv=sys.argv[:1], verbosity=2)
