#!/usr/bin/python3
"""`ray-admission certs`, checked with the openssl command-line tool (an independent verifier).

Usage: certs_cli_test.py path/to/ray-admission SOURCE_DIR
"""

import hashlib
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timezone

BINARY = None

NAMES = ["ray-admission", "ray-admission.ray-system", "ray-admission.ray-system.svc",
         "ray-admission.ray-system.svc.cluster.local"]
FILES = ("ca.crt", "ca.key", "tls.crt", "tls.key")


def certs(*args, umask=None):
    def pre():
        if umask is not None:
            os.umask(umask)
    return subprocess.run([BINARY, "certs", *args], capture_output=True, text=True, preexec_fn=pre)


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def digests(d):
    return {f: digest(os.path.join(d, f)) for f in FILES}


def sans(cert):
    out = openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName").stdout
    return re.findall(r"(DNS|IP Address):([^,\s]+)", out)


def not_after(cert):
    out = openssl("x509", "-in", cert, "-noout", "-enddate").stdout.strip()
    return datetime.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)


def verify(d, hostname=None, cert="tls.crt"):
    args = ["verify", "-CAfile", os.path.join(d, "ca.crt"), "-purpose", "sslserver"]
    if hostname:
        args += ["-verify_hostname", hostname]
    return openssl(*args, os.path.join(d, cert))


class Certs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "out")

    def tearDown(self):
        self.tmp.cleanup()

    def make(self, *extra, service="ray-admission", ns="ray-system", umask=None):
        return certs("--service", service, "--namespace", ns, "--out", self.dir, *extra, umask=umask)

    def test_writes_a_ca_and_a_serving_certificate(self):
        r = self.make()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(FILES))  # no temporary files left
        v = verify(self.dir)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn("tls.crt: OK", v.stdout)
        for name in NAMES:
            v = verify(self.dir, name)
            self.assertEqual(v.returncode, 0, name + ": " + v.stdout + v.stderr)
        self.assertNotEqual(verify(self.dir, "other.ray-system.svc").returncode, 0)
        self.assertEqual(sans(os.path.join(self.dir, "tls.crt")), [("DNS", n) for n in NAMES])

    def test_extensions(self):
        self.assertEqual(self.make().returncode, 0)
        ca = openssl("x509", "-in", os.path.join(self.dir, "ca.crt"), "-noout", "-text").stdout
        leaf = openssl("x509", "-in", os.path.join(self.dir, "tls.crt"), "-noout", "-text").stdout
        self.assertRegex(ca, r"Basic Constraints: critical\s+CA:TRUE")
        self.assertRegex(ca, r"Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign")
        self.assertRegex(leaf, r"Basic Constraints: critical\s+CA:FALSE")
        self.assertRegex(leaf, r"Extended Key Usage:\s+TLS Web Server Authentication")
        self.assertIn("Subject Key Identifier", leaf)
        self.assertIn("Authority Key Identifier", leaf)
        self.assertIn("Subject: CN = ray-admission\n", leaf)
        self.assertIn("id-ecPublicKey", leaf)
        self.assertIn("prime256v1", leaf)

    def test_keys_are_private_and_match(self):
        self.assertEqual(self.make(umask=0).returncode, 0)
        for f, mode in (("ca.key", 0o600), ("tls.key", 0o600), ("ca.crt", 0o644), ("tls.crt", 0o644)):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.dir, f)).st_mode), mode, f)
        for crt, key in (("tls.crt", "tls.key"), ("ca.crt", "ca.key")):
            from_cert = openssl("x509", "-in", os.path.join(self.dir, crt), "-noout", "-pubkey").stdout
            from_key = openssl("pkey", "-in", os.path.join(self.dir, key), "-pubout").stdout
            self.assertTrue(from_cert.startswith("-----BEGIN PUBLIC KEY-----"))
            self.assertEqual(from_cert, from_key, crt)

    def test_a_narrow_umask_still_leaves_certificates_readable(self):
        self.assertEqual(self.make(umask=0o077).returncode, 0)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.dir, "tls.crt")).st_mode), 0o644)

    def test_days_and_rsa(self):
        before = datetime.now(timezone.utc)
        r = self.make("--days", "90", "--ca-days", "400", "--key", "rsa")
        self.assertEqual(r.returncode, 0, r.stderr)
        leaf_end = not_after(os.path.join(self.dir, "tls.crt"))
        ca_end = not_after(os.path.join(self.dir, "ca.crt"))
        self.assertLess(abs((leaf_end - before).total_seconds() - 90 * 86400), 600)
        self.assertLess(abs((ca_end - before).total_seconds() - 400 * 86400), 600)
        for f in ("tls.key", "ca.key"):
            text = openssl("pkey", "-in", os.path.join(self.dir, f), "-noout", "-text").stdout
            self.assertIn("Private-Key: (2048 bit", text, f)
        self.assertEqual(verify(self.dir, NAMES[2]).returncode, 0)

    def test_extra_names_and_addresses(self):
        r = self.make("--dns", "localhost", "--ip", "127.0.0.1", "--cluster-domain", "corp.local")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sans(os.path.join(self.dir, "tls.crt")),
                         [("DNS", "ray-admission"), ("DNS", "ray-admission.ray-system"),
                          ("DNS", "ray-admission.ray-system.svc"), ("DNS", "ray-admission.ray-system.svc.corp.local"),
                          ("DNS", "localhost"), ("IP Address", "127.0.0.1")])
        v = openssl("verify", "-CAfile", os.path.join(self.dir, "ca.crt"), "-verify_ip", "127.0.0.1",
                    os.path.join(self.dir, "tls.crt"))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def test_refuses_to_overwrite_without_force(self):
        self.assertEqual(self.make().returncode, 0)
        before = digests(self.dir)
        r = self.make()
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing to overwrite", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(digests(self.dir), before)
        # One existing file is enough to refuse.
        os.remove(os.path.join(self.dir, "ca.crt"))
        os.remove(os.path.join(self.dir, "ca.key"))
        os.remove(os.path.join(self.dir, "tls.crt"))
        self.assertEqual(self.make().returncode, 1)
        self.assertEqual(os.listdir(self.dir), ["tls.key"])

    def test_force_replaces_everything(self):
        self.assertEqual(self.make().returncode, 0)
        before = digests(self.dir)
        r = self.make("--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = digests(self.dir)
        for f in FILES:
            self.assertNotEqual(before[f], after[f], f)
        self.assertEqual(verify(self.dir).returncode, 0)

    def test_renew_does_nothing_while_the_certificate_is_fresh(self):
        self.assertEqual(self.make().returncode, 0)
        before = digests(self.dir)
        r = self.make("--renew")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing to renew", r.stdout)
        self.assertEqual(digests(self.dir), before)

    def test_renew_within_30_days_keeps_the_ca(self):
        self.assertEqual(self.make("--days", "29").returncode, 0)
        before = digests(self.dir)
        r = self.make("--renew")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("renewed", r.stdout)
        after = digests(self.dir)
        self.assertEqual(after["ca.crt"], before["ca.crt"])
        self.assertEqual(after["ca.key"], before["ca.key"])
        self.assertNotEqual(after["tls.crt"], before["tls.crt"])
        self.assertNotEqual(after["tls.key"], before["tls.key"])
        self.assertEqual(verify(self.dir, NAMES[2]).returncode, 0)
        left = (not_after(os.path.join(self.dir, "tls.crt")) - datetime.now(timezone.utc)).days
        self.assertGreaterEqual(left, 364)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.dir, "tls.key")).st_mode), 0o600)
        # And at 31 days left, nothing happens.
        self.assertEqual(self.make("--force", "--days", "31").returncode, 0)
        before = digests(self.dir)
        self.assertEqual(self.make("--renew").returncode, 0)
        self.assertEqual(digests(self.dir), before)

    def test_renew_reissues_for_other_names_or_a_foreign_certificate(self):
        self.assertEqual(self.make().returncode, 0)
        ca_before = digest(os.path.join(self.dir, "ca.crt"))
        r = self.make("--renew", service="webhook")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("renewed", r.stdout)
        self.assertEqual(sans(os.path.join(self.dir, "tls.crt"))[0], ("DNS", "webhook"))
        self.assertEqual(digest(os.path.join(self.dir, "ca.crt")), ca_before)
        # A tls.crt/tls.key from another CA is replaced by one from this CA.
        other = os.path.join(self.tmp.name, "other")
        self.assertEqual(certs("--service", "webhook", "--namespace", "ray-system", "--out", other).returncode, 0)
        for f in ("tls.crt", "tls.key"):
            os.replace(os.path.join(other, f), os.path.join(self.dir, f))
        self.assertNotEqual(verify(self.dir).returncode, 0)
        r = self.make("--renew", service="webhook")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("renewed", r.stdout)
        self.assertEqual(verify(self.dir).returncode, 0)
        # A missing leaf is issued.
        os.remove(os.path.join(self.dir, "tls.key"))
        self.assertEqual(self.make("--renew", service="webhook").returncode, 0)
        self.assertEqual(verify(self.dir).returncode, 0)

    def test_renew_needs_the_ca(self):
        r = self.make("--renew")
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(self.dir))
        self.assertEqual(self.make().returncode, 0)
        os.remove(os.path.join(self.dir, "ca.key"))
        r = self.make("--renew")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ca.key", r.stderr)

    def test_renew_refuses_a_ca_about_to_expire(self):
        self.assertEqual(self.make("--days", "10", "--ca-days", "20").returncode, 0)
        before = digests(self.dir)
        r = self.make("--renew")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--force", r.stderr)
        self.assertEqual(digests(self.dir), before)

    def test_bad_arguments(self):
        cases = [
            [],
            ["--service", "ray-admission", "--namespace", "ray-system"],
            ["--service", "Ray_Admission", "--namespace", "ray-system", "--out", self.dir],
            ["--service", "1webhook", "--namespace", "ray-system", "--out", self.dir],
            ["--service", "ray-admission", "--namespace", "Ray", "--out", self.dir],
            ["--service", "ray-admission", "--namespace", "ray-system", "--out", self.dir, "--days", "0"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--out", self.dir, "--days", "x"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--out", self.dir, "--key", "dsa"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--out", self.dir, "--force", "--renew"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--out", self.dir, "--days", "400", "--ca-days", "300"],
            ["--service", "ray-admission", "--namespace", "ray-system", "--out", self.dir, "--bogus"],
        ]
        for args in cases:
            with self.subTest(args=args):
                r = certs(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("usage: ray-admission certs", r.stderr)
        self.assertFalse(os.path.exists(self.dir))
        r = self.make("--ip", "not-an-ip")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an IP address", r.stderr)

    def test_help(self):
        r = certs("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--renew", r.stdout)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: certs_cli_test.py path/to/ray-admission SOURCE_DIR")
    BINARY = os.path.abspath(sys.argv[1])
    unittest.main(argv=sys.argv[:1], verbosity=2)
