#!/usr/bin/python3
"""The Dockerfile, without Docker (no daemon runs on the build machines).

Checks its structure as text (stages, the install script, a runtime stage with no shell, a
non-root USER), then runs its collect-rootfs step for real on the binary under test and runs the
result in a chroot: the binary must work with nothing but the files that step copied.

Usage: deploy_dockerfile_test.py path/to/ray-admission SOURCE_DIR
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = None
SOURCE = None


def instructions(text):
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    out = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def stages(instrs):
    result = []
    for ins, args in instrs:
        if ins == "FROM":
            result.append({"from": args, "steps": []})
        else:
            result[-1]["steps"].append((ins, args))
    return result


ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def image_env(stage):
    """The variables a stage's ENV instructions set (the KEY=VALUE form)."""
    env = {}
    for ins, args in stage["steps"]:
        if ins == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value.strip('"')
    return env


def private_mounts_work(unshare):
    """Whether a private mount namespace can be made here (not inside a plain chroot)."""
    r = subprocess.run([unshare, "--mount", "--propagation", "private", "true"], capture_output=True)
    return r.returncode == 0


def chroot_command(root, *argv):
    """Runs argv inside `root` as a container runtime would: only /proc is added (sanitizer builds
    need it), in a private mount namespace that disappears with the process. As root: unshare -m,
    and the image's USER 65532; otherwise a user namespace that maps us to root, with a pid
    namespace to own that /proc."""
    os.makedirs(os.path.join(root, "proc"), exist_ok=True)
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    unshare = shutil.which("unshare") or "unshare"
    if os.geteuid() == 0 and private_mounts_work(unshare):
        cmd = [unshare, "--mount", "--propagation", "private", "sh", "-c",
               'root=$1; chroot=$2; shift 2; mount -t proc proc "$root/proc" && exec "$chroot" --userspec=65532:65532 "$root" "$@"',
               "in_chroot", root, chroot]
    elif os.geteuid() == 0:
        # Inside a chroot (a debootstrap test machine), "/" is no mount point and its propagation
        # cannot be made private: mount /proc in this namespace and take it down afterwards.
        cmd = ["sh", "-c",
               'root=$1; chroot=$2; shift 2; mount -t proc proc "$root/proc" || exit 1; '
               '"$chroot" --userspec=65532:65532 "$root" "$@" & pid=$!; '
               "trap 'kill -TERM $pid' TERM INT; "  # pass a stop on to the server, then clean up
               'while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || break; done; '
               'umount -l "$root/proc"; exit $rc',
               "in_chroot", root, chroot]
    else:
        cmd = [unshare, "-r", "-m", "-p", "-f", "--mount-proc=" + os.path.join(root, "proc"), chroot, root]
    return cmd + list(argv)


def in_chroot(root, *argv):
    return subprocess.run(chroot_command(root, *argv), capture_output=True, text=True, env=ENV)


class Dockerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE, "Dockerfile")) as f:
            cls.text = f.read()
        cls.stages = stages(instructions(cls.text))

    def test_multi_stage_on_bookworm(self):
        self.assertGreaterEqual(len(self.stages), 2)
        self.assertEqual(self.stages[0]["from"], "debian:bookworm AS build")

    def test_build_stage_uses_the_install_script(self):
        runs = [a for i, a in self.stages[0]["steps"] if i == "RUN"]
        self.assertTrue(runs, "no RUN in the build stage")
        self.assertIn("/src/scripts/install-deps.sh --build-only", runs[0])
        with open(os.path.join(SOURCE, "README.md")) as f:
            self.assertIn("scripts/install-deps.sh", f.read())
        build = " ".join(runs)
        self.assertIn("--target ray-admission", build)
        self.assertIn("-DRAY_ADMISSION_TESTS=OFF", build)

    def test_build_only_leaves_test_packages_out(self):
        # The package list the script would install, printed instead of installed.
        with open(os.path.join(SOURCE, "scripts", "install-deps.sh")) as f:
            script = f.read()
        self.assertIn('missing=""', script)
        script = script.replace('missing=""', 'printf "%s\\n" $PACKAGES; exit 0', 1)
        lists = {}
        for flag in ("--build-only", ""):
            r = subprocess.run(["sh", "-c", script, "install-deps.sh"] + ([flag] if flag else []),
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            lists[flag] = set(r.stdout.split())
        build, full = lists["--build-only"], lists[""]
        for p in ("build-essential", "cmake", "libssl-dev", "libcpp-httplib-dev", "libyaml-cpp-dev", "libspdlog-dev",
                  "nlohmann-json3-dev"):
            self.assertIn(p, build)
        for p in ("doctest-dev", "python3", "python3-jsonpatch", "clang"):
            self.assertIn(p, full)
            self.assertNotIn(p, build)
        self.assertTrue(build < full)

    def test_runtime_stage_has_no_shell_and_a_non_root_user(self):
        final = self.stages[-1]
        self.assertEqual(final["from"], "scratch")
        kinds = [i for i, _ in final["steps"]]
        self.assertNotIn("RUN", kinds)  # nothing could run it: there is no shell
        self.assertNotIn("ADD", kinds)
        for i, a in final["steps"]:
            if i == "COPY":
                self.assertTrue(a.startswith("--from=build "), a)
        users = [a for i, a in final["steps"] if i == "USER"]
        self.assertEqual(len(users), 1)
        user = users[0].split(":")[0]
        self.assertTrue(user.isdigit(), "USER must be numeric (no /etc/passwd in the image): " + users[0])
        self.assertNotEqual(int(user), 0)
        entry = [a for i, a in final["steps"] if i == "ENTRYPOINT"]
        self.assertEqual(entry, ['["/usr/local/bin/ray-admission"]'])  # exec form: no shell needed
        cmd = [a for i, a in final["steps"] if i == "CMD"]
        self.assertEqual(cmd, ['["serve"]'])

    def test_runtime_stage_sets_the_malloc_cache_glibc_reads(self):
        # The image's environment raises glibc's per-thread cache, and the image's own loader
        # takes the setting (glibc ignores a misspelt tunable without a word).
        env = image_env(self.stages[-1])
        self.assertIn("GLIBC_TUNABLES", env)
        wanted = dict(t.split("=", 1) for t in env["GLIBC_TUNABLES"].split(":"))
        self.assertIn("glibc.malloc.tcache_count", wanted)
        count = int(wanted["glibc.malloc.tcache_count"])
        self.assertGreater(count, 7)  # glibc's default
        with tempfile.TemporaryDirectory() as tmp:
            root = self.collect(tmp)
            loaders = [p for p in ("lib64/ld-linux-x86-64.so.2", "lib/ld-linux-aarch64.so.1")
                       if os.path.exists(os.path.join(root, p))]
            self.assertTrue(loaders, "no dynamic loader in the collected rootfs")
            r = subprocess.run(chroot_command(root, "/" + loaders[0], "--list-tunables"), capture_output=True,
                               text=True, env={**ENV, **env})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("glibc.malloc.tcache_count: %#x " % count, r.stdout)

    def test_dockerignore(self):
        with open(os.path.join(SOURCE, ".dockerignore")) as f:
            lines = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        for pattern in (".git", "build", "build-*"):
            self.assertIn(pattern, lines)

    def collect(self, tmp):
        """Runs the Dockerfile's collect-rootfs step on the binary under test; returns the root."""
        collect = [a for i, a in self.stages[0]["steps"] if i == "RUN" and "ldd" in a]
        self.assertEqual(len(collect), 1, "one RUN step collects the runtime files")
        step = collect[0]
        self.assertIn("bin=/build/ray-admission;", step)
        self.assertIn("root=/rootfs;", step)
        root = os.path.join(tmp, "rootfs")
        script = step.replace("bin=/build/ray-admission;", "bin=%s;" % BINARY).replace("root=/rootfs;", "root=%s;" % root)
        r = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.makedirs(os.path.join(root, "out"))
        os.chmod(os.path.join(root, "out"), 0o777)
        return root

    def test_collected_rootfs_runs_the_binary(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = self.collect(tmp)
            files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
            self.assertIn("usr/local/bin/ray-admission", files)
            self.assertTrue(any(re.search(r"ld-linux.*\.so", f) for f in files), files)
            self.assertTrue(any("libssl.so" in f for f in files), files)
            self.assertFalse([f for f in files if f.endswith("/sh") or f.endswith("/bash")], files)
            # Nothing but the binary and shared objects.
            for f in files:
                self.assertTrue(f == "usr/local/bin/ray-admission" or ".so" in os.path.basename(f), f)

            r = in_chroot(root, "/usr/local/bin/ray-admission", "--version")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ray-admission", r.stdout)
            # OpenSSL works without its configuration files: `certs` in the bare root.
            r = in_chroot(root, "/usr/local/bin/ray-admission", "certs", "--service", "ray-admission",
                          "--namespace", "ray-system", "--out", "/out/certs")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            v = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(root, "out/certs/ca.crt"),
                                os.path.join(root, "out/certs/tls.crt")], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            r = in_chroot(root, "/usr/local/bin/ray-admission", "manifests", "--service", "ray-admission",
                          "--namespace", "ray-system", "--ca-bundle", "/out/certs/ca.crt")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("kind: ValidatingWebhookConfiguration", r.stdout)

    def test_collected_rootfs_serves_https(self):
        # The image's command: `serve`, with a mounted certificate, answering /readyz over TLS.
        with tempfile.TemporaryDirectory() as tmp:
            root = self.collect(tmp)
            r = in_chroot(root, "/usr/local/bin/ray-admission", "certs", "--service", "ray-admission",
                          "--namespace", "ray-system", "--out", "/out/certs")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            log = open(os.path.join(tmp, "serve.log"), "w+")
            server = subprocess.Popen(chroot_command(root, "/usr/local/bin/ray-admission", "serve", "--address",
                                                     "127.0.0.1", "--port", str(port), "--cert-dir", "/out/certs"),
                                      stdout=log, stderr=subprocess.STDOUT,
                                      env={**ENV, **image_env(self.stages[-1])})
            try:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(os.path.join(root, "out/certs/ca.crt"))
                deadline = time.time() + 60
                reply = b""
                while not reply:
                    self.assertIsNone(server.poll(), "serve exited")
                    try:
                        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                            with ctx.wrap_socket(raw, server_hostname="ray-admission.ray-system.svc") as tls:
                                tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                                while True:
                                    chunk = tls.recv(4096)
                                    if not chunk:
                                        break
                                    reply += chunk
                    except (ConnectionRefusedError, ConnectionResetError):
                        self.assertLess(time.time(), deadline, "serve did not listen")
                        time.sleep(0.2)
                self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
            finally:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
                log.seek(0)
                output = log.read()
                log.close()
            self.assertEqual(server.returncode, 0, output)

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: deploy_dockerfile_test.py path/to/ray-admission SOURCE_DIR")
    BINARY, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
