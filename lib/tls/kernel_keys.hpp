#pragma once
// The keys of an established TLS session in the form setsockopt(SOL_TLS, TLS_TX or TLS_RX)
// takes them, and the TLS 1.3 traffic secrets they are derived from, which reach ringo only
// through OpenSSL's key log.
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "tls/state.hpp"

namespace ringo::detail {

/// One direction's keys as setsockopt(SOL_TLS, TLS_TX or TLS_RX) takes them: one of the
/// kernel's tls12_crypto_info_* structures (which begin alike, with version and cipher), of
/// `size` bytes.
struct kernel_keys {
  alignas(8) unsigned char info[64]{};
  socklen_t size = 0;
  ~kernel_keys() { OPENSSL_cleanse(info, sizeof info); }
  template <class Info>
  void take(Info& filled) noexcept {
    static_assert(sizeof(Info) <= sizeof info);
    std::memcpy(info, &filled, sizeof filled);
    size = sizeof filled;
    OPENSSL_cleanse(&filled, sizeof filled);
  }
};

/// Both directions' keys of the session on `s`, with the sequence numbers their next records
/// have: `tx` this side's, `rx` the peer's. False when the cipher is not one the kernel makes
/// records with (AES-GCM, ChaCha20-Poly1305), or a secret is missing.
bool derive_kernel_keys(const tls_state& s, std::uint64_t write_sequence,
                        std::uint64_t read_sequence, kernel_keys& tx, kernel_keys& rx) noexcept;

/// Wipes the traffic secrets `s` kept.
void wipe_secrets(tls_state& s) noexcept;

/// OpenSSL's key log callback, set on every context: keeps a stream's TLS 1.3 application
/// traffic secrets when it is to hand its keys to the kernel.
void keep_traffic_secret(const SSL* ssl, const char* line) noexcept;

}  // namespace ringo::detail
