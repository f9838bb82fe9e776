// TLS streams once the handshake is made: reads (ciphertext in, plaintext out of OpenSSL),
// writes (plaintext in, ciphertext out in batches), the close with its close_notify, and what
// the handshake settled (ALPN, the peer's certificate, the version).
#include <ringo/net/tls_stream.hpp>

#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include <ringo/error.hpp>

#include "tls/kernel.hpp"
#include "tls/state.hpp"

namespace ringo::detail {

tls_in_progress::tls_in_progress(bool& flag, const char* what) : flag_(flag) {
  if (flag_) {
    throw std::logic_error(fmt::format(
        "tls_stream::{}: another task is already reading this stream; one reader at a time "
        "(writers may be several: they take turns)",
        what));
  }
  flag_ = true;
}

namespace {

void name_write(const void* who, std::string& out) {
  out += fmt::format("TLS write to {}", static_cast<const tls_state*>(who)->peer);
}
void name_shutdown(const void* who, std::string& out) {
  out += fmt::format("TLS shutdown of {}", static_cast<const tls_state*>(who)->peer);
}
void name_close(const void* who, std::string& out) {
  out += fmt::format("TLS close of {}", static_cast<const tls_state*>(who)->peer);
}

}  // namespace

task<std::size_t> tls_read_plain(tls_state& st, std::span<std::byte> buf, op_deadline deadline,
                                 std::source_location where) {
  tls_state* const s = &st;
  if (s->read_failure) std::rethrow_exception(std::exchange(s->read_failure, nullptr));
  if (s->kernel.rx) co_return co_await kernel_tls_read_some(*s, buf, deadline, where);
  for (;;) {
    // Plaintext OpenSSL holds (decrypted, or whole records not yet decrypted) comes first: a
    // read cancelled while waiting for the socket below never took any of it.
    ERR_clear_error();
    std::size_t got = 0;
    const int rc = SSL_read_ex(s->ssl, buf.data(), buf.size(), &got);
    if (rc == 1) {
      // One record per SSL_read: take the next ones already received while there is room.
      while (got < buf.size() && BIO_ctrl_pending(s->rbio) + SSL_pending(s->ssl) > 0) {
        ERR_clear_error();
        std::size_t more = 0;
        const int again = SSL_read_ex(s->ssl, buf.data() + got, buf.size() - got, &more);
        if (again == 1) {
          got += more;
          continue;
        }
        const int why = SSL_get_error(s->ssl, again);
        if (why != SSL_ERROR_WANT_READ && why != SSL_ERROR_ZERO_RETURN) {
          // The bytes go out now; the failure is the next read's (it names OpenSSL's reason,
          // which its queue would not keep).
          try {
            throw_tls_failure(*s, "TLS read from", why);
          } catch (const net::tls_error&) {
            s->read_failure = std::current_exception();
          }
        }
        break;  // more ciphertext needed, or the close_notify (the next read returns 0)
      }
      co_return got;
    }
    const int err = SSL_get_error(s->ssl, rc);
    if (err == SSL_ERROR_ZERO_RETURN) co_return 0;  // the peer's close_notify
    if (err != SSL_ERROR_WANT_READ) throw_tls_failure(*s, "TLS read from", err);
    // What OpenSSL has to say leaves before the wait: the peer may be waiting for it (a
    // TLS 1.2 client that asked to renegotiate waits for the refusal). (Looked at here, so
    // that the usual read, which owes nothing, makes no coroutine frame for it.)
    if (BIO_ctrl_pending(s->wbio) != 0) co_await tls_send_owed(*s, deadline, where);
    if (!co_await tls_fill(*s, deadline, where)) {
      if (s->context->suppress_ragged_eofs) co_return 0;  // an end of stream all the same
      throw_tls_truncated(*s);
    }
  }
}

namespace {

task<std::size_t> tls_read_some(std::shared_ptr<tls_state> s, std::span<std::byte> buf,
                                std::chrono::nanoseconds timeout, std::source_location where) {
  if (buf.empty()) co_return 0;
  tls_in_progress reading{s->reading, "read_some"};
  // What a read_line left comes first.
  if (!s->plain.empty()) co_return s->plain.take(buf);
  co_return co_await tls_read_plain(*s, buf, op_deadline{timeout}, where);
}

task<void> tls_read_exact(std::shared_ptr<tls_state> s, std::span<std::byte> buf,
                          std::chrono::nanoseconds timeout, std::source_location where) {
  std::size_t done = 0;
  while (done < buf.size()) {
    const std::size_t got = co_await tls_read_some(s, buf.subspan(done), timeout, where);
    if (got == 0) {
      throw std::system_error(ENODATA, std::system_category(),
                              fmt::format("TLS read from {}: end of stream after {} of {} bytes",
                                          s->peer, done, buf.size()));
    }
    done += got;
  }
}

task<void> tls_write_all(std::shared_ptr<tls_state> s, std::span<const std::byte> data,
                         std::chrono::nanoseconds timeout, std::source_location where) {
  const op_deadline deadline{timeout};
  // Whole records of one write_all go out before the next write's: each waits its turn.
  const turn_hold turn =
      co_await turn_awaiter{s->turn, deadline.at(), &name_write, s.get(), where};
  if (s->write_cut) {
    throw_tls(net::tls_errc::write_cut,
              fmt::format("TLS write to {}: {}", s->peer,
                          make_error_code(net::tls_errc::write_cut).message()));
  }
  if (s->kernel.tx) {
    co_await kernel_tls_write_all(*s, data, deadline, where);
    co_return;
  }
  std::size_t done = 0;
  do {
    // A batch of records (with what the reads owe the peer, already in the BIO), then one send.
    while (done < data.size() && BIO_ctrl_pending(s->wbio) < tls_state::write_batch) {
      const std::size_t n = std::min(data.size() - done, tls_state::write_batch);
      ERR_clear_error();
      std::size_t wrote = 0;
      const int rc = SSL_write_ex(s->ssl, data.data() + done, n, &wrote);
      if (rc != 1) throw_tls_failure(*s, "TLS write to", SSL_get_error(s->ssl, rc));
      done += wrote;
    }
    co_await tls_flush(*s, deadline, where);
  } while (done < data.size());
}

/// Sends this side's close_notify (the peer's is not waited for), bounded by the context's
/// handshake timeout.
task<void> send_close_notify(tls_state& s, std::source_location where) {
  const op_deadline deadline{s.context->handshake_timeout};
  if (s.kernel.tx) {
    co_await kernel_tls_close_notify(s, deadline, where);
    co_return;
  }
  ERR_clear_error();
  SSL_shutdown(s.ssl);  // writes the close_notify into the write BIO
  ERR_clear_error();
  co_await tls_flush(s, deadline, where);
}

task<void> tls_shutdown(std::shared_ptr<tls_state> s, std::source_location where) {
  const op_deadline deadline{s->context->handshake_timeout};
  const turn_hold turn =
      co_await turn_awaiter{s->turn, deadline.at(), &name_shutdown, s.get(), where};
  if (s->write_cut) {
    throw_tls(net::tls_errc::write_cut,
              fmt::format("TLS shutdown of {}: {}", s->peer,
                          make_error_code(net::tls_errc::write_cut).message()));
  }
  if (s->notified) co_return;
  s->notified = true;
  if (s->kernel.read_fatal) co_return;  // after a fatal record nothing more is sent
  co_await send_close_notify(*s, where);
}

task<void> tls_close(std::shared_ptr<tls_state> s, std::source_location where) {
  if (s == nullptr || !s->tcp.is_open()) co_return;
  std::exception_ptr failure;
  s->turn.drop_all();  // the writes waiting their turn end with EBADF
  std::optional<turn_hold> turn;
  if (s->turn.try_take()) {
    turn.emplace(s->turn);
  } else if (s->reader_sending) {
    // A read is sending what OpenSSL owed the peer: the close_notify follows it. (A write
    // holding the turn is cut short by the socket's close instead: no close_notify then.)
    try {
      turn.emplace(co_await turn_awaiter{s->turn, op_deadline{s->context->handshake_timeout}.at(),
                                         &name_close, s.get(), where});
    } catch (const operation_cancelled&) {
      throw;
    } catch (const std::exception&) {
      // not in time: the socket closes without a close_notify
    }
  }
  if (turn && s->established && !s->write_cut && !s->notified && !s->kernel.read_fatal) {
    // One close_notify; the peer's answer is not waited for (the socket closes next).
    try {
      co_await send_close_notify(*s, where);
    } catch (const operation_cancelled&) {
      throw;  // the socket closes with the state
    } catch (const std::exception&) {
      failure = std::current_exception();
    }
  }
  if (s->tcp.is_open()) co_await s->tcp.close(where);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

}  // namespace ringo::detail

namespace ringo::net {

tls_stream::tls_stream() noexcept = default;
tls_stream::tls_stream(std::shared_ptr<detail::tls_state> s) noexcept : s_(std::move(s)) {}
tls_stream::tls_stream(tls_stream&& o) noexcept = default;

tls_stream& tls_stream::operator=(tls_stream&& o) noexcept {
  if (this != &o) {
    tls_stream dropped{std::move(*this)};
    s_ = std::move(o.s_);
  }
  return *this;
}

tls_stream::~tls_stream() {
  if (s_ != nullptr) {
    // The socket closes now, as a dropped tcp_stream's does; an operation in flight in another
    // task fails with EBADF and lets the state go when it unwinds.
    tcp_stream closing = std::move(s_->tcp);
  }
}

detail::tls_state& tls_stream::state(const char* op) const {
  if (s_ == nullptr) {
    throw std::logic_error(fmt::format(
        "tls_stream::{}: the stream is empty (closed, moved from, or never connected)", op));
  }
  if (detail::current_loop() != s_->owner) [[unlikely]] {
    // Before anything runs: OpenSSL's session must not be touched from two threads.
    throw std::logic_error(fmt::format(
        "tls_stream::{} on the stream connected to {} from a thread that does not run its "
        "io_context: a stream belongs to the context it was made on; use it from a task of "
        "that context, or hand the work to it with io_context::post",
        op, s_->peer));
  }
  return *s_;
}

task<std::size_t> tls_stream::read_some(std::span<std::byte> buf, std::chrono::nanoseconds timeout,
                                        std::source_location where) {
  state("read_some");
  return detail::tls_read_some(s_, buf, timeout, where);
}

task<void> tls_stream::read_exact(std::span<std::byte> buf, std::chrono::nanoseconds timeout,
                                  std::source_location where) {
  state("read_exact");
  return detail::tls_read_exact(s_, buf, timeout, where);
}

task<void> tls_stream::write_all(std::span<const std::byte> data, std::chrono::nanoseconds timeout,
                                 std::source_location where) {
  state("write_all");
  return detail::tls_write_all(s_, data, timeout, where);
}

task<void> tls_stream::shutdown(std::source_location where) {
  state("shutdown");
  return detail::tls_shutdown(s_, where);
}

task<void> tls_stream::close(std::source_location where) {
  if (s_ != nullptr) (void)state("close");  // on its own context's thread, like every member
  // Empty from the call on; the close holds the state until it is done.
  return detail::tls_close(std::exchange(s_, nullptr), where);
}

bool tls_stream::is_open() const noexcept {
  return s_ != nullptr && s_->tcp.is_open();
}

std::string_view tls_stream::alpn_protocol() const {
  return state("alpn_protocol").alpn;
}

std::string tls_stream::peer_certificate_subject() const {
  const X509* cert = SSL_get0_peer_certificate(state("peer_certificate_subject").ssl);
  if (cert == nullptr) return {};
  BIO* out = BIO_new(BIO_s_mem());
  if (out == nullptr) throw std::bad_alloc();
  X509_NAME_print_ex(out, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* text = nullptr;
  const long len = BIO_get_mem_data(out, &text);
  std::string subject(text, static_cast<std::size_t>(len));
  BIO_free(out);
  return subject;
}

std::string_view tls_stream::protocol_version() const {
  return SSL_get_version(state("protocol_version").ssl);
}

bool tls_stream::kernel_tls() const noexcept {
  return s_ != nullptr && s_->kernel.rx && s_->kernel.tx;
}

void tls_stream::set_nodelay(bool on) {
  state("set_nodelay").tcp.set_nodelay(on);
}
endpoint tls_stream::remote_endpoint() const {
  return state("remote_endpoint").tcp.remote_endpoint();
}
endpoint tls_stream::local_endpoint() const {
  return state("local_endpoint").tcp.local_endpoint();
}

}  // namespace ringo::net
