// TLS for the server: OpenSSL contexts (TLS 1.2 and 1.3 only, AEAD ciphers with forward
// secrecy, ECDSA or RSA keys, an optional client CA), and the serving certificate's source, which
// reloads the files when they change and keeps the previous context when the new pair is broken.
#pragma once

#include <openssl/ssl.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace ray_admission::server {

using SslContext = std::shared_ptr<SSL_CTX>;

// A server context from PEM text: the certificate (then any intermediates), its private key, and
// optionally CA certificates that client certificates must chain to (then one is required).
SslContext make_server_context(const std::string& cert_pem, const std::string& key_pem,
                               const std::string& client_ca_pem, std::string& error);

// notAfter of the context's certificate, in seconds since the epoch; 0 when unknown.
std::time_t certificate_not_after(SSL_CTX* ctx);

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // "" when client certificates are not required
};

// Where new connections get their context. Thread-safe.
class CertificateSource {
 public:
  // Fixed PEM text (the embedded default): never reloads.
  static std::unique_ptr<CertificateSource> from_pem(const std::string& cert_pem, const std::string& key_pem,
                                                     const std::string& client_ca_pem, std::string& error);
  // Files, read now (an error here is fatal for the caller) and again on every poll().
  static std::unique_ptr<CertificateSource> from_files(const TlsFiles& files, std::string& error);

  SslContext current() const;
  std::time_t not_after() const;

  enum class Poll { Unchanged, Reloaded, Failed };
  // Reads the files again. When their contents changed: loads the new pair (Reloaded), or keeps
  // the current context and sets `error` (Failed; reported once per change, not on every poll).
  Poll poll(std::string& error);

  bool reloadable() const { return !files_.cert_file.empty(); }

 private:
  struct Contents {
    std::optional<std::string> cert, key, ca;
    bool operator==(const Contents&) const = default;
  };
  Contents read_files() const;
  SslContext build(const Contents& c, std::string& error) const;

  TlsFiles files_;
  Contents seen_;  // what the last poll looked at (loaded or not)
  mutable std::mutex mu_;
  SslContext ctx_;
  std::time_t not_after_ = 0;
};

}  // namespace ray_admission::server
