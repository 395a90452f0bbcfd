// certs/pki: a CA and a serving certificate, checked with OpenSSL's own verifier rather than with
// the code under test.
#include "certs/pki.h"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <memory>

namespace pki = ray_admission::pki;

namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return Cert(x);
}

// X509_verify_cert with `ca` as the only trust anchor, for a TLS server; returns the error code.
int verify_with_openssl(const std::string& ca_pem, const std::string& leaf_pem, const char* host = nullptr) {
  Cert ca = parse(ca_pem);
  Cert leaf = parse(leaf_pem);
  REQUIRE(ca);
  REQUIRE(leaf);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  if (host != nullptr) X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
  int ok = X509_verify_cert(ctx);
  int code = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  return code;
}

const std::vector<std::string> kNames = {"ray-admission", "ray-admission.ray-system", "ray-admission.ray-system.svc",
                                         "ray-admission.ray-system.svc.cluster.local"};

}  // namespace

TEST_CASE("pki: an ECDSA CA signs a serving certificate that OpenSSL verifies") {
  std::string err;
  auto ca = pki::make_ca("ray-admission-ca", 3650, pki::KeyType::Ecdsa, err);
  REQUIRE_MESSAGE(ca, err);
  CHECK(ca->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
  CHECK(ca->key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);

  auto leaf = pki::issue_serving(*ca, kNames, {"127.0.0.1", "::1"}, 365, pki::KeyType::Ecdsa, err);
  REQUIRE_MESSAGE(leaf, err);

  CHECK(verify_with_openssl(ca->cert_pem, leaf->cert_pem) == X509_V_OK);
  CHECK(verify_with_openssl(ca->cert_pem, leaf->cert_pem, "ray-admission.ray-system.svc") == X509_V_OK);
  CHECK(verify_with_openssl(ca->cert_pem, leaf->cert_pem, "other.ray-system.svc") == X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(pki::verify(ca->cert_pem, leaf->cert_pem, err));

  // The SANs, read by OpenSSL.
  Cert cert = parse(leaf->cert_pem);
  REQUIRE(cert);
  for (const std::string& name : kNames) {
    CHECK_MESSAGE(X509_check_host(cert.get(), name.data(), name.size(), 0, nullptr) == 1, name);
  }
  CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "10.0.0.1", 0) == 0);
  CHECK(X509_check_ca(cert.get()) == 0);
  CHECK((X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER) != 0);
  CHECK(EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())) == EVP_PKEY_EC);

  // The key identifiers chain: the leaf's authority key id is the CA's subject key id.
  Cert ca_cert = parse(ca->cert_pem);
  REQUIRE(ca_cert);
  CHECK(X509_check_ca(ca_cert.get()) != 0);
  const ASN1_OCTET_STRING* ca_skid = X509_get0_subject_key_id(ca_cert.get());
  const ASN1_OCTET_STRING* leaf_akid = X509_get0_authority_key_id(cert.get());
  REQUIRE(ca_skid != nullptr);
  REQUIRE(leaf_akid != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(ca_skid, leaf_akid) == 0);
  CHECK(X509_get0_subject_key_id(cert.get()) != nullptr);

  // inspect() agrees with OpenSSL.
  auto info = pki::inspect(leaf->cert_pem, err);
  REQUIRE_MESSAGE(info, err);
  CHECK(info->common_name == "ray-admission");
  CHECK(info->dns_names == kNames);
  CHECK(info->ips == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK_FALSE(info->is_ca);
  auto ca_info = pki::inspect(ca->cert_pem, err);
  REQUIRE(ca_info);
  CHECK(ca_info->is_ca);
  CHECK(ca_info->common_name == "ray-admission-ca");
}

TEST_CASE("pki: key_matches pairs a certificate with its own key only") {
  std::string err;
  auto ca = pki::make_ca("test-ca", 30, pki::KeyType::Ecdsa, err);
  REQUIRE(ca);
  auto leaf = pki::issue_serving(*ca, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err);
  REQUIRE(leaf);
  CHECK(pki::key_matches(leaf->cert_pem, leaf->key_pem, err));
  CHECK(pki::key_matches(ca->cert_pem, ca->key_pem, err));
  CHECK_FALSE(pki::key_matches(leaf->cert_pem, ca->key_pem, err));
  CHECK(err.find("does not belong") != std::string::npos);
  CHECK_FALSE(pki::key_matches("not a pem", leaf->key_pem, err));
  CHECK_FALSE(pki::key_matches(leaf->cert_pem, "", err));
  CHECK(ERR_peek_error() == 0);  // the error queue is left empty
}

TEST_CASE("pki: not_after is `days` from now") {
  std::string err;
  std::time_t before = std::time(nullptr);
  auto ca = pki::make_ca("test-ca", 3650, pki::KeyType::Ecdsa, err);
  REQUIRE(ca);
  auto leaf = pki::issue_serving(*ca, {"svc"}, {}, 90, pki::KeyType::Ecdsa, err);
  REQUIRE(leaf);
  std::time_t after = std::time(nullptr);
  auto ca_end = pki::not_after(ca->cert_pem, err);
  auto leaf_end = pki::not_after(leaf->cert_pem, err);
  REQUIRE(ca_end);
  REQUIRE(leaf_end);
  CHECK(*ca_end >= before + 3650L * 86400);
  CHECK(*ca_end <= after + 3650L * 86400);
  CHECK(*leaf_end >= before + 90L * 86400);
  CHECK(*leaf_end <= after + 90L * 86400);
  // notBefore is backdated a little for clock skew, never in the future.
  auto info = pki::inspect(leaf->cert_pem, err);
  REQUIRE(info);
  CHECK(info->not_before <= before);
  CHECK(info->not_before >= before - 3600);
  CHECK_FALSE(pki::not_after("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("pki: RSA 2048 keys") {
  std::string err;
  auto ca = pki::make_ca("rsa-ca", 365, pki::KeyType::Rsa, err);
  REQUIRE_MESSAGE(ca, err);
  auto leaf = pki::issue_serving(*ca, {"svc.ns.svc"}, {}, 30, pki::KeyType::Rsa, err);
  REQUIRE_MESSAGE(leaf, err);
  CHECK(verify_with_openssl(ca->cert_pem, leaf->cert_pem, "svc.ns.svc") == X509_V_OK);
  Cert cert = parse(leaf->cert_pem);
  REQUIRE(cert);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  CHECK(EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA);
  CHECK(EVP_PKEY_get_bits(pub) == 2048);
  CHECK((X509_get_key_usage(cert.get()) & KU_KEY_ENCIPHERMENT) != 0);
  CHECK(pki::key_matches(leaf->cert_pem, leaf->key_pem, err));
  // An EC leaf under an RSA CA is fine too.
  auto mixed = pki::issue_serving(*ca, {"svc.ns.svc"}, {}, 30, pki::KeyType::Ecdsa, err);
  REQUIRE(mixed);
  CHECK(verify_with_openssl(ca->cert_pem, mixed->cert_pem) == X509_V_OK);
}

TEST_CASE("pki: serials are random and positive") {
  std::string err;
  auto ca = pki::make_ca("test-ca", 30, pki::KeyType::Ecdsa, err);
  REQUIRE(ca);
  auto a = pki::issue_serving(*ca, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err);
  auto b = pki::issue_serving(*ca, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err);
  REQUIRE(a);
  REQUIRE(b);
  Cert ca_cert = parse(ca->cert_pem), ca_b = parse(a->cert_pem), cb = parse(b->cert_pem);
  const ASN1_INTEGER* sa = X509_get0_serialNumber(ca_b.get());
  const ASN1_INTEGER* sb = X509_get0_serialNumber(cb.get());
  CHECK(ASN1_INTEGER_cmp(sa, sb) != 0);
  CHECK(ASN1_INTEGER_cmp(sa, X509_get0_serialNumber(ca_cert.get())) != 0);
  BIGNUM* bn = ASN1_INTEGER_to_BN(sa, nullptr);
  REQUIRE(bn != nullptr);
  CHECK_FALSE(BN_is_negative(bn));
  CHECK(BN_num_bits(bn) > 64);
  CHECK(BN_num_bits(bn) <= 159);
  BN_free(bn);
}

TEST_CASE("pki: a leaf from another CA does not verify") {
  std::string err;
  auto ca1 = pki::make_ca("ca-one", 30, pki::KeyType::Ecdsa, err);
  auto ca2 = pki::make_ca("ca-one", 30, pki::KeyType::Ecdsa, err);  // same name, other key
  REQUIRE(ca1);
  REQUIRE(ca2);
  auto leaf = pki::issue_serving(*ca2, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err);
  REQUIRE(leaf);
  CHECK(verify_with_openssl(ca1->cert_pem, leaf->cert_pem) != X509_V_OK);
  CHECK_FALSE(pki::verify(ca1->cert_pem, leaf->cert_pem, err));
  CHECK(err.find("does not verify") != std::string::npos);
}

TEST_CASE("pki: bad input is an error value, not a certificate") {
  std::string err;
  auto ca = pki::make_ca("test-ca", 30, pki::KeyType::Ecdsa, err);
  REQUIRE(ca);
  auto leaf = pki::issue_serving(*ca, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err);
  REQUIRE(leaf);

  err.clear();
  CHECK_FALSE(pki::issue_serving(*ca, {}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK_FALSE(err.empty());
  // A name cannot smuggle a second SAN entry in through OpenSSL's config syntax.
  CHECK_FALSE(pki::issue_serving(*ca, {"svc, DNS:evil.example"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK(err.find("not a valid DNS name") != std::string::npos);
  CHECK_FALSE(pki::issue_serving(*ca, {"-svc"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK_FALSE(pki::issue_serving(*ca, {"a..b"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK(pki::issue_serving(*ca, {"*.svc.cluster.local"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK_FALSE(pki::issue_serving(*ca, {"svc"}, {"300.1.1.1"}, 30, pki::KeyType::Ecdsa, err));
  CHECK(err.find("not an IP address") != std::string::npos);
  CHECK_FALSE(pki::issue_serving(*ca, {"svc"}, {}, 0, pki::KeyType::Ecdsa, err));
  CHECK_FALSE(pki::make_ca("ca", -1, pki::KeyType::Ecdsa, err));
  CHECK_FALSE(pki::make_ca("", 30, pki::KeyType::Ecdsa, err));
  // A leaf cannot act as a CA, and a CA certificate needs its own key.
  CHECK_FALSE(pki::issue_serving(*leaf, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK(err.find("not a CA") != std::string::npos);
  CHECK_FALSE(pki::issue_serving(pki::Pair{ca->cert_pem, leaf->key_pem}, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK(err.find("does not belong") != std::string::npos);
  CHECK_FALSE(pki::issue_serving(pki::Pair{"garbage", ca->key_pem}, {"svc"}, {}, 30, pki::KeyType::Ecdsa, err));
  CHECK_FALSE(pki::inspect("", err));
  CHECK(ERR_peek_error() == 0);

  // A first DNS name too long for a common name still works: the SAN carries it.
  std::string longname = std::string(60, 'a') + ".ray-system.svc.cluster.local";
  auto long_leaf = pki::issue_serving(*ca, {longname}, {}, 30, pki::KeyType::Ecdsa, err);
  REQUIRE_MESSAGE(long_leaf, err);
  CHECK(verify_with_openssl(ca->cert_pem, long_leaf->cert_pem, longname.c_str()) == X509_V_OK);
}
