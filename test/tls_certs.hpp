#pragma once
// A throwaway PKI for the TLS tests, made with OpenSSL's API when a test first asks for it and
// removed when the program ends (nothing that expires is checked in): a CA, a server
// certificate it signed for localhost and 127.0.0.1, one for another host, one that has
// expired, and a second CA that signed none of them.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ringo_test {

struct tls_files {
  std::string dir;
  std::string ca;               // the CA the tests trust
  std::string other_ca;         // a CA that signed nothing the servers present
  std::string server_cert;      // localhost, 127.0.0.1; signed by `ca`
  std::string server_key;       // the key of every server certificate
  std::string wrong_host_cert;  // wrong.example only
  std::string expired_cert;     // localhost, 127.0.0.1, expired yesterday

  tls_files(const tls_files&) = delete;
  tls_files& operator=(const tls_files&) = delete;
  tls_files() = default;
  ~tls_files() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

namespace detail_certs {

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string{"making the test certificates: "} + what);
}

inline EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  check(key != nullptr, "EVP_PKEY_Q_keygen");
  return key;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, value);
  check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

/// A certificate for `cn` with `key`, valid from `from_days` to `to_days` from now, signed by
/// `issuer` with `issuer_key` (itself when `issuer` is null); a CA's when `san` is null.
inline X509* make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                       long from_days, long to_days, const char* san) {
  static long serial = 1;
  X509* cert = X509_new();
  check(cert != nullptr, "X509_new");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), to_days * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ringo tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  add_ext(cert, signer, NID_subject_key_identifier, "hash");
  if (san == nullptr) {
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(cert, signer, NID_subject_alt_name, san);
  }
  check(X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

inline void write_cert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, path.c_str());
  check(PEM_write_X509(f, cert) == 1, "PEM_write_X509");
  std::fclose(f);
}

inline void write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, path.c_str());
  check(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_PrivateKey");
  std::fclose(f);
}

}  // namespace detail_certs

/// The files, made on the first call.
inline const tls_files& test_certificates() {
  static const tls_files* files = [] {
    using namespace detail_certs;
    auto* f = new tls_files;
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "ringo-tls-XXXXXX").string();
    check(::mkdtemp(dir_template.data()) != nullptr, "mkdtemp");
    f->dir = dir_template;
    f->ca = f->dir + "/ca.pem";
    f->other_ca = f->dir + "/other-ca.pem";
    f->server_cert = f->dir + "/server.pem";
    f->server_key = f->dir + "/server-key.pem";
    f->wrong_host_cert = f->dir + "/wrong-host.pem";
    f->expired_cert = f->dir + "/expired.pem";

    EVP_PKEY* ca_key = new_key();
    EVP_PKEY* other_key = new_key();
    EVP_PKEY* server_key = new_key();
    X509* ca = make_cert("ringo test CA", ca_key, nullptr, nullptr, -1, 30, nullptr);
    X509* other = make_cert("another test CA", other_key, nullptr, nullptr, -1, 30, nullptr);
    X509* server =
        make_cert("localhost", server_key, ca, ca_key, -1, 30, "DNS:localhost,IP:127.0.0.1");
    X509* wrong = make_cert("wrong.example", server_key, ca, ca_key, -1, 30, "DNS:wrong.example");
    X509* expired =
        make_cert("localhost", server_key, ca, ca_key, -3, -1, "DNS:localhost,IP:127.0.0.1");
    write_cert(f->ca, ca);
    write_cert(f->other_ca, other);
    write_cert(f->server_cert, server);
    write_cert(f->wrong_host_cert, wrong);
    write_cert(f->expired_cert, expired);
    write_key(f->server_key, server_key);
    for (X509* c : {ca, other, server, wrong, expired})
      X509_free(c);
    for (EVP_PKEY* k : {ca_key, other_key, server_key})
      EVP_PKEY_free(k);
    // Removed at exit (a static's destructor would run before Catch's last output, harmlessly).
    static const struct remover {
      tls_files* f;
      ~remover() { delete f; }
    } at_exit{f};
    return f;
  }();
  return *files;
}

}  // namespace ringo_test
