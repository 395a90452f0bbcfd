// `ray-admission serve`: wires the admission protocol (admission.h) to the HTTPS transport
// (https_server.h), loads and reloads the policy and the certificates, and handles signals.
#include "admission.h"
#include "cli/commands.h"
#include "https_server.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

#include "certs/pki.h"
#include "yaml/policy_yaml.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

namespace ray_admission::cli {

namespace {

using namespace ray_admission::server;
namespace fs = std::filesystem;

constexpr std::string_view kUsage =
    "usage: ray-admission serve [OPTIONS]\n"
    "  The HTTPS admission webhook: POST /validate and /mutate (AdmissionReview v1 and v1beta1),\n"
    "  GET /healthz, /readyz and /metrics.\n"
    "\n"
    "  --address HOST          address to listen on (default 0.0.0.0)\n"
    "  --port N                port (default 8443; 0 picks a free one, logged at start)\n"
    "  --tls-cert FILE         serving certificate (PEM, intermediates after it)\n"
    "  --tls-key FILE          its private key (PEM, ECDSA or RSA)\n"
    "  --cert-dir DIR          DIR/tls.crt and DIR/tls.key (a mounted kubernetes.io/tls Secret)\n"
    "  --client-ca FILE        require client certificates signed by these CAs\n"
    "  --ca-out FILE           with no certificate given, a throwaway CA and a certificate for localhost\n"
    "                          and 127.0.0.1 are generated; the CA is written here\n"
    "                          (default ${TMPDIR:-/tmp}/ray-admission/ca.crt)\n"
    "  --policy FILE           policy (YAML), reloaded when it changes\n"
    "  --profile NAME          default, strict or audit (overrides the policy's profile)\n"
    "  --reload-interval SEC   how often the certificate and policy files are checked (default 2)\n"
    "  --max-body BYTES        largest request body (default 7340032 = 7 MiB; Ki and Mi suffixes work)\n"
    "  --workers N             threads that read and answer requests, and as many more for bodies\n"
    "                          over 256 KiB (default: two per CPU the pod may use, its CPU limit\n"
    "                          included)\n"
    "  --read-timeout SEC      deadline for a whole request, first byte to last (default 10)\n"
    "  --write-timeout SEC     deadline for writing a response (default 10)\n"
    "  --idle-timeout SEC      keep-alive connection idle between requests (default 90)\n"
    "  --handshake-timeout SEC TLS handshake (default 10)\n"
    "  --keep-alive-max N      requests per connection, then it is closed (default 1000; 0: no limit)\n"
    "  --max-connections N     open connections (default 10000)\n"
    "  --backlog N             listen backlog (default 1024)\n"
    "  --shutdown-timeout SEC  on SIGTERM or SIGINT, time to finish requests in flight (default 25)\n"
    "  --shutdown-delay SEC    on SIGTERM or SIGINT, keep accepting this long first, with /readyz failing,\n"
    "                          while the Service's endpoints drop this pod (default 0)\n"
    "  --mutate-fail-closed    an internal error in /mutate answers 500 (default: allow with a warning)\n"
    "  --log-format text|json  log lines as text (default) or JSON lines\n"
    "  --log-level LEVEL       trace, debug, info (default: one line per decision), warn, error\n"
    "  --fault-injection       tests only: the annotation ray-admission.io/test-fault: throw makes the\n"
    "                          engine fail on that object\n"
    "\n"
    "  SIGHUP checks the certificate and policy files at once.\n";

struct Options {
  ServerOptions server;
  AdmissionOptions admission;
  std::string tls_cert, tls_key, cert_dir, client_ca, ca_out;
  std::string policy_file, profile;
  double reload_interval = 2;
  std::string log_format = "text", log_level = "info";
};

int usage_error(const std::string& msg) {
  std::cerr << "ray-admission serve: " << msg << "\n" << kUsage;
  return 2;
}

std::optional<double> parse_seconds(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end == s.c_str() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 86400) return std::nullopt;
  return v;
}

std::optional<std::size_t> parse_count(const std::string& s, bool suffixes = false) {
  std::size_t mult = 1;
  std::string digits = s;
  if (suffixes && digits.size() > 2) {
    std::string suf = digits.substr(digits.size() - 2);
    if (suf == "Ki") mult = 1024;
    if (suf == "Mi") mult = 1024 * 1024;
    if (mult != 1) digits.resize(digits.size() - 2);
  }
  if (digits.empty() || digits.size() > 12) return std::nullopt;
  std::size_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  return v * mult;
}

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

std::optional<int> parse_options(Args args, Options& o, bool& help) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return std::string(args[++i]);
    };
    auto need = [&](std::optional<std::string> v) -> std::string {
      return v ? *v : std::string("\x01");  // a marker no valid value has
    };
    if (a == "-h" || a == "--help") {
      help = true;
      return std::nullopt;
    }
    if (a == "--mutate-fail-closed") {
      o.admission.mutate_fail_open = false;
      continue;
    }
    if (a == "--fault-injection") {
      o.admission.fault_injection = true;
      continue;
    }
    static const std::set<std::string> kWithValue = {
        "--address",           "--port",           "--tls-cert",        "--tls-key",       "--cert-dir",
        "--client-ca",         "--ca-out",         "--policy",          "--profile",       "--reload-interval",
        "--max-body",          "--workers",        "--read-timeout",    "--write-timeout", "--idle-timeout",
        "--handshake-timeout", "--keep-alive-max", "--max-connections", "--backlog",       "--shutdown-timeout",
        "--log-format",        "--log-level",      "--shutdown-delay"};
    if (kWithValue.count(a) == 0) return usage_error("unknown option " + a);
    std::string v = need(value());
    if (v == "\x01") return usage_error(a + " needs a value");
    auto bad = [&]() { return usage_error("bad value for " + a + ": '" + v + "'"); };
    if (a == "--address") {
      o.server.host = v;
    } else if (a == "--port") {
      auto n = parse_count(v);
      if (!n || *n > 65535) return bad();
      o.server.port = static_cast<int>(*n);
    } else if (a == "--tls-cert") {
      o.tls_cert = v;
    } else if (a == "--tls-key") {
      o.tls_key = v;
    } else if (a == "--cert-dir") {
      o.cert_dir = v;
    } else if (a == "--client-ca") {
      o.client_ca = v;
    } else if (a == "--ca-out") {
      o.ca_out = v;
    } else if (a == "--policy") {
      o.policy_file = v;
    } else if (a == "--profile") {
      if (!parse_profile(v)) return usage_error("unknown profile '" + v + "' (default, strict, audit)");
      o.profile = v;
    } else if (a == "--reload-interval") {
      auto s = parse_seconds(v);
      if (!s || *s < 0.05) return bad();
      o.reload_interval = *s;
    } else if (a == "--max-body") {
      auto n = parse_count(v, true);
      if (!n || *n == 0) return bad();
      o.server.max_body = o.admission.max_body = *n;
    } else if (a == "--workers") {
      auto n = parse_count(v);
      if (!n || *n == 0 || *n > 1024) return bad();
      o.server.workers = static_cast<int>(*n);
    } else if (a == "--keep-alive-max") {
      auto n = parse_count(v);
      if (!n) return bad();
      o.server.keep_alive_max = *n;
    } else if (a == "--max-connections") {
      auto n = parse_count(v);
      if (!n || *n == 0) return bad();
      o.server.max_connections = *n;
    } else if (a == "--backlog") {
      auto n = parse_count(v);
      if (!n || *n == 0 || *n > 65535) return bad();
      o.server.backlog = static_cast<int>(*n);
    } else if (a == "--log-format") {
      if (v != "text" && v != "json") return bad();
      o.log_format = v;
    } else if (a == "--log-level") {
      o.log_level = v;
    } else if (a == "--shutdown-delay") {
      auto s = parse_seconds(v);
      if (!s) return bad();
      o.server.shutdown_delay = millis(*s);
    } else {
      auto s = parse_seconds(v);
      if (!s || *s <= 0) return bad();
      auto ms = millis(*s);
      if (a == "--read-timeout") o.server.read_timeout = ms;
      if (a == "--write-timeout") o.server.write_timeout = ms;
      if (a == "--idle-timeout") o.server.idle_timeout = ms;
      if (a == "--handshake-timeout") o.server.handshake_timeout = ms;
      if (a == "--shutdown-timeout") o.server.shutdown_timeout = ms;
    }
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) return usage_error("--tls-cert and --tls-key go together");
  if (!o.cert_dir.empty() && !o.tls_cert.empty()) return usage_error("--cert-dir replaces --tls-cert and --tls-key");
  if (!o.client_ca.empty() && o.cert_dir.empty() && o.tls_cert.empty()) {
    return usage_error("--client-ca needs a serving certificate (--tls-cert/--tls-key or --cert-dir)");
  }
  return std::nullopt;
}

// The policy in force, swapped whole on reload.
class PolicyHolder {
 public:
  std::shared_ptr<const Policy> get() const {
    std::lock_guard lock(mu_);
    return policy_;
  }
  void set(std::shared_ptr<const Policy> p) {
    std::lock_guard lock(mu_);
    policy_ = std::move(p);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Policy> policy_;
};

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The policy from the text of the policy file (nullopt: no file), with --profile on top.
std::optional<Policy> load_policy(const Options& o, const std::optional<std::string>& text, std::string& error) {
  Policy p;
  if (!o.policy_file.empty()) {
    if (!text) {
      error = o.policy_file + ": cannot read: " + std::strerror(errno);
      return std::nullopt;
    }
    auto loaded = load_policy_yaml(*text, error);
    if (!loaded) {
      error = o.policy_file + ":" + error;
      return std::nullopt;
    }
    p = std::move(*loaded);
  }
  if (!o.profile.empty()) p.profile = *parse_profile(o.profile);
  return p;
}

// The embedded default: a throwaway CA and a serving certificate for localhost, made at start.
std::unique_ptr<CertificateSource> embedded_certificates(const Options& o, std::string& ca_file, std::string& error) {
  auto ca = pki::make_ca("ray-admission throwaway CA", 30, pki::KeyType::Ecdsa, error);
  if (!ca) return nullptr;
  auto serving = pki::issue_serving(*ca, {"localhost"}, {"127.0.0.1", "::1"}, 30, pki::KeyType::Ecdsa, error);
  if (!serving) return nullptr;
  std::string path = o.ca_out;
  if (path.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ray-admission/ca.crt";
  }
  std::error_code ec;
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  fs::path tmp_path = p;
  tmp_path += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp_path, std::ios::binary | std::ios::trunc);
    out << ca->cert_pem;
    if (!out) {
      error = path + ": cannot write the CA certificate: " + std::strerror(errno);
      return nullptr;
    }
  }
  fs::rename(tmp_path, p, ec);
  if (ec) {
    error = path + ": cannot write the CA certificate: " + ec.message();
    return nullptr;
  }
  auto src = CertificateSource::from_pem(serving->cert_pem, serving->key_pem, "", error);
  if (!src) return nullptr;
  ca_file = fs::absolute(p, ec).string();
  log::info("generated a throwaway CA and a serving certificate for localhost and 127.0.0.1", {{"ca_file", ca_file}});
  return src;
}

void raise_file_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

log::Fields decision_fields(const Decision& d, double seconds, std::string_view remote) {
  std::vector<std::string_view> rules;  // each rule once, in the order of their first finding
  rules.reserve(d.findings.size());
  for (const auto& [rule, action] : d.findings) {
    if (std::find(rules.begin(), rules.end(), rule) == rules.end()) rules.push_back(rule);
  }
  log::Fields f;
  f.add("uid", d.uid).add("webhook", to_string(d.webhook)).add("kind", d.kind);
  if (d.namespace_.empty()) {
    f.add("object", d.name);
  } else {
    f.add("object", d.namespace_ + "/" + d.name);
  }
  f.add("operation", d.operation).add("allowed", d.allowed).add("dryRun", d.dry_run);
  f.add("rules", std::span<const std::string_view>(rules)).add("patchOps", d.patch_ops);
  f.add("latencyMs", std::round(seconds * 1e6) / 1e3);
  if (!d.exemption.empty()) f.add("exempt", d.exemption);
  if (!d.error.empty()) f.add("error", d.error);
  f.add("remote", remote);
  return f;
}

}  // namespace

int serve_main(Args args) {
  Options o;
  bool help = false;
  if (auto rc = parse_options(args, o, help)) return *rc;
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  std::string error;
  if (!log::setup(o.log_format == "json" ? log::Format::Json : log::Format::Text, o.log_level, error)) {
    return usage_error(error);
  }

  // The text that was loaded is what later polls compare with: a change between reading and
  // parsing cannot be missed.
  std::optional<std::string> policy_text = o.policy_file.empty() ? std::nullopt : slurp(o.policy_file);
  auto first_policy = load_policy(o, policy_text, error);
  if (!first_policy) {
    std::cerr << "ray-admission serve: " << error << "\n";
    return 2;
  }
  PolicyHolder policies;
  policies.set(std::make_shared<const Policy>(std::move(*first_policy)));

  std::unique_ptr<CertificateSource> certs;
  std::string ca_file;  // the embedded default's CA
  if (!o.cert_dir.empty()) {
    certs = CertificateSource::from_files({o.cert_dir + "/tls.crt", o.cert_dir + "/tls.key", o.client_ca}, error);
  } else if (!o.tls_cert.empty()) {
    certs = CertificateSource::from_files({o.tls_cert, o.tls_key, o.client_ca}, error);
  } else {
    certs = embedded_certificates(o, ca_file, error);
  }
  if (!certs) {
    std::cerr << "ray-admission serve: " << error << "\n";
    return 2;
  }

  // SIGTERM, SIGINT and SIGHUP arrive through a signalfd in the event loop. They must be blocked
  // before any thread starts, so that every thread inherits the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  raise_file_limit();

  Metrics metrics;
  metrics.set_certificate_expiry(certs->not_after());
  AdmissionHandler handler(o.admission);
  HttpsServer server(o.server, *certs, metrics);

  auto ready = [&](std::string& why) {
    if (server.stopping()) {
      why = "shutting down";
      return false;
    }
    std::time_t expiry = certs->not_after();
    if (expiry != 0 && expiry <= std::time(nullptr)) {
      why = "the serving certificate has expired";
      return false;
    }
    if (!policies.get()) {
      why = "no policy loaded";
      return false;
    }
    return true;
  };

  // An AdmissionReview to /validate or /mutate: the same whether httplib parsed the request or
  // the server's direct path did (HttpsServer::post_direct).
  auto review = [&](Route r, std::string_view method, std::string_view path, std::string_view content_type,
                    std::string_view body, std::string_view remote) {
    auto start = std::chrono::steady_clock::now();
    Webhook w = r == Route::Validate ? Webhook::Validate : Webhook::Mutate;
    metrics.inflight_add(1);
    std::shared_ptr<const Policy> policy = policies.get();
    Decision d;
    HttpResponse out = handler.review(w, {method, path, content_type, body}, *policy, d);
    metrics.inflight_add(-1);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics.observe(d, seconds);
    metrics.count_response(to_string(w), out.status);
    if (d.status == 200 && !d.internal_error) {
      if (log::enabled(spdlog::level::info)) log::info("decision", decision_fields(d, seconds, remote));
    } else if (d.status == 200) {
      log::error("internal error: allowed without review (fail open)", decision_fields(d, seconds, remote));
    } else if (d.status >= 500) {
      log::error("internal error", decision_fields(d, seconds, remote));
    } else {
      log::warn("bad request", {{"status", d.status}, {"path", path}, {"error", d.error}, {"remote", remote}});
    }
    return out;
  };
  for (Route r : {Route::Validate, Route::Mutate}) {
    server.post_direct(r == Route::Validate ? "/validate" : "/mutate",
                       [&review, r](const DirectRequest& req, DirectResponse& res) {
                         HttpResponse out = review(r, "POST", req.path, req.content_type, req.body, req.remote_ip);
                         res.status = out.status;
                         res.body = std::move(out.body);
                       });
  }

  auto handle = [&](const httplib::Request& req, httplib::Response& res) {
    Route r = route(req.method, req.path);
    switch (r) {
      case Route::Validate:
      case Route::Mutate: {
        HttpResponse out = review(r, req.method, req.path, req.get_header_value("Content-Type"),
                                  HttpsServer::current_body(), req.remote_addr);
        res.status = out.status;
        res.set_content(std::move(out.body), "application/json");
        return;
      }
      case Route::Healthz:
        metrics.count_response("healthz", 200);
        res.set_content(R"({"status":"ok"})", "application/json");
        return;
      case Route::Readyz: {
        std::string why;
        bool ok = ready(why);
        metrics.count_response("readyz", ok ? 200 : 503);
        if (ok) {
          res.set_content(R"({"status":"ready"})", "application/json");
        } else {
          res.status = 503;
          res.set_content(error_body(503, why), "application/json");
        }
        return;
      }
      case Route::Metrics:
        metrics.count_response("metrics", 200);
        res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
        return;
      case Route::NotFound:
      case Route::MethodNotAllowed: {
        int status = r == Route::NotFound ? 404 : 405;
        std::string msg = r == Route::NotFound ? "no such path: " + req.path.substr(0, 128)
                                               : req.method + " is not allowed on " + req.path;
        if (status == 405)
          res.set_header("Allow", req.path == "/validate" || req.path == "/mutate" ? "POST" : "GET, HEAD");
        metrics.count_response("other", status);
        log::warn("bad request", {{"status", status}, {"error", msg}, {"remote", req.remote_addr}});
        res.status = status;
        res.set_content(error_body(status, msg), "application/json");
        return;
      }
    }
  };
  httplib::Server& http = server.http();
  http.Get(".*", handle);
  http.Options(".*", handle);
  // With a ContentReader, httplib leaves the body where the event loop put it: handle() reads it
  // from there (HttpsServer::current_body) instead of a copy in req.body.
  http.Post(".*", httplib::Server::HandlerWithContentReader([&](const httplib::Request& req, httplib::Response& res,
                                                                const httplib::ContentReader&) { handle(req, res); }));
  http.Put(".*", httplib::Server::Handler(handle));
  http.Patch(".*", httplib::Server::Handler(handle));
  http.Delete(".*", httplib::Server::Handler(handle));
  // Answers httplib makes itself (a malformed request line, an unknown method, a too long URI)
  // get the same JSON body as ours.
  http.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404 && route(req.method, req.path) == Route::MethodNotAllowed) res.status = 405;
    std::string msg = res.status == 404   ? "no such path"
                      : res.status == 405 ? req.method + " is not allowed here"
                                          : std::string(status_reason(res.status));
    metrics.count_response("other", res.status);
    log::warn("bad request", {{"status", res.status}, {"error", msg}, {"remote", req.remote_addr}});
    res.set_content(error_body(res.status, msg), "application/json");
  });
  http.set_exception_handler([&](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(error_body(500, "internal error"), "application/json");
  });

  if (!server.bind(error)) {
    std::cerr << "ray-admission serve: " << error << "\n";
    return 2;
  }

  // Reloads: the certificate files and the policy file, every --reload-interval or on SIGHUP.
  std::mutex reload_mu;
  std::condition_variable reload_cv;
  bool reload_now = false, reload_stop = false;
  auto reload_once = [&]() {
    std::string err;
    switch (certs->poll(err)) {
      case CertificateSource::Poll::Unchanged: break;
      case CertificateSource::Poll::Reloaded:
        metrics.certificate_reload(true);
        metrics.set_certificate_expiry(certs->not_after());
        log::info("serving certificate reloaded", {{"not_after", static_cast<std::int64_t>(certs->not_after())}});
        break;
      case CertificateSource::Poll::Failed:
        metrics.certificate_reload(false);
        log::error("the new certificate could not be loaded; the previous one keeps serving", {{"error", err}});
        break;
    }
    if (!o.policy_file.empty()) {
      auto text = slurp(o.policy_file);
      if (text != policy_text) {
        policy_text = text;
        auto p = load_policy(o, text, err);
        if (p) {
          policies.set(std::make_shared<const Policy>(std::move(*p)));
          metrics.policy_reload(true);
          log::info("policy reloaded", {{"file", o.policy_file}});
        } else {
          metrics.policy_reload(false);
          log::error("the new policy could not be loaded; the previous one stays in force", {{"error", err}});
        }
      }
    }
  };
  std::thread reloader([&]() {
    std::unique_lock lock(reload_mu);
    while (!reload_stop) {
      reload_cv.wait_for(lock, millis(o.reload_interval), [&] { return reload_now || reload_stop; });
      if (reload_stop) break;
      reload_now = false;
      lock.unlock();
      reload_once();
      lock.lock();
    }
  });

  log::info("listening", {{"address", o.server.host},
                          {"port", server.port()},
                          {"policy", o.policy_file.empty() ? std::string("(default)") : o.policy_file},
                          {"profile", std::string(to_string(policies.get()->profile))},
                          {"tls", certs->reloadable() ? "files" : "embedded"},
                          {"client_ca", !o.client_ca.empty()}});
  if (!ca_file.empty()) {
    log::info("try it", {{"ca_file", ca_file},
                         {"command", "curl --cacert " + ca_file +
                                         " https://localhost:" + std::to_string(server.port()) + "/healthz"}});
  }
  int rc = server.run(sfd, [&]() {
    log::info("SIGHUP: checking the certificate and policy files");
    std::lock_guard lock(reload_mu);
    reload_now = true;
    reload_cv.notify_all();
  });
  {
    std::lock_guard lock(reload_mu);
    reload_stop = true;
    reload_cv.notify_all();
  }
  reloader.join();
  if (sfd >= 0) ::close(sfd);
  return rc;
}

}  // namespace ray_admission::cli
