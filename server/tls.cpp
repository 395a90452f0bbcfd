#include "tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace ray_admission::server {

namespace {

// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only. TLS 1.3 suites are all AEAD.
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kCiphers13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

std::string openssl_error(std::string_view what) {
  std::string out(what);
  unsigned long e = 0;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr mem_bio(const std::string& pem) { return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

}  // namespace

SslContext make_server_context(const std::string& cert_pem, const std::string& key_pem,
                               const std::string& client_ca_pem, std::string& error) {
  ERR_clear_error();
  SslContext ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) {
    error = openssl_error("cannot create a TLS context");
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 || SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, kCiphers12) != 1 || SSL_CTX_set_ciphersuites(c, kCiphers13) != 1) {
    error = openssl_error("cannot configure TLS versions and ciphers");
    return nullptr;
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Read what the socket has, not a record's 5-byte header and then its body: one read(2) per
  // request instead of two (the sockets are non-blocking, so this never waits for more).
  SSL_CTX_set_read_ahead(c, 1);
  static const unsigned char kSessionContext[] = "ray-admission";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);

  // The certificate, then the intermediates that follow it in the file.
  BioPtr bio = mem_bio(cert_pem);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    error = openssl_error("the certificate file holds no PEM certificate");
    return nullptr;
  }
  int ok = SSL_CTX_use_certificate(c, leaf);
  X509_free(leaf);
  if (ok != 1) {
    error = openssl_error("cannot use the certificate");
    return nullptr;
  }
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(c, extra) != 1) {
      X509_free(extra);
      error = openssl_error("cannot use an intermediate certificate");
      return nullptr;
    }
  }
  ERR_clear_error();  // the end of the PEM stream

  BioPtr kbio = mem_bio(key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    error = openssl_error("the key file holds no PEM private key");
    return nullptr;
  }
  ok = SSL_CTX_use_PrivateKey(c, key);
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(c) != 1) {
    error = openssl_error("the private key does not match the certificate");
    return nullptr;
  }

  if (!client_ca_pem.empty()) {
    BioPtr cabio = mem_bio(client_ca_pem);
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    int n = 0;
    while (X509* ca = PEM_read_bio_X509(cabio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, ca);
      SSL_CTX_add_client_CA(c, ca);
      X509_free(ca);
      ++n;
    }
    ERR_clear_error();
    if (n == 0) {
      error = "the client CA file holds no PEM certificate";
      return nullptr;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

std::time_t certificate_not_after(SSL_CTX* ctx) {
  X509* cert = ctx != nullptr ? SSL_CTX_get0_certificate(ctx) : nullptr;
  if (cert == nullptr) return 0;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return timegm(&tm);
}

std::unique_ptr<CertificateSource> CertificateSource::from_pem(const std::string& cert_pem, const std::string& key_pem,
                                                               const std::string& client_ca_pem, std::string& error) {
  auto src = std::unique_ptr<CertificateSource>(new CertificateSource());
  src->ctx_ = make_server_context(cert_pem, key_pem, client_ca_pem, error);
  if (!src->ctx_) return nullptr;
  src->not_after_ = certificate_not_after(src->ctx_.get());
  return src;
}

std::unique_ptr<CertificateSource> CertificateSource::from_files(const TlsFiles& files, std::string& error) {
  auto src = std::unique_ptr<CertificateSource>(new CertificateSource());
  src->files_ = files;
  src->seen_ = src->read_files();
  src->ctx_ = src->build(src->seen_, error);
  if (!src->ctx_) return nullptr;
  src->not_after_ = certificate_not_after(src->ctx_.get());
  return src;
}

SslContext CertificateSource::current() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

std::time_t CertificateSource::not_after() const {
  std::lock_guard lock(mu_);
  return not_after_;
}

CertificateSource::Contents CertificateSource::read_files() const {
  Contents c;
  c.cert = slurp(files_.cert_file);
  c.key = slurp(files_.key_file);
  if (!files_.client_ca_file.empty()) c.ca = slurp(files_.client_ca_file);
  return c;
}

SslContext CertificateSource::build(const Contents& c, std::string& error) const {
  if (!c.cert) {
    error = files_.cert_file + ": cannot read";
    return nullptr;
  }
  if (!c.key) {
    error = files_.key_file + ": cannot read";
    return nullptr;
  }
  if (!files_.client_ca_file.empty() && !c.ca) {
    error = files_.client_ca_file + ": cannot read";
    return nullptr;
  }
  std::string why;
  SslContext ctx = make_server_context(*c.cert, *c.key, c.ca.value_or(""), why);
  if (!ctx) error = files_.cert_file + ", " + files_.key_file + ": " + why;
  return ctx;
}

CertificateSource::Poll CertificateSource::poll(std::string& error) {
  if (!reloadable()) return Poll::Unchanged;
  Contents now = read_files();
  if (now == seen_) return Poll::Unchanged;
  SslContext ctx = build(now, error);
  if (!ctx) {
    // A writer that replaces the certificate and the key one after the other can be caught in
    // between: look once more, a moment later, before calling the new pair broken.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Contents again = read_files();
    if (again != now) {
      now = std::move(again);
      error.clear();
      ctx = build(now, error);
    }
  }
  seen_ = std::move(now);
  if (!ctx) return Poll::Failed;
  std::time_t expiry = certificate_not_after(ctx.get());
  std::lock_guard lock(mu_);
  ctx_ = std::move(ctx);
  not_after_ = expiry;
  return Poll::Reloaded;
}

}  // namespace ray_admission::server
