// The keys of an established session as the kernel takes them: TLS 1.3's from the traffic
// secrets (caught in OpenSSL's key log), TLS 1.2's from the master secret, for the AEAD
// ciphers the kernel makes records with.
#include "tls/kernel_keys.hpp"

#include <linux/tls.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <string_view>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

namespace ringo::detail {

namespace {

constexpr unsigned secret_of_client = 1;
constexpr unsigned secret_of_server = 2;

/// The ciphers the kernel makes records with, and their key and IV sizes (the IV: TLS 1.2's
/// fixed part, TLS 1.3's whole nonce).
struct aead {
  int nid;
  std::size_t key_size;
  std::size_t fixed_iv_tls12;
};
constexpr aead aeads[] = {
    {NID_aes_128_gcm, 16, 4},
    {NID_aes_256_gcm, 32, 4},
    {NID_chacha20_poly1305, 32, 12},
};
constexpr std::size_t nonce_size = 12;

void put_sequence(unsigned char (&out)[8], std::uint64_t seq) noexcept {
  for (int i = 7; i >= 0; --i, seq >>= 8) out[i] = static_cast<unsigned char>(seq);
}

/// Fills `k` for cipher `a`: `iv` is TLS 1.3's nonce (12 bytes), or TLS 1.2's fixed part.
/// TLS 1.2's explicit nonce starts from the sequence number, as the kernel then counts it.
void fill_keys(kernel_keys& k, const aead& a, bool tls13, const unsigned char* key,
               const unsigned char* iv, std::uint64_t seq) noexcept {
  const unsigned short version = tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
  auto fill_gcm = [&](auto info, unsigned short cipher) {
    info.info.version = version;
    info.info.cipher_type = cipher;
    std::memcpy(info.key, key, sizeof info.key);
    std::memcpy(info.salt, iv, sizeof info.salt);
    if (tls13) {
      std::memcpy(info.iv, iv + sizeof info.salt, sizeof info.iv);
    } else {
      put_sequence(info.iv, seq);
    }
    put_sequence(info.rec_seq, seq);
    k.take(info);
  };
  if (a.nid == NID_aes_128_gcm) {
    fill_gcm(tls12_crypto_info_aes_gcm_128{}, TLS_CIPHER_AES_GCM_128);
  } else if (a.nid == NID_aes_256_gcm) {
    fill_gcm(tls12_crypto_info_aes_gcm_256{}, TLS_CIPHER_AES_GCM_256);
  } else {
    tls12_crypto_info_chacha20_poly1305 info{};
    info.info.version = version;
    info.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
    std::memcpy(info.key, key, sizeof info.key);
    std::memcpy(info.iv, iv, sizeof info.iv);
    put_sequence(info.rec_seq, seq);
    k.take(info);
  }
}

/// Runs KDF `name` ("HKDF", "TLS1-PRF") with `params` into `out`.
bool derive(const char* name, OSSL_PARAM* params, unsigned char* out, std::size_t size) noexcept {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, name, nullptr);
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return false;
  const bool ok = EVP_KDF_derive(ctx, out, size, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

/// TLS 1.3's HKDF-Expand-Label(secret, label, "", size) (RFC 8446 7.1).
bool expand_label(const EVP_MD* md, const unsigned char* secret, std::size_t secret_size,
                  std::string_view label, unsigned char* out, std::size_t size) noexcept {
  constexpr std::string_view prefix = "tls13 ";
  std::array<unsigned char, 2 + 1 + 6 + 8 + 1> info{};
  std::size_t n = 0;
  info[n++] = static_cast<unsigned char>(size >> 8);
  info[n++] = static_cast<unsigned char>(size);
  info[n++] = static_cast<unsigned char>(prefix.size() + label.size());
  n = std::copy(prefix.begin(), prefix.end(), info.begin() + n) - info.begin();
  n = std::copy(label.begin(), label.end(), info.begin() + n) - info.begin();
  info[n++] = 0;  // no context
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret),
                                        secret_size),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), n),
      OSSL_PARAM_construct_end()};
  return derive("HKDF", params, out, size);
}

/// Both directions' keys of the session: `tx` this side's, `rx` the peer's.
bool derive_with(const tls_state& s, const aead& a, std::uint64_t write_sequence,
                 std::uint64_t read_sequence, kernel_keys& tx, kernel_keys& rx) noexcept {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(s.ssl);
  const EVP_MD* md = SSL_CIPHER_get_handshake_digest(cipher);
  if (md == nullptr) return false;
  const bool server = s.context->server;
  std::array<unsigned char, 32> client_key{}, server_key{};
  std::array<unsigned char, nonce_size> client_iv{}, server_iv{};
  struct wipe {
    std::array<unsigned char, 32>&a, &b;
    std::array<unsigned char, nonce_size>&c, &d;
    ~wipe() {
      OPENSSL_cleanse(a.data(), a.size());
      OPENSSL_cleanse(b.data(), b.size());
      OPENSSL_cleanse(c.data(), c.size());
      OPENSSL_cleanse(d.data(), d.size());
    }
  } wiped{client_key, server_key, client_iv, server_iv};
  const bool tls13 = SSL_version(s.ssl) == TLS1_3_VERSION;
  if (tls13) {
    const kernel_tls_state& k = s.kernel;
    if (k.secret_size == 0 || k.secrets_kept != (secret_of_client | secret_of_server)) {
      return false;
    }
    if (!expand_label(md, k.client_secret.data(), k.secret_size, "key", client_key.data(),
                      a.key_size) ||
        !expand_label(md, k.client_secret.data(), k.secret_size, "iv", client_iv.data(),
                      nonce_size) ||
        !expand_label(md, k.server_secret.data(), k.secret_size, "key", server_key.data(),
                      a.key_size) ||
        !expand_label(md, k.server_secret.data(), k.secret_size, "iv", server_iv.data(),
                      nonce_size)) {
      return false;
    }
  } else {
    // TLS 1.2 (RFC 5246 6.3): the key block from the master secret, in the order client key,
    // server key, client IV, server IV (an AEAD has no MAC keys).
    std::array<unsigned char, SSL_MAX_MASTER_KEY_LENGTH> master{};
    const std::size_t master_size =
        SSL_SESSION_get_master_key(SSL_get_session(s.ssl), master.data(), master.size());
    constexpr std::string_view label = "key expansion";
    std::array<unsigned char, 13 + 2 * SSL3_RANDOM_SIZE> seed{};
    std::copy(label.begin(), label.end(), seed.begin());
    SSL_get_server_random(s.ssl, seed.data() + label.size(), SSL3_RANDOM_SIZE);
    SSL_get_client_random(s.ssl, seed.data() + label.size() + SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE);
    std::array<unsigned char, 2 * 32 + 2 * nonce_size> block{};
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                         const_cast<char*>(EVP_MD_get0_name(md)), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master.data(), master_size),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed.data(), seed.size()),
        OSSL_PARAM_construct_end()};
    const std::size_t k = a.key_size, f = a.fixed_iv_tls12;
    const bool ok = master_size != 0 && derive("TLS1-PRF", params, block.data(), 2 * k + 2 * f);
    if (ok) {
      std::memcpy(client_key.data(), block.data(), k);
      std::memcpy(server_key.data(), block.data() + k, k);
      std::memcpy(client_iv.data(), block.data() + 2 * k, f);
      std::memcpy(server_iv.data(), block.data() + 2 * k + f, f);
    }
    OPENSSL_cleanse(master.data(), master.size());
    OPENSSL_cleanse(block.data(), block.size());
    if (!ok) return false;
  }
  fill_keys(tx, a, tls13, (server ? server_key : client_key).data(),
            (server ? server_iv : client_iv).data(), write_sequence);
  fill_keys(rx, a, tls13, (server ? client_key : server_key).data(),
            (server ? client_iv : server_iv).data(), read_sequence);
  return true;
}

}  // namespace

bool derive_kernel_keys(const tls_state& s, std::uint64_t write_sequence,
                        std::uint64_t read_sequence, kernel_keys& tx, kernel_keys& rx) noexcept {
  const int nid = SSL_CIPHER_get_cipher_nid(SSL_get_current_cipher(s.ssl));
  const aead* a = std::find_if(std::begin(aeads), std::end(aeads),
                               [nid](const aead& x) { return x.nid == nid; });
  return a != std::end(aeads) && derive_with(s, *a, write_sequence, read_sequence, tx, rx);
}

void wipe_secrets(tls_state& s) noexcept {
  OPENSSL_cleanse(s.kernel.client_secret.data(), s.kernel.client_secret.size());
  OPENSSL_cleanse(s.kernel.server_secret.data(), s.kernel.server_secret.size());
  s.kernel.secret_size = 0;
  s.kernel.secrets_kept = 0;
}

void keep_traffic_secret(const SSL* ssl, const char* line) noexcept {
  auto* s = static_cast<tls_state*>(SSL_get_app_data(ssl));
  if (s == nullptr || !s->kernel.wanted) return;
  // "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>", in hexadecimal.
  const std::string_view text{line};
  unsigned which = 0;
  if (text.starts_with("CLIENT_TRAFFIC_SECRET_0 ")) which = secret_of_client;
  if (text.starts_with("SERVER_TRAFFIC_SECRET_0 ")) which = secret_of_server;
  if (which == 0) return;
  const std::string_view hex = text.substr(text.rfind(' ') + 1);
  auto& out = which == secret_of_client ? s->kernel.client_secret : s->kernel.server_secret;
  if (hex.size() % 2 != 0 || hex.size() / 2 > out.size()) return;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  s->kernel.secret_size = static_cast<std::uint8_t>(hex.size() / 2);
  s->kernel.secrets_kept = static_cast<std::uint8_t>(s->kernel.secrets_kept | which);
}

}  // namespace ringo::detail
