// `ray-admission certs`: a CA and the webhook's serving certificate, for clusters without
// cert-manager. OpenSSL's library does the work (certs/pki.h); this file handles files.
#include "commands.h"

#include "certs/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ray_admission::cli {

namespace {

constexpr std::string_view kUsage =
    "usage: ray-admission certs --service NAME --namespace NS --out DIR [--days N] [--ca-days N]\n"
    "                           [--key ecdsa|rsa] [--dns NAME]... [--ip ADDR]... [--cluster-domain D]\n"
    "                           [--force | --renew]\n"
    "  Writes a CA (ca.crt, ca.key) and a serving certificate (tls.crt, tls.key) for the Service\n"
    "  NAME in namespace NS. The certificate names NAME, NAME.NS, NAME.NS.svc and\n"
    "  NAME.NS.svc.cluster.local, plus every --dns and --ip. Private keys are written with mode 0600.\n"
    "  --days N        the serving certificate's validity (default 365)\n"
    "  --ca-days N     the CA's validity (default 3650)\n"
    "  --key K         ecdsa (P-256, the default) or rsa (2048 bits)\n"
    "  --force         replace existing files, CA included (then update the webhooks' caBundle)\n"
    "  --renew         keep the CA; reissue tls.crt and tls.key when they expire within 30 days, no\n"
    "                  longer verify against the CA, or name other hosts than asked; else do nothing\n"
    "  Exit status: 0 done (or nothing to renew), 1 refused or failed, 2 bad arguments.\n";

constexpr int kRenewWithinDays = 30;
constexpr std::time_t kDay = 86400;

struct Options {
  std::string service;
  std::string ns;
  std::string out;
  std::string cluster_domain = "cluster.local";
  int days = 365;
  int ca_days = 3650;
  pki::KeyType key = pki::KeyType::Ecdsa;
  std::vector<std::string> extra_dns;
  std::vector<std::string> ips;
  bool force = false;
  bool renew = false;
};

int usage_error(const std::string& msg) {
  std::cerr << "ray-admission certs: " << msg << "\n" << kUsage;
  return 2;
}

int failure(const std::string& msg) {
  std::cerr << "ray-admission certs: " << msg << "\n";
  return 1;
}

// An RFC 1123 label (namespaces); with `alpha_first`, an RFC 1035 label (Service names).
bool dns_label(const std::string& s, bool alpha_first) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (alpha_first ? !(s[0] >= 'a' && s[0] <= 'z') : !alnum(s[0])) return false;
  if (!alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

std::optional<int> parse_days(const std::string& s) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int v = std::stoi(s);
  if (v < 1 || v > 36500) return std::nullopt;
  return v;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to `path` with `mode`: into a new file beside it, then renamed over it, so that a
// reader (the server reloading its certificate) never sees half a file, and a key never exists
// with a wider mode than `mode`, not even for a moment.
bool write_file(const std::string& path, const std::string& text, mode_t mode, std::string& error) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    error = tmp + ": cannot create: " + std::strerror(errno);
    return false;
  }
  // The umask may have narrowed `mode`; a certificate should still be readable by its group.
  const char* step = ::fchmod(fd, mode) == 0 ? nullptr : "cannot set the mode of";
  std::size_t done = 0;
  while (step == nullptr && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) step = "cannot write";
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (step == nullptr && ::fsync(fd) != 0) step = "cannot sync";
  int saved = errno;
  if (::close(fd) != 0 && step == nullptr) {
    step = "cannot close";
    saved = errno;
  }
  if (step == nullptr && ::rename(tmp.c_str(), path.c_str()) != 0) {
    step = "cannot rename a temporary file onto";
    saved = errno;
  }
  if (step == nullptr) return true;
  error = std::string(step) + " " + path + ": " + std::strerror(saved);
  ::unlink(tmp.c_str());
  return false;
}

struct Files {
  std::string ca_crt, ca_key, tls_crt, tls_key;
  explicit Files(const std::string& dir)
      : ca_crt(dir + "/ca.crt"), ca_key(dir + "/ca.key"), tls_crt(dir + "/tls.crt"), tls_key(dir + "/tls.key") {}
  std::vector<std::string> all() const { return {ca_crt, ca_key, tls_crt, tls_key}; }
};

// The leaf's DNS names: the four forms a client inside the cluster may use, then the extras.
std::vector<std::string> dns_names(const Options& o) {
  std::vector<std::string> names = {o.service, o.service + "." + o.ns, o.service + "." + o.ns + ".svc",
                                    o.service + "." + o.ns + ".svc." + o.cluster_domain};
  for (const std::string& d : o.extra_dns) {
    if (std::find(names.begin(), names.end(), d) == names.end()) names.push_back(d);
  }
  return names;
}

bool write_leaf(const Files& f, const pki::Pair& leaf, std::string& error) {
  // The key first: a reader that sees the new certificate finds its key already in place.
  return write_file(f.tls_key, leaf.key_pem, 0600, error) && write_file(f.tls_crt, leaf.cert_pem, 0644, error);
}

int create(const Options& o, const Files& f) {
  std::vector<std::string> present;
  for (const std::string& p : f.all()) {
    if (exists(p)) present.push_back(p);
  }
  if (!present.empty() && !o.force) {
    return failure("refusing to overwrite " + join(present) +
                   " (--force replaces them, CA included; --renew keeps the CA and renews the serving certificate)");
  }
  std::string err;
  auto ca = pki::make_ca("ray-admission CA", o.ca_days, o.key, err);
  if (!ca) return failure("cannot create the CA: " + err);
  auto leaf = pki::issue_serving(*ca, dns_names(o), o.ips, o.days, o.key, err);
  if (!leaf) return failure("cannot issue the serving certificate: " + err);
  if (!write_file(f.ca_key, ca->key_pem, 0600, err) || !write_file(f.ca_crt, ca->cert_pem, 0644, err) ||
      !write_leaf(f, *leaf, err)) {
    return failure(err);
  }
  auto info = pki::inspect(leaf->cert_pem, err);
  std::cout << "wrote " << f.ca_crt << ", " << f.ca_key << " (CA, valid " << o.ca_days << " days)\n"
            << "wrote " << f.tls_crt << ", " << f.tls_key << " (serving certificate for " << join(dns_names(o))
            << (o.ips.empty() ? "" : ", " + join(o.ips)) << "; expires "
            << (info ? date(info->not_after) : std::string("?")) << ")\n";
  return 0;
}

// Why the existing leaf must be reissued, or "" when it is still good.
std::string renew_reason(const Options& o, const Files& f, const std::string& ca_pem, std::time_t now) {
  if (!exists(f.tls_crt) || !exists(f.tls_key)) return "tls.crt or tls.key is missing";
  std::string err;
  auto cert = read_file(f.tls_crt, err);
  auto key = cert ? read_file(f.tls_key, err) : std::nullopt;
  if (!cert || !key) return err;
  if (!pki::key_matches(*cert, *key, err)) return "tls.key does not match tls.crt (" + err + ")";
  if (!pki::verify(ca_pem, *cert, err)) return err;
  auto info = pki::inspect(*cert, err);
  if (!info) return err;
  if (info->dns_names != dns_names(o)) return "it names " + join(info->dns_names) + ", not " + join(dns_names(o));
  if (info->ips != o.ips) return "its IP addresses are [" + join(info->ips) + "], not [" + join(o.ips) + "]";
  if (info->not_after - now < kRenewWithinDays * kDay) return "it expires on " + date(info->not_after);
  return "";
}

int renew(const Options& o, const Files& f) {
  std::string err;
  auto ca_cert = read_file(f.ca_crt, err);
  if (!ca_cert) return failure(err + " (--renew needs the CA that `certs` wrote; without it, start over with --force)");
  auto ca_key = read_file(f.ca_key, err);
  if (!ca_key) return failure(err + " (--renew needs the CA's key; without it, start over with --force)");
  if (!pki::key_matches(*ca_cert, *ca_key, err)) return failure(f.ca_key + " does not belong to " + f.ca_crt);
  auto ca = pki::inspect(*ca_cert, err);
  if (!ca) return failure(f.ca_crt + ": " + err);
  if (!ca->is_ca) return failure(f.ca_crt + " is not a CA certificate");

  std::time_t now = std::time(nullptr);
  std::string reason = renew_reason(o, f, *ca_cert, now);
  if (reason.empty()) {
    std::string e;
    auto cert = read_file(f.tls_crt, e);
    auto end = cert ? pki::not_after(*cert, e) : std::nullopt;
    std::cout << f.tls_crt << " is valid until " << (end ? date(*end) : std::string("?"))
              << "; nothing to renew (renewal starts " << kRenewWithinDays << " days before expiry)\n";
    return 0;
  }
  // A leaf cannot outlive its CA; when the CA itself is nearly done, renewing the leaf only hides
  // the problem for a few days.
  std::time_t ca_left = ca->not_after - now;
  if (ca_left < kRenewWithinDays * kDay) {
    return failure("the CA in " + f.ca_crt + " expires on " + date(ca->not_after) +
                   "; create a new CA with --force and update the webhooks' caBundle");
  }
  int days = o.days;
  if (static_cast<std::time_t>(days) * kDay > ca_left) {
    days = static_cast<int>(ca_left / kDay);
    std::cerr << "ray-admission certs: note: the serving certificate is limited to " << days
              << " days, the CA's remaining validity\n";
  }
  auto leaf = pki::issue_serving(pki::Pair{*ca_cert, *ca_key}, dns_names(o), o.ips, days, o.key, err);
  if (!leaf) return failure("cannot issue the serving certificate: " + err);
  if (!write_leaf(f, *leaf, err)) return failure(err);
  auto end = pki::not_after(leaf->cert_pem, err);
  std::cout << "renewed " << f.tls_crt << " and " << f.tls_key << " (" << reason << "); the CA is unchanged; "
            << "expires " << (end ? date(*end) : std::string("?")) << "\n";
  return 0;
}

}  // namespace

int certs_main(Args args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return std::string(args[++i]);
    };
    std::optional<std::string> v;
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--force") {
      o.force = true;
    } else if (a == "--renew") {
      o.renew = true;
    } else if (a == "--service" || a == "--namespace" || a == "--out" || a == "--days" || a == "--ca-days" ||
               a == "--key" || a == "--dns" || a == "--ip" || a == "--cluster-domain") {
      v = value();
      if (!v) return usage_error(a + " needs a value");
      if (a == "--service") o.service = *v;
      if (a == "--namespace") o.ns = *v;
      if (a == "--out") o.out = *v;
      if (a == "--cluster-domain") o.cluster_domain = *v;
      if (a == "--dns") o.extra_dns.push_back(*v);
      if (a == "--ip") o.ips.push_back(*v);
      if (a == "--days" || a == "--ca-days") {
        auto d = parse_days(*v);
        if (!d) return usage_error(a + " takes a number of days from 1 to 36500, not '" + *v + "'");
        (a == "--days" ? o.days : o.ca_days) = *d;
      }
      if (a == "--key") {
        if (*v != "ecdsa" && *v != "rsa") return usage_error("--key is ecdsa or rsa, not '" + *v + "'");
        o.key = *v == "rsa" ? pki::KeyType::Rsa : pki::KeyType::Ecdsa;
      }
    } else {
      return usage_error("unexpected argument '" + a + "'");
    }
  }
  if (o.service.empty() || o.ns.empty() || o.out.empty())
    return usage_error("--service, --namespace and --out are required");
  if (!dns_label(o.service, true)) {
    return usage_error("'" + o.service + "' is not a Service name (lowercase letters, digits and '-', a letter first)");
  }
  if (!dns_label(o.ns, false)) return usage_error("'" + o.ns + "' is not a namespace name");
  if (o.force && o.renew) return usage_error("--force and --renew exclude each other");
  if (o.days > o.ca_days) return usage_error("--days must not exceed --ca-days: a certificate cannot outlive its CA");

  if (!exists(o.out)) {
    if (o.renew) return failure(o.out + ": no such directory (--renew works on the output of an earlier run)");
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (ec) return failure(o.out + ": cannot create: " + ec.message());
  }
  Files f(o.out);
  return o.renew ? renew(o, f) : create(o, f);
}

}  // namespace ray_admission::cli
