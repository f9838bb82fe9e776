// TLS streams: the state, the two moves of ciphertext (socket to read BIO, write BIO to socket)
// and the handshakes of tls_stream::connect and tls_stream::accept.
#include <ringo/net/tls_stream.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <ringo/error.hpp>

#include "tls/kernel.hpp"
#include "tls/state.hpp"

namespace ringo::detail {

tls_state::tls_state(net::tcp_stream s, std::shared_ptr<const net::tls_context::impl> c,
                     std::string p)
    : owner(current_loop()), tcp(std::move(s)), context(std::move(c)), peer(std::move(p)) {
  ERR_clear_error();
  ssl = SSL_new(context->ctx);
  if (ssl == nullptr) throw std::bad_alloc();
  rbio = BIO_new(BIO_s_mem());
  wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    SSL_free(std::exchange(ssl, nullptr));  // no destructor runs for a constructor that throws
    throw std::bad_alloc();
  }
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_app_data(ssl, this);  // for the key log callback (keep_traffic_secret)
  // An empty read BIO means "no ciphertext yet" (retry), never end of stream: ringo learns
  // the end of the stream from the socket and decides itself what it means.
  BIO_set_mem_eof_return(rbio, -1);
}

void throw_tls_closed(const tls_state& s, std::string_view op) {
  throw std::system_error(EBADF, std::system_category(),
                          fmt::format("{} {}: the stream was closed", op, s.peer));
}

void throw_tls_truncated(const tls_state& s) {
  throw_tls(net::tls_errc::truncated,
            fmt::format("TLS read from {}: {}", s.peer,
                        make_error_code(net::tls_errc::truncated).message()));
}

task<void> tls_flush(tls_state& s, op_deadline deadline, std::source_location where) {
  for (;;) {
    const std::size_t pending = BIO_ctrl_pending(s.wbio);
    if (pending == 0) co_return;
    if (pending > s.out_capacity) {
      // Grown to the largest batch once (a write batch and its records' overhead), then reused.
      const std::size_t capacity = std::max(pending, tls_state::write_batch + 4096);
      s.out = std::make_unique_for_overwrite<std::byte[]>(capacity);
      s.out_capacity = capacity;
    }
    const int n = BIO_read(s.wbio, s.out.get(), static_cast<int>(pending));
    if (n <= 0) co_return;  // a memory BIO with bytes pending always gives them
    if (!s.tcp.is_open()) {
      s.write_cut = true;
      throw_tls_closed(s, "TLS write to");
    }
    cut_unless_sent guard{s};
    co_await s.tcp.write_all(std::span<const std::byte>{s.out.get(), static_cast<std::size_t>(n)},
                             deadline.remaining(), where);
    guard.sent = true;
  }
}

task<void> tls_send_owed(tls_state& s, op_deadline deadline, std::source_location where) {
  if (BIO_ctrl_pending(s.wbio) == 0 || s.write_cut) co_return;
  // A write holding the turn sends it; else the read takes the turn for that long (a write
  // that comes meanwhile waits in the line).
  if (!s.turn.try_take()) co_return;
  turn_hold turn{s.turn};
  s.reader_sending = true;
  struct sent {
    tls_state& s;
    ~sent() { s.reader_sending = false; }
  } done{s};
  try {
    co_await tls_flush(s, deadline, where);
  } catch (const operation_cancelled&) {
    throw;
  } catch (const ringo::timed_out&) {
    throw;
  } catch (const std::system_error&) {
    // The peer is gone or the socket closed (the stream is write_cut now): the read that
    // follows meets the same end, and says so.
  }
}

task<bool> tls_fill(tls_state& s, op_deadline deadline, std::source_location where) {
  if (!s.tcp.is_open()) throw_tls_closed(s, "TLS read from");
  // Every buffer the stream has queued, at once: the bytes landed in the context's provided
  // buffers (or the stream's own) and are copied once, into the read BIO, before the task can
  // be cancelled again.
  const net::received_buffers got = co_await s.tcp.receive_some(deadline.remaining(), where);
  if (got.empty()) co_return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::span<const std::byte> bytes = got[i];
    if (BIO_write(s.rbio, bytes.data(), static_cast<int>(bytes.size())) !=
        static_cast<int>(bytes.size())) {
      throw std::bad_alloc();
    }
  }
  co_return true;
}

namespace {

/// Runs the handshake of `s` to its end, bounded by the context's handshake timeout.
task<void> handshake(tls_state& s, std::source_location where) {
  const auto timeout = s.context->handshake_timeout;
  const op_deadline deadline{timeout};
  // Where the kernel is to make the records afterwards, the handshake reads record by record
  // and keeps the traffic secrets; either ends with it, however it ends.
  const bool to_kernel = prepare_kernel_tls(s);
  struct reads_end {
    tls_state& s;
    bool on;
    ~reads_end() {
      if (on) end_exact_reads(s);
    }
  } exact{s, to_kernel};
  bool timed_out_here = false;
  try {
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_do_handshake(s.ssl);
      const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(s.ssl, rc);
      if (err == SSL_ERROR_NONE || err == SSL_ERROR_WANT_READ) {
        const std::uint64_t write_sequence =
            to_kernel && err == SSL_ERROR_NONE ? write_sequence_at_handoff(s) : 0;
        co_await tls_flush(s, deadline, where);  // the next flight (or the last: tickets)
        if (err == SSL_ERROR_NONE) {
          if (to_kernel) hand_keys_to_kernel(s, write_sequence);
          break;
        }
        const bool more = to_kernel ? co_await tls_fill_record(s, deadline, where)
                                    : co_await tls_fill(s, deadline, where);
        if (!more) {
          throw_tls(net::tls_errc::truncated,
                    fmt::format("TLS handshake with {}: the peer closed the connection "
                                "mid-handshake",
                                s.peer));
        }
        continue;
      }
      // Failed: the alert OpenSSL wrote tells the peer why, if it can still be sent. The
      // error is made first (OpenSSL's queue would not survive the send).
      std::exception_ptr failure;
      try {
        throw_tls_failure(s, "TLS handshake with", err);
      } catch (const net::tls_error&) {
        failure = std::current_exception();
      }
      try {
        co_await tls_flush(s, op_deadline{std::chrono::milliseconds{100}}, where);
      } catch (const operation_cancelled&) {
        throw;
      } catch (const std::exception&) {
        // the peer is gone: the handshake's own error says more
      }
      std::rethrow_exception(failure);
    }
  } catch (const ringo::timed_out&) {
    timed_out_here = true;
  }
  if (timed_out_here) {
    throw ringo::timed_out(
        fmt::format("TLS handshake with {}: no handshake within {} ms", s.peer,
                    std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(s.ssl, &alpn, &alpn_len);
  if (alpn != nullptr) s.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  s.established = true;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

}  // namespace ringo::detail

namespace ringo::net {

task<tls_stream> tls_stream::connect(std::string host, std::uint16_t port, const tls_context& ctx,
                                     std::source_location where) {
  std::shared_ptr<const tls_context::impl> c{tls_context_impl(ctx)};
  if (c->server) {
    throw std::logic_error(
        "tls_stream::connect needs a client context: make it with tls_context::client()");
  }
  tcp_stream tcp = co_await tcp_stream::connect(host, port, c->handshake_timeout, where);
  const endpoint to = tcp.remote_endpoint();
  std::string peer =
      to.address() == host ? fmt::format("{}", to) : fmt::format("{} ({})", host, to);
  auto s = std::make_shared<detail::tls_state>(std::move(tcp), std::move(c), std::move(peer));
  SSL_set_connect_state(s->ssl);
  if (detail::is_ip_address(host)) {
    // No SNI for an address (RFC 6066); the certificate must name the address itself.
    if (s->context->verify &&
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host.c_str()) != 1) {
      throw std::bad_alloc();
    }
  } else {
    if (SSL_set_tlsext_host_name(s->ssl, host.c_str()) != 1 ||
        (s->context->verify && SSL_set1_host(s->ssl, host.c_str()) != 1)) {
      throw std::bad_alloc();
    }
  }
  co_await detail::handshake(*s, where);
  co_return tls_stream{std::move(s)};
}

task<tls_stream> tls_stream::accept(tcp_stream tcp, const tls_context& ctx,
                                    std::source_location where) {
  std::shared_ptr<const tls_context::impl> c{tls_context_impl(ctx)};
  if (!c->server) {
    throw std::logic_error(
        "tls_stream::accept needs a server context: make it with tls_context::server(cert, key)");
  }
  if (!tcp.is_open()) {
    throw std::logic_error("tls_stream::accept: the tcp_stream is empty; pass an accepted one");
  }
  std::string peer = fmt::format("{}", tcp.remote_endpoint());
  auto s = std::make_shared<detail::tls_state>(std::move(tcp), std::move(c), std::move(peer));
  SSL_set_accept_state(s->ssl);
  co_await detail::handshake(*s, where);
  co_return tls_stream{std::move(s)};
}

}  // namespace ringo::net
