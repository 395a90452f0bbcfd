// The PKI on OpenSSL 3's library. Every OpenSSL object lives in a unique_ptr with its own free
// function, so each early return releases what was built so far; OpenSSL's thread-local error queue
// is drained into the `error` string (and cleared) before returning.
#include "certs/pki.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <memory>

namespace ray_admission::pki {

namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Name = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Asn1Int = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralName = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using Ia5 = std::unique_ptr<ASN1_IA5STRING, Deleter<ASN1_IA5STRING_free>>;
using OctetString = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;

constexpr int kBackdateSeconds = 5 * 60;  // tolerate clocks a few minutes behind ours
constexpr int kMaxDays = 100 * 365;       // keeps days * 86400 far from overflowing a long
constexpr int kCommonNameMax = 64;        // ub-common-name (RFC 5280)

// `what`, plus whatever OpenSSL queued for this thread; leaves the queue empty.
bool fail(std::string& error, const std::string& what) {
  error = what;
  unsigned long code;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    error += first ? ": " : "; ";
    error += buf;
    first = false;
  }
  return false;
}

Key generate(KeyType type, std::string& error) {
  EVP_PKEY* k = type == KeyType::Rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (k == nullptr) fail(error, "cannot generate a private key");
  return Key(k);
}

Bio memory_bio(const std::string& text) { return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

Cert read_cert(const std::string& pem, std::string& error) {
  if (pem.empty()) {
    fail(error, "no certificate (empty PEM)");
    return nullptr;
  }
  Bio bio = memory_bio(pem);
  Cert cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) fail(error, "cannot read a PEM certificate");
  return cert;
}

Key read_key(const std::string& pem, std::string& error) {
  if (pem.empty()) {
    fail(error, "no private key (empty PEM)");
    return nullptr;
  }
  Bio bio = memory_bio(pem);
  // An empty passphrase: an encrypted key fails here instead of prompting on the terminal.
  char empty[] = "";
  Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, empty) : nullptr);
  if (!key) fail(error, "cannot read a PEM private key (unencrypted PKCS#8, RSA or EC)");
  return key;
}

std::optional<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return std::nullopt;
  return std::string(data, static_cast<std::size_t>(len));
}

std::optional<Pair> to_pem(X509* cert, EVP_PKEY* key, std::string& error) {
  Bio cb(BIO_new(BIO_s_mem()));
  Bio kb(BIO_new(BIO_s_mem()));
  if (!cb || !kb || PEM_write_bio_X509(cb.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(kb.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail(error, "cannot write PEM");
    return std::nullopt;
  }
  auto c = bio_text(cb.get());
  auto k = bio_text(kb.get());
  if (!c || !k) {
    fail(error, "cannot write PEM");
    return std::nullopt;
  }
  return Pair{std::move(*c), std::move(*k)};
}

// A positive random serial of 159 bits (RFC 5280: at most 20 octets; CA/B: at least 64 random bits).
bool set_random_serial(X509* cert, std::string& error) {
  Bignum bn(BN_new());
  if (!bn) return fail(error, "cannot allocate a serial number");
  do {
    if (BN_rand(bn.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return fail(error, "cannot draw a random serial number");
    }
  } while (BN_is_zero(bn.get()));
  Asn1Int serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) {
    return fail(error, "cannot set the serial number");
  }
  return true;
}

bool set_validity(X509* cert, int days, std::string& error) {
  if (days < 1 || days > kMaxDays) {
    return fail(error,
                "validity must be between 1 and " + std::to_string(kMaxDays) + " days, not " + std::to_string(days));
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(days) * 86400L) == nullptr) {
    return fail(error, "cannot set the validity period");
  }
  return true;
}

Name common_name(const std::string& cn, std::string& error) {
  Name name(X509_NAME_new());
  if (!name) {
    fail(error, "cannot allocate a name");
    return nullptr;
  }
  if (!cn.empty() &&
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    fail(error, "cannot set the common name '" + cn + "'");
    return nullptr;
  }
  return name;
}

// One extension from OpenSSL's configuration syntax; `ctx` names the subject and issuer (for the
// key identifiers). Only fixed strings from this file go through here, never user input.
bool add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value, std::string& error) {
  Ext ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return fail(error, std::string("cannot add extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return true;
}

// A DNS name as a SAN accepts it: LDH labels separated by dots, an optional leading "*." wildcard.
bool valid_dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = name.rfind("*.", 0) == 0 ? 2 : 0;
  std::size_t label = 0;
  for (std::size_t i = start; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63) return false;
      if (name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
      continue;
    }
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
    ++label;
  }
  return true;
}

// The subjectAltName, built as a structure (not a config string, so a name cannot smuggle in
// another entry).
bool add_san(X509* cert, const std::vector<std::string>& dns_names, const std::vector<std::string>& ips,
             std::string& error) {
  GeneralNames names(GENERAL_NAMES_new());
  if (!names) return fail(error, "cannot allocate subjectAltName");
  for (const std::string& dns : dns_names) {
    if (!valid_dns_name(dns)) return fail(error, "not a valid DNS name for a certificate: '" + dns + "'");
    Ia5 str(ASN1_IA5STRING_new());
    GeneralName gn(GENERAL_NAME_new());
    if (!str || !gn || ASN1_STRING_set(str.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
      return fail(error, "cannot build subjectAltName");
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, str.release());
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return fail(error, "cannot build subjectAltName");
    gn.release();
  }
  for (const std::string& ip : ips) {
    OctetString addr(a2i_IPADDRESS(ip.c_str()));
    if (!addr) {
      ERR_clear_error();
      return fail(error, "not an IP address: '" + ip + "'");
    }
    GeneralName gn(GENERAL_NAME_new());
    if (!gn) return fail(error, "cannot build subjectAltName");
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, addr.release());
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return fail(error, "cannot build subjectAltName");
    gn.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return fail(error, "cannot add subjectAltName");
  }
  return true;
}

bool sign(X509* cert, EVP_PKEY* key, std::string& error) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return fail(error, "cannot sign the certificate");
  return true;
}

// The common part of every certificate: v3, serial, validity, subject, issuer, public key.
Cert new_cert(const std::string& cn, X509_NAME* issuer, EVP_PKEY* key, int days, std::string& error) {
  Cert cert(X509_new());
  if (!cert) {
    fail(error, "cannot allocate a certificate");
    return nullptr;
  }
  Name subject = common_name(cn, error);
  if (!subject) return nullptr;
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? issuer : subject.get()) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    fail(error, "cannot fill in the certificate");
    return nullptr;
  }
  if (!set_random_serial(cert.get(), error) || !set_validity(cert.get(), days, error)) return nullptr;
  return cert;
}

std::vector<std::string> san_entries(X509* cert, int type) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != type) continue;
    if (type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      int len = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text, sizeof text) != nullptr) {
        out.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

std::optional<Pair> make_ca(const std::string& common_name, int days, KeyType key_type, std::string& error) {
  ERR_clear_error();
  if (common_name.empty() || common_name.size() > kCommonNameMax) {
    fail(error, "the CA's common name must be 1 to 64 characters");
    return std::nullopt;
  }
  Key key = generate(key_type, error);
  if (!key) return std::nullopt;
  Cert cert = new_cert(common_name, nullptr, key.get(), days, error);
  if (!cert) return std::nullopt;
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  // The subject key identifier first: the self-referencing authority key identifier copies it.
  if (!add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", error) ||
      !add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature", error) ||
      !add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash", error) ||
      !add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always", error) ||
      !sign(cert.get(), key.get(), error)) {
    return std::nullopt;
  }
  return to_pem(cert.get(), key.get(), error);
}

std::optional<Pair> issue_serving(const Pair& ca, const std::vector<std::string>& dns_names,
                                  const std::vector<std::string>& ips, int days, KeyType key_type, std::string& error) {
  ERR_clear_error();
  if (dns_names.empty()) {
    fail(error, "a serving certificate needs at least one DNS name");
    return std::nullopt;
  }
  Cert ca_cert = read_cert(ca.cert_pem, error);
  if (!ca_cert) return std::nullopt;
  Key ca_key = read_key(ca.key_pem, error);
  if (!ca_key) return std::nullopt;
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    fail(error, "the CA's private key does not belong to its certificate");
    return std::nullopt;
  }
  if (X509_check_ca(ca_cert.get()) == 0) {
    fail(error, "the issuing certificate is not a CA");
    return std::nullopt;
  }
  Key key = generate(key_type, error);
  if (!key) return std::nullopt;
  // A DNS name longer than a common name may be leaves the subject empty; the SAN carries it.
  const std::string& cn = dns_names[0].size() <= kCommonNameMax ? dns_names[0] : std::string();
  Cert cert = new_cert(cn, X509_get_subject_name(ca_cert.get()), key.get(), days, error);
  if (!cert) return std::nullopt;
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  // keyEncipherment only means something for RSA key transport; an EC key only signs.
  const char* usage =
      key_type == KeyType::Rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";
  if (!add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE", error) ||
      !add_ext(cert.get(), &ctx, NID_key_usage, usage, error) ||
      !add_ext(cert.get(), &ctx, NID_ext_key_usage, "serverAuth", error) ||
      !add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash", error) ||
      !add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always", error) ||
      !add_san(cert.get(), dns_names, ips, error) || !sign(cert.get(), ca_key.get(), error)) {
    return std::nullopt;
  }
  return to_pem(cert.get(), key.get(), error);
}

std::optional<std::time_t> not_after(const std::string& cert_pem, std::string& error) {
  ERR_clear_error();
  Cert cert = read_cert(cert_pem, error);
  if (!cert) return std::nullopt;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    fail(error, "cannot read the certificate's notAfter");
    return std::nullopt;
  }
  return timegm(&tm);
}

bool key_matches(const std::string& cert_pem, const std::string& key_pem, std::string& error) {
  ERR_clear_error();
  Cert cert = read_cert(cert_pem, error);
  if (!cert) return false;
  Key key = read_key(key_pem, error);
  if (!key) return false;
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1) {
    ERR_clear_error();
    error = "the private key does not belong to the certificate";
    return false;
  }
  return true;
}

std::optional<CertInfo> inspect(const std::string& cert_pem, std::string& error) {
  ERR_clear_error();
  Cert cert = read_cert(cert_pem, error);
  if (!cert) return std::nullopt;
  CertInfo info;
  char buf[256];
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof buf);
  if (n > 0) info.common_name.assign(buf, static_cast<std::size_t>(n));
  info.dns_names = san_entries(cert.get(), GEN_DNS);
  info.ips = san_entries(cert.get(), GEN_IPADD);
  info.is_ca = X509_check_ca(cert.get()) != 0;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert.get()), &tm) != 1) {
    fail(error, "cannot read the certificate's notBefore");
    return std::nullopt;
  }
  info.not_before = timegm(&tm);
  tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    fail(error, "cannot read the certificate's notAfter");
    return std::nullopt;
  }
  info.not_after = timegm(&tm);
  ERR_clear_error();
  return info;
}

bool verify(const std::string& ca_pem, const std::string& cert_pem, std::string& error) {
  ERR_clear_error();
  Cert ca = read_cert(ca_pem, error);
  if (!ca) return false;
  Cert cert = read_cert(cert_pem, error);
  if (!cert) return false;
  Store store(X509_STORE_new());
  StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return fail(error, "cannot set up certificate verification");
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    error = std::string("the certificate does not verify against the CA: ") + X509_verify_cert_error_string(code);
    return false;
  }
  return true;
}

}  // namespace ray_admission::pki
