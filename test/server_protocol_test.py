"""`ray-admission serve`: the AdmissionReview protocol over real TLS on loopback.

Usage: server_protocol_test.py path/to/ray-admission SOURCE_DIR

Drives the real binary with Python's ssl and http.client, curl, and python3-jsonpatch (an
independent JSON Patch implementation) for the patches.
"""

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import jsonpatch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_util import (RecordTls, Server, check, decode_patch, ray_cluster, raw_tls_socket,  # noqa: E402
                         read_http_response, review, run_tests)

BINARY = os.path.abspath(sys.argv[1])
SOURCE = os.path.abspath(sys.argv[2])
WORK = tempfile.mkdtemp(prefix="ray-admission-protocol-")
SECRET = "s3cr3t-value-never-logged"


def bad_image_cluster():
    obj = ray_cluster(prestop=["/bin/sh", "-c", "ray stop"])
    obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.8.0"
    return obj


def good_cluster():
    obj = ray_cluster(prestop=["/bin/sh", "-c", "ray stop"])
    # Contents that must never reach the log.
    obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "TOKEN", "value": SECRET}]
    return obj


main = Server(BINARY, ["--fault-injection", "--log-format", "json"], workdir=WORK)


def test_versions_and_uid():
    for version in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
        for path in ("/validate", "/mutate"):
            doc = review(good_cluster(), version=version, uid="uid-" + version[-2:] + path)
            status, headers, body = main.post_json(path, doc)
            check(status == 200, f"{version} {path}: {status}")
            check(headers["content-type"].startswith("application/json"), headers)
            check(body["apiVersion"] == version, body)
            check(body["kind"] == "AdmissionReview", body)
            check(body["response"]["uid"] == doc["request"]["uid"], body)
            check(body["response"]["allowed"] is True, body)
            check("patch" not in body["response"] and "patchType" not in body["response"], body)
            check("warnings" not in body["response"], body)


def test_answers_are_not_compressed():
    # Go's HTTP client (the API server's) always sends Accept-Encoding: gzip.
    for enc in ("gzip", "br", "gzip, deflate, br"):
        status, headers, data = main.request("POST", "/validate", json.dumps(review(good_cluster())),
                                             {"Content-Type": "application/json", "Accept-Encoding": enc})
        check(status == 200 and "content-encoding" not in headers, headers)
        check(json.loads(data)["response"]["allowed"] is True, data[:200])


def test_deny_names_rule_and_fix():
    for path in ("/validate", "/mutate"):
        status, _, body = main.post_json(path, review(bad_image_cluster()))
        check(status == 200, status)
        r = body["response"]
        check(r["allowed"] is False, r)
        check(r["status"]["code"] == 403, r)
        msg = r["status"]["message"]
        check("[ray-image-version]" in msg and "2.8.0" in msg, msg)
        check("patch" not in r and "patchType" not in r, r)


def test_warn():
    obj = ray_cluster(prestop=["sleep", "5"])
    status, _, body = main.post_json("/validate", review(obj))
    r = body["response"]
    check(status == 200 and r["allowed"] is True, body)
    check(any(w.startswith("[ray-prestop]") for w in r.get("warnings", [])), r)
    check(all(len(w) <= 256 for w in r["warnings"]), r)


def test_patch_applies_and_reinvocation_is_clean():
    # No preStop hook (a default the mutation adds) and a memory quantity that must be bytes
    # (a deny rule whose mutation fixes it).
    obj = ray_cluster(prestop=None, memory="2Gi")
    status, _, body = main.post_json("/validate", review(obj))
    r = body["response"]
    check(r["allowed"] is False and "[ray-resource-params-format]" in r["status"]["message"], r)
    check("patch" not in r, "validate must never patch")

    status, _, body = main.post_json("/mutate", review(obj))
    r = body["response"]
    check(status == 200 and r["allowed"] is True, r)
    check(r["patchType"] == "JSONPatch", r)
    ops = decode_patch(r)
    patched = jsonpatch.JsonPatch(ops).apply(copy.deepcopy(obj))
    head = patched["spec"]["headGroupSpec"]
    check(head["rayStartParams"]["memory"] == "2147483648", head)
    check("preStop" in head["template"]["spec"]["containers"][0]["lifecycle"], head)
    check(any("ray-resource-params-format" in w for w in r.get("warnings", [])), r)
    check(not any("[ray-prestop]" in w for w in r.get("warnings", [])), "an added default is silent")

    # Reinvocation (reinvocationPolicy: IfNeeded) on the patched object: no patch, nothing denied.
    status, _, body = main.post_json("/mutate", review(patched))
    r = body["response"]
    check(r["allowed"] is True and "patch" not in r and "patchType" not in r, r)
    status, _, body = main.post_json("/validate", review(patched))
    check(body["response"]["allowed"] is True, body)


def test_delete_connect_allowed_at_once():
    for op in ("DELETE", "CONNECT"):
        doc = review(None, operation=op)
        doc["request"]["oldObject"] = bad_image_cluster()
        status, _, body = main.post_json("/validate", doc)
        check(status == 200 and body["response"]["allowed"] is True, body)


def test_update_semantics():
    bad = bad_image_cluster()
    # Being deleted: never denied, even with a spec that breaks a rule.
    deleting = copy.deepcopy(bad)
    deleting["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    deleting["metadata"]["finalizers"] = []
    status, _, body = main.post_json("/validate", review(deleting, operation="UPDATE", old=bad))
    check(body["response"]["allowed"] is True, body)
    # Only finalizers, labels, annotations and status: never denied, never patched.
    touched = copy.deepcopy(bad)
    touched["metadata"]["labels"] = {"team": "a"}
    touched["metadata"]["annotations"] = {"note": "b"}
    touched["metadata"]["finalizers"] = ["example.com/f"]
    touched["status"] = {"state": "ready"}
    for path in ("/validate", "/mutate"):
        status, _, body = main.post_json(path, review(touched, operation="UPDATE", old=bad))
        check(body["response"]["allowed"] is True and "patch" not in body["response"], body)
    # The spec is unchanged but something else changed: the old violation only warns.
    owned = copy.deepcopy(bad)
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "ray.io/v1", "kind": "RayJob", "name": "j", "uid": "1"}]
    status, _, body = main.post_json("/validate", review(owned, operation="UPDATE", old=bad))
    r = body["response"]
    check(r["allowed"] is True, r)
    check(any(w.startswith("[ray-image-version]") for w in r["warnings"]), r)
    # The spec changed: denied as on CREATE.
    edited = copy.deepcopy(bad)
    edited["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "2"
    edited["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "2"
    status, _, body = main.post_json("/validate", review(edited, operation="UPDATE", old=bad))
    check(body["response"]["allowed"] is False, body)


def test_dry_run_same_answer():
    obj = ray_cluster(prestop=None, memory="1Gi")
    a = review(obj, uid="same-uid")
    b = review(obj, uid="same-uid", dry_run=True)
    for path in ("/validate", "/mutate"):
        _, _, ra = main.post_json(path, a)
        _, _, rb = main.post_json(path, b)
        check(ra == rb, f"{path}: {ra} != {rb}")


def test_bad_requests():
    def expect(status_want, method, path, body=None, headers=None, words=""):
        status, h, data = main.request(method, path, body, headers)
        check(status == status_want, f"{method} {path}: {status} != {status_want}: {data[:200]!r}")
        check(h.get("content-type", "").startswith("application/json"), h)
        err = json.loads(data)
        check(err["kind"] == "Status" and err["code"] == status_want, err)
        check(words in err["message"], f"{words!r} not in {err['message']!r}")
        return err

    j = {"Content-Type": "application/json"}
    good = json.dumps(review(good_cluster()))
    expect(400, "POST", "/validate", b"{this is not json", j, "not valid JSON")
    expect(400, "POST", "/validate", b"", j, "empty")
    expect(400, "POST", "/validate", json.dumps({**review(good_cluster()), "kind": "Pod"}), j, "kind")
    expect(400, "POST", "/mutate", json.dumps({**review(good_cluster()), "apiVersion": "admission.k8s.io/v2"}), j,
           "apiVersion")
    expect(400, "POST", "/validate", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}), j,
           "request")
    no_uid = review(good_cluster())
    del no_uid["request"]["uid"]
    expect(400, "POST", "/validate", json.dumps(no_uid), j, "uid")
    expect(400, "POST", "/validate", "[" * 100000 + "]" * 100000, j, "deeper")
    expect(415, "POST", "/validate", good, {"Content-Type": "text/yaml"}, "Content-Type")
    expect(415, "POST", "/mutate", good, {}, "Content-Type")
    expect(404, "GET", "/nothing-here")
    expect(404, "POST", "/validate/extra", good, j)
    expect(405, "GET", "/validate")
    expect(405, "PUT", "/mutate", good, j)
    expect(405, "DELETE", "/healthz")
    expect(405, "POST", "/metrics", good, j)
    # 413: Content-Length over the default 7 MiB cap is refused before the body is sent.
    s = raw_tls_socket(main.port, main.context())
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: 7340033\r\n\r\n")
    status, headers, data = read_http_response(s)
    s.close()
    check(status == 413 and json.loads(data)["code"] == 413, (status, data))
    # Exactly the cap is accepted (and is not JSON here).
    status, _, data = main.request("POST", "/validate", b" " * (7 << 20), j)
    check(status == 400, (status, data[:200]))
    # Malformed HTTP, refused by our framing or by cpp-httplib's parser: the same JSON body.
    for raw, want in ((b"POST /validate HTTP/1.1\r\nContent-Length: banana\r\n\r\n", 400),
                      (b"GARBAGE\r\n\r\n", 400),
                      (b"FROB /validate HTTP/1.1\r\nHost: x\r\n\r\n", 400),
                      (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)):
        s = raw_tls_socket(main.port, main.context())
        s.sendall(raw)
        status, headers, data = read_http_response(s)
        s.close()
        check(status == want and json.loads(data)["code"] == want, (raw[:40], status, data))
    # Still serving, and every refusal was logged.
    status, _, _ = main.request("GET", "/healthz")
    check(status == 200, status)
    lines = [json.loads(line) for line in main.log().splitlines() if line.startswith("{")]
    logged = [x for x in lines if x["msg"] in ("bad request", "refused a request")]
    check(len(logged) >= 15, f"{len(logged)} bad requests logged")


def test_internal_error():
    obj = good_cluster()
    obj["metadata"]["annotations"] = {"ray-admission.io/test-fault": "throw"}
    status, h, data = main.request("POST", "/validate", json.dumps(review(obj)), {"Content-Type": "application/json"})
    check(status == 500 and json.loads(data)["code"] == 500, (status, data))
    doc = review(obj)
    status, _, body = main.post_json("/mutate", doc)
    r = body["response"]
    check(status == 200 and r["allowed"] is True and r["uid"] == doc["request"]["uid"], body)
    check(any("internal error" in w for w in r["warnings"]), r)
    check(main.request("GET", "/healthz")[0] == 200, "server died")


def test_health_ready_metrics():
    status, _, data = main.request("GET", "/healthz")
    check(status == 200 and json.loads(data)["status"] == "ok", data)
    status, _, data = main.request("GET", "/readyz")
    check(status == 200, data)
    status, h, _ = main.request("HEAD", "/readyz")
    check(status == 200, status)
    text = main.metrics()
    for name in ("ray_admission_request_duration_seconds_bucket", "ray_admission_findings_total",
                 "ray_admission_requests_in_flight", "ray_admission_certificate_expiry_timestamp_seconds",
                 "ray_admission_policy_reloads_total", "ray_admission_policy_reload_errors_total"):
        check(name in text, f"{name} missing from /metrics")
    check('le="10"' in text and 'le="+Inf"' in text, "histogram buckets up to 10 s")
    denied = main.metric("ray_admission_request_duration_seconds_count",
                         {"webhook": "validate", "kind": "RayCluster", "operation": "CREATE", "result": "denied"})
    check(denied >= 1, f"denied count {denied}")
    check(main.metric("ray_admission_findings_total", {"rule": "ray-image-version", "action": "deny"}) >= 1,
          "findings by rule and action")
    expiry = main.metric("ray_admission_certificate_expiry_timestamp_seconds")
    check(expiry > time.time() + 86400, f"certificate expiry {expiry}")
    check(main.metric("ray_admission_requests_in_flight") == 0, "nothing in flight")


def test_json_decision_log():
    doc = review(good_cluster(), uid="log-check-uid")
    main.post_json("/validate", doc)
    time.sleep(0.2)
    text = main.log()
    check(SECRET not in text, "the object's contents reached the log")
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    mine = [x for x in lines if x.get("uid") == "log-check-uid"]
    check(len(mine) == 1, mine)
    d = mine[0]
    for key in ("time", "level", "msg", "kind", "object", "operation", "allowed", "rules", "patchOps", "latencyMs"):
        check(key in d, f"{key} missing from {d}")
    check(d["object"] == "default/demo" and d["operation"] == "CREATE" and d["allowed"] is True, d)


def test_curl_sees_a_denial():
    path = os.path.join(WORK, "deny.json")
    with open(path, "w") as f:
        json.dump(review(bad_image_cluster()), f)
    out = subprocess.run(["curl", "-sS", "--cacert", main.ca_file, f"https://localhost:{main.port}/validate",
                          "-H", "Content-Type: application/json", "--data", "@" + path],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, out.stderr)
    body = json.loads(out.stdout)
    check(body["response"]["allowed"] is False, body)


def test_readme_example():
    # The README's curl line, with the sample AdmissionReview checked in, shows a denial.
    with open(os.path.join(SOURCE, "README.md")) as f:
        readme = f.read()
    line = next((x for x in readme.splitlines() if x.startswith("curl ") and "/validate" in x), None)
    check(line is not None, "no curl line for /validate in the README")
    check("docs/examples/review-deny.json" in line, line)
    sample = os.path.join(SOURCE, "docs/examples/review-deny.json")
    out = subprocess.run(["curl", "-sS", "--cacert", main.ca_file, f"https://localhost:{main.port}/validate",
                          "-H", "Content-Type: application/json", "--data", "@" + sample],
                         capture_output=True, text=True, timeout=60)
    body = json.loads(out.stdout)
    check(body["response"]["allowed"] is False and body["response"]["status"]["code"] == 403, body)


def test_policy_hot_reload_and_audit():
    policy = os.path.join(WORK, "policy.yaml")
    with open(policy, "w") as f:
        f.write("profile: default\n")
    with Server(BINARY, ["--policy", policy, "--reload-interval", "0.2"], workdir=WORK) as srv:
        obj = ray_cluster(prestop=["sleep", "5"])

        def allowed():
            return srv.post_json("/validate", review(obj))[2]["response"]

        check(allowed()["allowed"] is True, "warn by default")

        def wait_for(cond, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if cond():
                    return
                time.sleep(0.1)
            raise AssertionError(what + "\n" + srv.log())

        with open(policy, "w") as f:
            f.write("rules:\n  ray-prestop: deny\n")
        wait_for(lambda: allowed()["allowed"] is False, "the new policy did not take effect within 10 s")
        check(srv.metric("ray_admission_policy_reloads_total") == 1, srv.metrics())
        # A broken policy keeps the old one, is logged and counted.
        with open(policy, "w") as f:
            f.write("rules:\n  no-such-rule: deny\n")
        wait_for(lambda: srv.metric("ray_admission_policy_reload_errors_total") == 1, "error not counted")
        check(allowed()["allowed"] is False, "the previous policy must stay in force")
        check("no-such-rule" in srv.log(), "the reload error is logged")
        # The audit profile: nothing denies; findings become warnings and audit annotations.
        with open(policy, "w") as f:
            f.write("profile: audit\nrules:\n  ray-prestop: deny\n")
        wait_for(lambda: allowed()["allowed"] is True, "audit profile not loaded")
        r = srv.post_json("/validate", review(bad_image_cluster()))[2]["response"]
        check(r["allowed"] is True, r)
        check(any(w.startswith("[ray-image-version]") for w in r["warnings"]), r)
        check("ray-image-version" in r["auditAnnotations"], r)
        check(srv.stop() == 0, "exit status")


def test_sighup_reloads_at_once():
    policy = os.path.join(WORK, "policy-hup.yaml")
    with open(policy, "w") as f:
        f.write("profile: default\n")
    with Server(BINARY, ["--policy", policy, "--reload-interval", "3600"], workdir=WORK) as srv:
        obj = ray_cluster(prestop=["sleep", "5"])
        check(srv.post_json("/validate", review(obj))[2]["response"]["allowed"] is True, "warn by default")
        with open(policy, "w") as f:
            f.write("profile: strict\n")
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while srv.post_json("/validate", review(obj))[2]["response"]["allowed"] is True:
            check(time.monotonic() < deadline, "SIGHUP did not reload the policy\n" + srv.log())
            time.sleep(0.1)
        check(srv.stop() == 0, "exit status")


def raw_exchange(request):
    """Sends one request on a new TLS connection; returns the response's bytes exactly as sent."""
    s = raw_tls_socket(main.port, main.context(), timeout=20)
    try:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            check(chunk, f"closed before a response: {data!r}")
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.lower().startswith("content-length:"))
        while len(data) < len(head) + 4 + length:
            chunk = s.recv(65536)
            check(chunk, "closed in the body")
            data += chunk
        return data
    finally:
        s.close()


def test_direct_path_answers_like_httplib():
    # Plain POSTs to /validate and /mutate are answered without httplib (HttpsServer::post_direct);
    # a target with an escape in its query goes through httplib to the same handler. The bytes
    # sent back, status line and headers included, must be the same either way.
    cases = []
    for path in ("/validate", "/mutate"):
        for obj in (good_cluster(), bad_image_cluster(), ray_cluster()):
            cases.append((path, "application/json", json.dumps(review(obj, uid="u-1")).encode()))
        cases.append((path, "text/plain", b"{}"))
        cases.append((path, "application/json", b"{not json"))
    for path, ctype, body in cases:
        for extra in ("", "Connection: close\r\n", "Connection: keep-alive\r\n"):
            def request(target):
                return (f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ctype}\r\n{extra}"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            direct = raw_exchange(request(path + "?timeout=10s&x=A"))
            through_httplib = raw_exchange(request(path + "?timeout=10s&x=%41"))
            check(direct == through_httplib, (path, ctype, extra, direct[:400], through_httplib[:400]))
            check(direct.startswith(b"HTTP/1.1 "), direct[:100])
            check((b"Connection: close\r\n" in direct) == ("close" in extra), direct[:300])


def test_pipelined_requests_in_one_read():
    # Requests that arrive together, in separate TLS records or in one, are all answered in
    # order. The server reads ahead (a read takes whatever the socket has, several records at
    # once) and, after an answer, waits for the socket only when OpenSSL holds nothing more: a
    # record already read into its buffer never makes the socket readable again.
    def post(path, uid):
        body = json.dumps(review(good_cluster(), uid=uid)).encode()
        return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    for together in (False, True):
        conn = RecordTls(main.port, main.context())
        try:
            uids = [f"pipelined-{together}-{i}" for i in range(4)]
            requests = [post("/validate" if i % 2 == 0 else "/mutate", uid) for i, uid in enumerate(uids)]
            for _ in range(2):  # twice: the connection stays usable after the first batch
                if together:
                    conn.write(b"".join(requests))  # one record
                else:
                    for r in requests:
                        conn.write(r)  # a record each
                conn.send()  # in one send(2)
                answers = conn.read_responses(len(requests))
                for (status, body), uid in zip(answers, uids):
                    check(status == 200, (status, body[:200]))
                    check(json.loads(body)["response"]["uid"] == uid, (uid, body[:200]))
        finally:
            conn.close()


run_tests([
    ("v1 and v1beta1, uid, kind, apiVersion", test_versions_and_uid),
    ("answers are not compressed", test_answers_are_not_compressed),
    ("deny names the rule and the fix", test_deny_names_rule_and_fix),
    ("warn", test_warn),
    ("patch applies (jsonpatch) and reinvocation is clean", test_patch_applies_and_reinvocation_is_clean),
    ("DELETE and CONNECT", test_delete_connect_allowed_at_once),
    ("UPDATE semantics", test_update_semantics),
    ("dryRun gets the same answer", test_dry_run_same_answer),
    ("bad requests", test_bad_requests),
    ("direct path answers byte for byte like httplib", test_direct_path_answers_like_httplib),
    ("pipelined requests that arrive in one read", test_pipelined_requests_in_one_read),
    ("internal error", test_internal_error),
    ("healthz, readyz, metrics", test_health_ready_metrics),
    ("JSON decision log", test_json_decision_log),
    ("curl sees a denial", test_curl_sees_a_denial),
    ("README example", test_readme_example),
    ("policy hot reload, audit profile", test_policy_hot_reload_and_audit),
    ("SIGHUP reloads at once", test_sighup_reloads_at_once),
], workdirs=[WORK])
