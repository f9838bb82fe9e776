// TLS contexts: an OpenSSL SSL_CTX made for a server (its certificate chain and key) or a
// client (the system's trust store), ALPN, and the kernel TLS probe.
#include <ringo/net/tls_context.hpp>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include <ringo/net/tls_error.hpp>

#include "backend/kernel_tls_probe.hpp"
#include "tls/kernel_keys.hpp"
#include "tls/state.hpp"

namespace ringo::net {

namespace {

/// Throws the tls_error for a failed call on a context: `what` and OpenSSL's earliest reason.
[[noreturn]] void throw_context_failure(const std::string& what) {
  const unsigned long e = ERR_peek_error();
  std::error_code code;
  if (ERR_SYSTEM_ERROR(e)) {
    code = std::error_code(ERR_GET_REASON(e), std::system_category());
  } else {
    code = std::error_code(static_cast<int>(e & 0x7fffffffUL), tls_category());
  }
  ERR_clear_error();
  throw tls_error(code, fmt::format("{}: {}", what, code.message()));
}

SSL_CTX* new_ctx(const SSL_METHOD* method) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) throw std::bad_alloc();
  // TLS 1.2 and 1.3 only; no renegotiation (a record read must never need a write first);
  // OpenSSL keeps its record buffers (SSL_MODE_RELEASE_BUFFERS off) so that the steady path
  // allocates nothing. SSL_OP_ENABLE_KTLS would have no effect: OpenSSL only hands keys to
  // the kernel through a socket BIO, and ringo's BIOs are in memory (ringo hands them over
  // itself: lib/tls/kernel.cpp).
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // The TLS 1.3 traffic secrets reach ringo only through the key log: a stream that hands
  // its keys to the kernel keeps them until then; no other line is kept.
  SSL_CTX_set_keylog_callback(ctx, &detail::keep_traffic_secret);
  return ctx;
}

// The server's ALPN choice: the first of its protocols that the client offers; none (and the
// handshake goes on) when there is no such protocol.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void* arg) {
  const auto& self = *static_cast<const tls_context::impl*>(arg);
  if (self.alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, self.alpn.data(),
                            static_cast<unsigned int>(self.alpn.size()), in,
                            in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::shared_ptr<const tls_context::impl> tls_context_impl(const tls_context& c) noexcept {
  return c.impl_;
}

tls_context tls_context::server(std::string cert_chain_pem_path, std::string private_key_pem_path) {
  auto p = std::make_shared<impl>(new_ctx(TLS_server_method()), true);
  SSL_CTX* ctx = p->ctx;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_chain_pem_path.c_str()) != 1) {
    throw_context_failure(fmt::format("TLS certificate chain {}", cert_chain_pem_path));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, private_key_pem_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw_context_failure(fmt::format("TLS private key {}", private_key_pem_path));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw_context_failure(fmt::format("TLS private key {} for the certificate chain {}",
                                      private_key_pem_path, cert_chain_pem_path));
  }
  // TLS 1.2's ciphers: ECDHE (forward secrecy) with an AEAD cipher only, so no CBC suite (the
  // Lucky13 family of padding oracles) and no static RSA key exchange. TLS 1.3's suites are
  // all AEAD: OpenSSL's default stays.
  if (SSL_CTX_set_cipher_list(ctx, std::string{intermediate_ciphers}.c_str()) != 1) {
    throw_context_failure("TLS server context: its cipher list");
  }
  // TLS 1.2 takes the server's order, not the client's: its first cipher that the client
  // offers.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, p.get());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // Resumption by session tickets, which the server does not store: OpenSSL's internal cache
  // would keep a session per client, up to 20,480, memory that tickets make unneeded (nginx's
  // default, too; measured, it changes no handshake's CPU).
  SSL_CTX_set_session_cache_mode(
      ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL_STORE | SSL_SESS_CACHE_NO_AUTO_CLEAR);
  return tls_context{std::move(p)};
}

tls_context tls_context::client() {
  auto p = std::make_shared<impl>(new_ctx(TLS_client_method()), false);
  // The system's bundle, read whole now (SSL_CERT_FILE if set, else OpenSSL's default file:
  // /etc/ssl/certs/ca-certificates.crt on Debian), so that verifying a server later reads no
  // file on the loop's thread. Only where there is no bundle does OpenSSL's hashed directory
  // (SSL_CERT_DIR) serve, which it reads at verification time.
  const char* env = std::getenv(X509_get_default_cert_file_env());
  const char* bundle = env != nullptr && *env != '\0' ? env : X509_get_default_cert_file();
  ERR_clear_error();
  if (SSL_CTX_load_verify_file(p->ctx, bundle) != 1) {
    ERR_clear_error();
    if (SSL_CTX_set_default_verify_paths(p->ctx) != 1) {
      throw_context_failure("TLS client context: the system's trust store");
    }
  }
  p->verify = true;
  SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, nullptr);
  return tls_context{std::move(p)};
}

void tls_context::load_verify_file(std::string ca_pem_path) {
  ERR_clear_error();
  if (SSL_CTX_load_verify_file(impl_->ctx, ca_pem_path.c_str()) != 1) {
    throw_context_failure(fmt::format("TLS CA file {}", ca_pem_path));
  }
}

void tls_context::set_verify(bool on) {
  impl_->verify = on;
  int mode = SSL_VERIFY_NONE;
  if (on)
    mode = impl_->server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER;
  SSL_CTX_set_verify(impl_->ctx, mode, nullptr);
}

void tls_context::set_alpn(std::vector<std::string> protocols) {
  std::vector<unsigned char> wire;
  for (const std::string& name : protocols) {
    if (name.empty() || name.size() > 255) {
      throw std::invalid_argument(fmt::format(
          "tls_context::set_alpn: \"{}\" cannot be an ALPN protocol name (1 to 255 bytes)", name));
    }
    wire.push_back(static_cast<unsigned char>(name.size()));
    wire.insert(wire.end(), name.begin(), name.end());
  }
  // A client offers the list in its hello; a server's callback reads it from impl.
  if (!impl_->server && SSL_CTX_set_alpn_protos(impl_->ctx, wire.data(),
                                                static_cast<unsigned int>(wire.size())) != 0) {
    throw std::bad_alloc();
  }
  impl_->alpn = std::move(wire);
}

void tls_context::set_cipher_list(std::string_view ciphers) {
  const std::string list{ciphers};
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(impl_->ctx, list.c_str()) != 1) {
    throw_context_failure(fmt::format("tls_context::set_cipher_list(\"{}\")", list));
  }
}

void tls_context::set_kernel_tls(bool on) {
  impl_->kernel_tls = on;
}

bool tls_context::kernel_tls() const noexcept {
  return impl_->kernel_tls;
}

void tls_context::set_suppress_ragged_eofs(bool on) {
  impl_->suppress_ragged_eofs = on;
}

bool tls_context::suppress_ragged_eofs() const noexcept {
  return impl_->suppress_ragged_eofs;
}

void tls_context::set_handshake_timeout(std::chrono::nanoseconds timeout) {
  impl_->handshake_timeout = timeout;
}

std::chrono::nanoseconds tls_context::handshake_timeout() const noexcept {
  return impl_->handshake_timeout;
}

bool tls_context::is_server() const noexcept {
  return impl_->server;
}

void* tls_context::native_handle() const noexcept {
  return impl_->ctx;
}

bool tls_context::kernel_tls_available() noexcept {
  return detail::kernel_offers_tls();
}

}  // namespace ringo::net
