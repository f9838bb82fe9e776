#pragma once
/// \file
/// ringo::net::tls_context: the certificates, the trust and the settings that TLS streams
/// share (Python's ssl.SSLContext), on OpenSSL 3. Built when RINGO_HAS_TLS is 1.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/detail/config.hpp>

namespace ringo::net {

/// What a TLS stream is made with: a server's certificate chain and key, or a client's trust,
/// plus ALPN and the handshake deadline. A copyable handle: copies share one context, so a
/// setting made through any of them holds for every stream made afterwards (streams already
/// made keep what they were made with). Settings are made on one thread before streams use
/// the context; after that any thread may make streams with it. Errors are tls_error (or
/// std::system_error for a file that cannot be read) naming the file and OpenSSL's reason.
/// server(), client() and load_verify_file() read their files when called (blocking reads):
/// make contexts before the loop serves, or in ringo::to_thread.
class tls_context {
 public:
  /// A server context presenting the certificate chain in `cert_chain_pem_path` (the leaf
  /// first, then its intermediates) with the private key in `private_key_pem_path`. It asks
  /// clients for no certificate unless set_verify(true) is called. Its protocol is Mozilla's
  /// "intermediate" profile: TLS 1.2 and 1.3 only, and in TLS 1.2 only ECDHE key exchange
  /// with an AEAD cipher (AES-GCM, ChaCha20-Poly1305), in the server's order of preference; a
  /// client that offers nothing else (CBC suites, static RSA) fails the handshake
  /// ("no shared cipher"). set_cipher_list widens it for older clients. Throws tls_error
  /// ("TLS certificate chain /etc/x.pem: no such file") when a file cannot be read or the key
  /// does not match the certificate.
  static tls_context server(std::string cert_chain_pem_path, std::string private_key_pem_path);
  /// A client context that verifies the server against the system's trust store (and the host
  /// name it connects to); TLS 1.2 at least. Reads the system's CA bundle (SSL_CERT_FILE, or
  /// OpenSSL's default file) whole, so that no handshake reads a file.
  static tls_context client();

  /// Trusts the CA certificates in `ca_pem_path` as well (a private CA, a test's own).
  /// Throws tls_error naming the file when it cannot be read.
  void load_verify_file(std::string ca_pem_path);
  /// Whether the peer's certificate is verified. A client verifies unless told set_verify(false)
  /// (then any server is accepted: for tests only); a server that is told set_verify(true)
  /// requires a client certificate signed by a CA it trusts (load_verify_file).
  void set_verify(bool on);
  /// The application protocols to offer (a client) or accept (a server), in order of
  /// preference ("h2", "http/1.1"). A server picks the first of its own that the client
  /// offers, and goes on without ALPN when there is none. Throws std::invalid_argument for an
  /// empty name or one longer than 255 bytes.
  void set_alpn(std::vector<std::string> protocols);
  /// A server context's TLS 1.2 ciphers (OpenSSL's cipher list format), in its order of
  /// preference: Mozilla's "intermediate" profile less its finite-field DHE suites.
  static constexpr std::string_view intermediate_ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  /// The TLS 1.2 ciphers to offer (a client) or accept (a server, in its order of
  /// preference), in OpenSSL's cipher list format ("ECDHE-RSA-AES128-GCM-SHA256:..."); TLS
  /// 1.3's suites are not changed. A server widens its default for older clients with
  /// intermediate_ciphers followed by what they need, e.g. CBC suites:
  /// `set_cipher_list(std::string(tls_context::intermediate_ciphers) +
  /// ":ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA")`. Throws tls_error naming the list when
  /// it names no cipher OpenSSL has ("no cipher match").
  void set_cipher_list(std::string_view ciphers);
  /// The deadline of each handshake made with this context (default 10 s; zero: none), so
  /// that a peer that stalls mid-handshake cannot hold a task for ever. For
  /// tls_stream::connect it bounds each TCP connect attempt too.
  void set_handshake_timeout(std::chrono::nanoseconds timeout);
  [[nodiscard]] std::chrono::nanoseconds handshake_timeout() const noexcept;
  [[nodiscard]] bool is_server() const noexcept;

  /// Whether streams made with this context hand their keys to the kernel after the handshake
  /// (kernel TLS; on by default), where the kernel offers it (kernel_tls_available(), and the
  /// stream's io_context features().kernel_tls, which RINGO_DISABLE_FEATURES=kernel_tls turns
  /// off) and the cipher is one it has (AES-GCM, ChaCha20-Poly1305). Off keeps every record
  /// in user space: for a peer that sends TLS 1.3 KeyUpdates, which the kernel cannot follow.
  void set_kernel_tls(bool on);
  [[nodiscard]] bool kernel_tls() const noexcept;

  /// Whether a peer that ends the connection without a close_notify (a "ragged" end of the
  /// TCP stream) is an ordinary end of stream for the reads of streams made with this context
  /// (Python's suppress_ragged_eofs): read_some returns 0, read_line what is left. Off by
  /// default, when such an end is tls_errc::truncated: an attacker who can close the TCP
  /// connection could otherwise cut a message short without either side noticing. Turn it on
  /// for peers known to skip the close_notify when their message carries its own length or
  /// end (HTTP with Content-Length, a line protocol's last line).
  void set_suppress_ragged_eofs(bool on);
  [[nodiscard]] bool suppress_ragged_eofs() const noexcept;

  /// Whether this kernel offers kernel TLS (the `tls` upper-layer protocol of TCP), probed once
  /// per process. tls_stream::kernel_tls() tells for each stream whether it is in use.
  [[nodiscard]] static bool kernel_tls_available() noexcept;

  /// The OpenSSL SSL_CTX* (as void*, so that this header needs no OpenSSL header), for settings
  /// ringo does not offer. The context still owns it.
  [[nodiscard]] void* native_handle() const noexcept;

  struct impl;

 private:
  explicit tls_context(std::shared_ptr<impl> p) noexcept : impl_(std::move(p)) {}
  friend std::shared_ptr<const impl> tls_context_impl(const tls_context& c) noexcept;
  std::shared_ptr<impl> impl_;
};

}  // namespace ringo::net
