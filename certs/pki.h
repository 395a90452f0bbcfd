// The PKI: a CA, serving certificates signed by it, and reading certificates back. OpenSSL's
// library only (no command-line tool). Errors are values: every function returns nullopt and sets
// `error` instead of throwing.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace ray_admission::pki {

enum class KeyType { Ecdsa, Rsa };  // ECDSA P-256, or RSA 2048

// A certificate and its private key, both PEM.
struct Pair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign) valid for `days`.
std::optional<Pair> make_ca(const std::string& common_name, int days, KeyType key, std::string& error);

// A serving certificate signed by `ca`: subjectAltName DNS entries for `dns_names` and IP entries
// for `ips`, extendedKeyUsage serverAuth, valid for `days`. The common name is dns_names[0].
std::optional<Pair> issue_serving(const Pair& ca, const std::vector<std::string>& dns_names,
                                  const std::vector<std::string>& ips, int days, KeyType key, std::string& error);

// When a PEM certificate expires (notAfter, seconds since the epoch).
std::optional<std::time_t> not_after(const std::string& cert_pem, std::string& error);

// True when the certificate and the private key belong together.
bool key_matches(const std::string& cert_pem, const std::string& key_pem, std::string& error);

// What a certificate says about itself (for `certs --renew` and the tests).
struct CertInfo {
  std::string common_name;             // empty when the subject has none
  std::vector<std::string> dns_names;  // subjectAltName DNS entries, in order
  std::vector<std::string> ips;        // subjectAltName IP entries, as text
  bool is_ca = false;
  std::time_t not_before = 0;
  std::time_t not_after = 0;
};
std::optional<CertInfo> inspect(const std::string& cert_pem, std::string& error);

// True when `cert_pem` chains to `ca_pem` and may serve TLS (X509_verify_cert, purpose sslserver,
// at the current time). `error` says why not.
bool verify(const std::string& ca_pem, const std::string& cert_pem, std::string& error);

}  // namespace ray_admission::pki
