"""`ray-admission serve`: the limits cpp-httplib's defaults get wrong, each a tested non-problem.

Usage: server_limits_test.py path/to/ray-admission SOURCE_DIR

  - TCP_NODELAY and keep-alive: many requests on one connection, fast, with no reconnect;
  - dozens of idle, silent, half-handshaken and trickling clients do not delay a well-behaved
    client by more than a second;
  - a request trickled a byte at a time is cut off at the read deadline (408), a silent
    connection at the handshake deadline, an idle keep-alive one at the idle deadline;
  - an oversized body, chunked or not, is refused before it is buffered (the server's peak
    memory barely moves while the client offers 64 MiB);
  - the listen backlog is not 5.
"""

import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (RecordTls, Server, check, poll_response, ray_cluster, raw_tls_socket,  # noqa: E402
                         read_http_response, review, run_tests)

BINARY = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="ray-admission-limits-")
BODY = json.dumps(review(ray_cluster(prestop=["/bin/sh", "-c", "ray stop"]))).encode()
REQUEST = (b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
           + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

srv = Server(BINARY, ["--read-timeout", "2", "--handshake-timeout", "2", "--idle-timeout", "3",
                      "--max-body", "1Mi", "--workers", "2"], workdir=WORK)


def test_keep_alive_and_nodelay():
    conn = srv.connection()
    conn.connect()
    sock = conn.sock
    times = []
    for _ in range(200):
        t0 = time.monotonic()
        status, headers, body = srv.post_json("/validate", BODY, conn=conn)
        times.append(time.monotonic() - t0)
        check(status == 200 and body["response"]["allowed"] is True, body)
        check(headers.get("connection", "").lower() != "close", headers)
    check(conn.sock is sock, "the client had to reconnect: the server closed a kept-alive connection")
    conn.close()
    # Nagle's algorithm with delayed ACKs costs ~40 ms per request on a kept-alive connection.
    median = statistics.median(times)
    check(median < 0.02, f"median latency {median * 1000:.1f} ms on a kept-alive connection")


def good_client_latency(n=10):
    """The worst time a well-behaved client waits, on new connections and on a kept-alive one."""
    worst = 0.0
    for _ in range(n):
        t0 = time.monotonic()
        status, _, body = srv.post_json("/validate", BODY)
        worst = max(worst, time.monotonic() - t0)
        check(status == 200, status)
    conn = srv.connection()
    for _ in range(n):
        t0 = time.monotonic()
        status, _, _ = srv.post_json("/validate", BODY, conn=conn)
        worst = max(worst, time.monotonic() - t0)
        check(status == 200, status)
    conn.close()
    return worst


def test_idle_and_slow_clients_do_not_delay_others():
    held = []
    stop = threading.Event()
    # 40 TCP connections that never send a ClientHello.
    for _ in range(40):
        held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
    # 20 that finish the handshake and send nothing.
    for _ in range(20):
        held.append(raw_tls_socket(srv.port, srv.context()))
    # 20 that send headers and half a body, then stall.
    for _ in range(20):
        s = raw_tls_socket(srv.port, srv.context())
        s.sendall(REQUEST[: len(REQUEST) - len(BODY) // 2])
        held.append(s)

    # 20 that trickle their request a byte every 100 ms.
    def trickle():
        try:
            s = raw_tls_socket(srv.port, srv.context())
            held.append(s)
            for b in REQUEST:
                if stop.is_set():
                    return
                s.send(bytes([b]))
                time.sleep(0.1)
        except OSError:
            pass

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    try:
        worst = good_client_latency()
        check(worst < 1.0, f"a well-behaved client waited {worst:.2f} s behind 100 idle or slow clients")
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        for s in held:
            s.close()


def test_trickling_request_is_cut_at_the_read_deadline():
    s = raw_tls_socket(srv.port, srv.context(), timeout=15)
    t0 = time.monotonic()
    status = None
    try:
        for b in REQUEST:
            s.send(bytes([b]))
            time.sleep(0.3)
            got = poll_response(s)
            if got is not None:
                status, _, body = read_http_response(s, pending=got)
                break
    except (ConnectionError, ssl.SSLError):
        pass
    elapsed = time.monotonic() - t0
    s.close()
    check(status == 408, f"status {status}")
    check(elapsed < 4.5, f"cut after {elapsed:.1f} s with --read-timeout 2")


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    t0 = time.monotonic()
    try:
        data = sock.recv(1024)
    except (ConnectionError, ssl.SSLError):
        data = b""
    except socket.timeout:
        return None
    return (time.monotonic() - t0) if not data else None


def test_silent_and_idle_connections_are_closed():
    silent = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t = closed_within(silent, 6)
    check(t is not None and t < 4, f"a connection with no ClientHello was kept {t}")
    silent.close()
    conn = srv.connection()
    status, _, _ = srv.post_json("/validate", BODY, conn=conn)
    check(status == 200, status)
    t = closed_within(conn.sock, 8)
    check(t is not None and t < 5.5, f"an idle kept-alive connection was kept {t}")
    conn.close()
    check(srv.metric("ray_admission_connections_closed_total", {"reason": "handshake_timeout"}) >= 1, srv.metrics())
    check(srv.metric("ray_admission_connections_closed_total", {"reason": "idle_timeout"}) >= 1, srv.metrics())


def offer_chunked(chunk, total):
    """Sends a chunked /validate body of up to `total` bytes; returns (bytes sent, status)."""
    s = raw_tls_socket(srv.port, srv.context(), timeout=20)
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = 0
    status = None
    got = None
    try:
        while sent < total:
            s.sendall(piece)
            sent += len(chunk)
            got = poll_response(s)
            if got is not None:
                break
        status, _, body = read_http_response(s, pending=got or b"")
        check(json.loads(body)["code"] == status, body)
    finally:
        s.close()
    return sent, status


def test_oversized_bodies_are_refused_before_buffering():
    base = srv.rss_kib()
    # Content-Length far over the cap: refused at the headers.
    s = raw_tls_socket(srv.port, srv.context())
    s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
              b"201326592\r\n\r\n" + b" " * 65536)
    status, headers, _ = read_http_response(s)
    s.close()
    check(status == 413 and headers.get("connection") == "close", (status, headers))
    # One chunk that declares 192 MiB: refused at its size line.
    s = raw_tls_socket(srv.port, srv.context())
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\nc000000\r\n" + b"x" * 65536)
    status, _, _ = read_http_response(s)
    s.close()
    check(status == 413, status)
    # 64 KiB chunks, up to 64 MiB offered: refused once they cross the 1 MiB cap.
    sent, status = offer_chunked(b"x" * 65536, 64 << 20)
    check(status == 413, status)
    # What the client got out before it saw the 413 includes what the kernel's socket buffers on
    # both sides took (several MiB on loopback); the server's own memory is the real measure.
    grown = srv.rss_kib() - base
    print(f"     sent {sent >> 10} KiB of 65536 KiB offered; server peak RSS grew {grown >> 10} MiB", flush=True)
    check(sent <= 16 << 20, f"the client sent {sent >> 10} KiB before the 413")
    check(grown < 48 * 1024, f"the server's peak memory grew by {grown >> 10} MiB")
    # Just under the cap is accepted (a 400: the body is not JSON).
    s = raw_tls_socket(srv.port, srv.context())
    body = b" " * ((1 << 20) - 10)
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
              b"\r\n\r\n%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    status, _, data = read_http_response(s)
    s.close()
    check(status == 400 and b"not valid JSON" in data, (status, data[:200]))
    # A chunked review is served like any other.
    s = raw_tls_socket(srv.port, srv.context())
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
              b"\r\n\r\n%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n")
    status, _, data = read_http_response(s)
    s.close()
    check(status == 200 and json.loads(data)["response"]["allowed"] is True, (status, data[:200]))


def test_request_past_the_read_budget_already_in_openssl():
    # The server reads at most 1 MiB from a connection before it serves the others, then waits
    # for the socket again. A request a little over that, sent at once as full 16 KiB TLS records
    # and a small last one: OpenSSL reads ahead, so when the 1 MiB is used up, the last record is
    # already in OpenSSL's buffer and the socket has nothing more to say. The server must read
    # it anyway (it used to wait for the socket until the read deadline: a 408). A valid review
    # goes to /validate, and the answer carries its uid.
    # (A long header leaves room to go past 1 MiB in all with a body under the 1 MiB cap.)
    head = (b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Padding: " + b"p" * 500 + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    doc = review(ray_cluster())
    doc["request"]["uid"] = "over-the-read-budget"
    for attempt, tail in enumerate(range(8, 500, 4)):  # how far the request goes past 1 MiB
        body = json.dumps(doc).encode()
        framing = len(head) + len(b"%x\r\n" % ((1 << 20) - 1)) + len(b"\r\n0\r\n\r\n")  # a 5-digit size
        body += b" " * ((1 << 20) + tail - framing - len(body))
        request = head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        check(len(request) == (1 << 20) + tail, len(request))
        conn = RecordTls(srv.port, srv.context())
        try:
            for i in range(0, len(request), 16384):
                conn.write(request[i:i + 16384])  # one full record per write, and a short last one
            started = time.monotonic()
            conn.send()  # every record in one send(2)
            [(status, data)] = conn.read_responses(1)
            took = time.monotonic() - started
        finally:
            conn.close()
        check(status == 200, (attempt, tail, status, data[:200]))
        check(json.loads(data)["response"]["uid"] == "over-the-read-budget", data[:200])
        check(took < 1.5, f"attempt {attempt}: answered after {took:.2f} s")


def test_expect_continue():
    # curl sends `Expect: 100-continue` for large bodies; an over-cap one is refused before upload.
    big = os.path.join(WORK, "big.json")
    with open(big, "wb") as f:
        f.write(b" " * (2 << 20))
    t0 = time.monotonic()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_upload}", "--cacert",
                          srv.ca_file, f"https://localhost:{srv.port}/validate", "-H",
                          "Content-Type: application/json", "-H", "Expect: 100-continue", "--data-binary", "@" + big],
                         capture_output=True, text=True, timeout=60)
    code, uploaded = out.stdout.split()
    check(code == "413", out.stdout + out.stderr)
    check(float(uploaded) < (1 << 20), f"curl uploaded {uploaded} bytes before the 413")
    check(time.monotonic() - t0 < 5, "slow")
    # And a body under the cap goes through after the interim 100 Continue.
    small = os.path.join(WORK, "small.json")
    with open(small, "wb") as f:
        f.write(BODY)
    out = subprocess.run(["curl", "-sS", "--cacert", srv.ca_file, f"https://localhost:{srv.port}/validate", "-H",
                          "Content-Type: application/json", "-H", "Expect: 100-continue", "--data-binary",
                          "@" + small], capture_output=True, text=True, timeout=60)
    check(json.loads(out.stdout)["response"]["allowed"] is True, out.stdout + out.stderr)


def test_large_reviews_on_kept_alive_connections():
    # Bodies over 256 KiB are answered by the pool rather than the event loop; the connection
    # then goes back to its loop. Large and small reviews alternate on each of 6 connections at
    # once (more connections than loops), and every answer must be right.
    small = ray_cluster(name="small")
    large = ray_cluster(name="large")
    large["metadata"]["annotations"] = {"example.com/padding": "x" * (600 << 10)}
    bodies = {"small": json.dumps(review(small)).encode(), "large": json.dumps(review(large)).encode()}
    check(len(bodies["large"]) > (512 << 10) and len(bodies["large"]) < (1 << 20), len(bodies["large"]))
    errors = []

    def client(k):
        try:
            conn = srv.connection()
            conn.connect()
            sock = conn.sock
            for i in range(12):
                which = "large" if (i + k) % 2 else "small"
                path = "/mutate" if i % 3 == 0 else "/validate"
                status, headers, body = srv.post_json(path, bodies[which], conn=conn)
                resp = body["response"]
                if status != 200 or resp["allowed"] is not True or headers.get("connection") == "close":
                    errors.append((k, i, which, path, status, headers))
                elif path == "/mutate" and resp.get("patchType") != "JSONPatch":
                    errors.append((k, i, which, path, "no patch", resp))
            if conn.sock is not sock:
                errors.append((k, "reconnected"))
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(not errors, errors[:3])


def test_backlog_and_burst():
    out = subprocess.run(["ss", "-Hltn", f"sport = :{srv.port}"], capture_output=True, text=True, timeout=30)
    fields = out.stdout.split()
    check(len(fields) >= 3, out.stdout + out.stderr)
    backlog = int(fields[2])  # Send-Q of a listening socket: its backlog
    check(backlog >= 512, f"listen backlog {backlog}")
    # 200 connections at once all get through the handshake quickly.
    results = []

    def connect():
        t0 = time.monotonic()
        try:
            s = raw_tls_socket(srv.port, srv.context(), timeout=10)
            s.close()
            results.append(time.monotonic() - t0)
        except OSError as e:
            results.append(e)

    threads = [threading.Thread(target=connect) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    errors = [r for r in results if not isinstance(r, float)]
    check(not errors, f"{len(errors)} of 200 connections failed: {errors[:3]}")
    slowest = max(results)
    check(slowest < 3.0, f"the slowest of 200 simultaneous handshakes took {slowest:.2f} s")


run_tests([
    ("keep-alive and TCP_NODELAY", test_keep_alive_and_nodelay),
    ("idle and slow clients do not delay others", test_idle_and_slow_clients_do_not_delay_others),
    ("trickled request cut at the read deadline", test_trickling_request_is_cut_at_the_read_deadline),
    ("silent and idle connections closed", test_silent_and_idle_connections_are_closed),
    ("oversized bodies refused before buffering", test_oversized_bodies_are_refused_before_buffering),
    ("a request past the read budget, its end already in OpenSSL", test_request_past_the_read_budget_already_in_openssl),
    ("Expect: 100-continue", test_expect_continue),
    ("large and small reviews on kept-alive connections", test_large_reviews_on_kept_alive_connections),
    ("listen backlog, connection burst", test_backlog_and_burst),
], workdirs=[WORK])
