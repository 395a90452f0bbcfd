"""`ray-admission serve`: SIGTERM and SIGINT under load.

Usage: server_shutdown_test.py path/to/ray-admission SOURCE_DIR

On the signal the server stops accepting, finishes every request in flight (including requests
whose body is still arriving), closes idle kept-alive connections, and exits 0 within
--shutdown-timeout; a client that never finishes its request does not hold it longer than that.
"""

import json
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import Server, check, ray_cluster, raw_tls_socket, read_http_response, review, run_tests  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="ray-admission-shutdown-")
BODY = json.dumps(review(ray_cluster(prestop=["/bin/sh", "-c", "ray stop"]))).encode()
HEAD = (b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(BODY)).encode() + b"\r\n\r\n")


class Load:
    """Clients sending requests on new connections in a loop. A failure counts as a dropped request
    only if the request was sent on an established TLS connection and no answer came back."""

    def __init__(self, srv, threads=4):
        self.srv = srv
        self.stop = threading.Event()
        self.answered = 0
        self.not_accepted = 0
        self.dropped = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        ctx = self.srv.context()
        while not self.stop.is_set():
            try:
                s = raw_tls_socket(self.srv.port, ctx, timeout=20)
            except (OSError, ssl.SSLError):
                self.not_accepted += 1  # refused or reset before the handshake: never accepted
                time.sleep(0.01)
                continue
            try:
                s.sendall(HEAD + BODY)
            except (OSError, ssl.SSLError):
                # Closed before the request went out: a connection the server closed as idle.
                self.not_accepted += 1
                s.close()
                continue
            try:
                status, _, data = read_http_response(s, timeout=20)
                if status != 200 or json.loads(data)["response"]["allowed"] is not True:
                    self.dropped.append(f"status {status}")
                else:
                    self.answered += 1
            except Exception as e:  # noqa: BLE001
                self.dropped.append(f"{type(e).__name__}: {e}")
            finally:
                s.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_sigterm_under_load():
    srv = Server(BINARY, ["--shutdown-timeout", "15"], workdir=WORK)
    load = Load(srv)
    # Requests in flight when the signal comes: headers and half the body sent.
    partial = []
    for _ in range(10):
        s = raw_tls_socket(srv.port, srv.context(), timeout=20)
        s.sendall(HEAD + BODY[: len(BODY) // 2])
        partial.append(s)
    # Kept-alive connections that are idle between two requests.
    idle = []
    for _ in range(3):
        s = raw_tls_socket(srv.port, srv.context(), timeout=20)
        s.sendall(HEAD + BODY)
        status, headers, _ = read_http_response(s)
        check(status == 200 and headers.get("connection") != "close", headers)
        idle.append(s)
    time.sleep(0.5)
    check(load.answered > 0, "no load before the signal")

    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    time.sleep(0.5)
    # The requests in flight finish, with `Connection: close`.
    for s in partial:
        s.sendall(BODY[len(BODY) // 2:])
    for s in partial:
        status, headers, data = read_http_response(s, timeout=20)
        check(status == 200 and json.loads(data)["response"]["allowed"] is True, (status, data[:200]))
        check(headers.get("connection") == "close", headers)
        s.close()
    # Idle kept-alive connections were closed.
    for s in idle:
        s.settimeout(10)
        try:
            check(s.recv(1) == b"", "an idle connection stayed open")
        except (ConnectionError, ssl.SSLError):
            pass
        s.close()
    # No new connections.
    refused = False
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    except ConnectionRefusedError:
        refused = True
    check(refused, "the server still accepts connections after SIGTERM")
    srv.proc.wait(20)
    elapsed = time.monotonic() - t0
    load.finish()
    check(srv.proc.returncode == 0, f"exit status {srv.proc.returncode}")
    check(elapsed < 15, f"took {elapsed:.1f} s to stop")
    check(not load.dropped, f"{len(load.dropped)} requests in flight were dropped: {load.dropped[:5]}")
    check(load.answered > 10, f"only {load.answered} answered under load")
    log = srv.log()
    check("shutting down" in log and "server stopped" in log, log[-2000:])


def test_shutdown_timeout_bounds_a_stuck_client():
    srv = Server(BINARY, ["--shutdown-timeout", "2", "--read-timeout", "60"], workdir=WORK)
    s = raw_tls_socket(srv.port, srv.context(), timeout=20)
    s.sendall(HEAD + BODY[:10])  # never finished
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.signal(signal.SIGINT)
    srv.proc.wait(20)
    elapsed = time.monotonic() - t0
    s.close()
    check(srv.proc.returncode == 0, f"exit status {srv.proc.returncode}")
    check(1.5 < elapsed < 5, f"stopped after {elapsed:.1f} s with --shutdown-timeout 2")
    check("shutdown timeout" in srv.log(), srv.log()[-2000:])


def test_second_signal_stops_at_once():
    srv = Server(BINARY, ["--shutdown-timeout", "60", "--read-timeout", "60"], workdir=WORK)
    s = raw_tls_socket(srv.port, srv.context(), timeout=20)
    s.sendall(HEAD + BODY[:10])  # never finished: the first signal alone would wait 60 s
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    time.sleep(0.5)
    check(srv.proc.poll() is None, "stopped before the second signal")
    srv.signal(signal.SIGTERM)
    srv.proc.wait(20)
    elapsed = time.monotonic() - t0
    s.close()
    check(srv.proc.returncode == 0, f"exit status {srv.proc.returncode}")
    check(elapsed < 5, f"stopped {elapsed:.1f} s after the first signal, with a second one after 0.5 s")
    check("second signal" in srv.log(), srv.log()[-2000:])


def test_large_review_in_flight_finishes():
    # A body over 256 KiB is answered by the pool, not by the thread that read it; one whose last
    # bytes arrive after SIGTERM must still be answered, with `Connection: close`.
    obj = ray_cluster(prestop=["/bin/sh", "-c", "ray stop"])
    obj["metadata"]["annotations"] = {"example.com/padding": "x" * (400 << 10)}
    body = json.dumps(review(obj)).encode()
    head = (b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n")
    srv = Server(BINARY, ["--shutdown-timeout", "15"], workdir=WORK)
    s = raw_tls_socket(srv.port, srv.context(), timeout=20)
    s.sendall(head + body[:-100])
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    s.sendall(body[-100:])
    status, headers, data = read_http_response(s, timeout=20)
    s.close()
    check(status == 200 and json.loads(data)["response"]["allowed"] is True, (status, data[:200]))
    check(headers.get("connection") == "close", headers)
    srv.proc.wait(20)
    check(srv.proc.returncode == 0, f"exit status {srv.proc.returncode}")


def test_shutdown_delay_keeps_accepting_with_readyz_failing():
    srv = Server(BINARY, ["--shutdown-delay", "2"], workdir=WORK)
    check(srv.request("GET", "/readyz")[0] == 200, "not ready")
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    status, _, data = srv.request("GET", "/readyz")
    check(status == 503 and json.loads(data)["code"] == 503, (status, data))
    status, _, body = srv.post_json("/validate", BODY)
    check(status == 200 and body["response"]["allowed"] is True, "new connections are served during the delay")
    check(time.monotonic() - t0 < 2, "the check above ran too late to mean anything")
    srv.proc.wait(20)
    elapsed = time.monotonic() - t0
    check(srv.proc.returncode == 0 and 2 <= elapsed < 6, (srv.proc.returncode, elapsed))


def test_idle_server_stops_at_once():
    srv = Server(BINARY, [], workdir=WORK)
    check(srv.request("GET", "/healthz")[0] == 200, "not serving")
    t0 = time.monotonic()
    code = srv.stop()
    check(code == 0, f"exit status {code}")
    check(time.monotonic() - t0 < 3, "an idle server should stop at once")


run_tests([
    ("SIGTERM under load: nothing in flight dropped", test_sigterm_under_load),
    ("--shutdown-timeout bounds a stuck client", test_shutdown_timeout_bounds_a_stuck_client),
    ("a second signal stops at once", test_second_signal_stops_at_once),
    ("a large review in flight finishes", test_large_review_in_flight_finishes),
    ("--shutdown-delay keeps accepting, /readyz fails", test_shutdown_delay_keeps_accepting_with_readyz_failing),
    ("an idle server stops at once", test_idle_server_stops_at_once),
], workdirs=[WORK])
