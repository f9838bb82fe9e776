// Kernel TLS: readying a handshake for the hand-off, the hand-off itself, and the reads and
// writes of a stream whose records the kernel makes.
#include "tls/kernel.hpp"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <new>
#include <string>
#include <system_error>

#include <openssl/err.h>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/net/tls_error.hpp>

#include "tls/kernel_keys.hpp"

namespace ringo::detail {

/// The state behind a stream socket, for the TLS code that must set how it reads.
struct stream_access {
  static stream_state* state(net::stream_socket& s) noexcept { return s.s_; }
};

namespace {

constexpr unsigned char record_alert = 21;
constexpr unsigned char record_handshake = 22;
constexpr unsigned char record_application_data = 23;
constexpr unsigned char handshake_hello_request = 0;
constexpr unsigned char handshake_client_hello = 1;
constexpr unsigned char handshake_new_session_ticket = 4;
constexpr unsigned char handshake_key_update = 24;
// The largest plaintext of a record (RFC 8446 5.1): what a control record's buffer holds. On
// the stack of the one call that takes such a record: no stream keeps one (a TLS 1.3 client
// meets one per ticket, once per connection).
constexpr std::size_t max_plaintext = 16384;

/// A control message's room for one byte (a record type), aligned as cmsghdr needs.
struct record_type_control {
  alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(unsigned char))]{};
};

/// What a record that is not application data meant for the read.
enum class control_outcome { skip, closed, renegotiation };

/// Takes the record at the head of the socket, which the kernel reported is not application
/// data, with its type in a control message. A close_notify ends the stream; a ticket is
/// skipped (ringo's clients resume no sessions); a TLS 1.2 renegotiation request (a
/// ClientHello, or a HelloRequest) is for the caller to refuse; any other alert, and a message
/// the kernel cannot follow (a KeyUpdate: new keys it was not given), fail the read.
control_outcome take_control_record(tls_state& s) {
  std::array<unsigned char, max_plaintext> record;
  iovec iov{record.data(), record.size()};
  record_type_control control;
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;
  const ssize_t n = ::recvmsg(s.tcp.native_handle(), &msg, MSG_DONTWAIT);
  if (n < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return control_outcome::skip;
    throw std::system_error(err, std::system_category(),
                            fmt::format("TLS read from {}: recvmsg", s.peer));
  }
  unsigned char type = record_application_data;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE) type = *CMSG_DATA(c);
  }
  const unsigned char* body = record.data();
  const auto size = static_cast<std::size_t>(n);
  if (type == record_alert) {
    if (size >= 2 && body[1] == SSL_AD_CLOSE_NOTIFY) return control_outcome::closed;
    throw_tls(net::tls_errc::peer_alert,
              fmt::format("TLS read from {}: the peer sent the alert \"{}\"", s.peer,
                          size >= 2 ? SSL_alert_desc_string_long(body[1]) : "(cut short)"));
  }
  if (type == record_handshake) {
    // Post-handshake messages, each a type, a 24-bit length and the body.
    for (std::size_t at = 0; at + 4 <= size;) {
      const unsigned char kind = body[at];
      if (SSL_version(s.ssl) != TLS1_3_VERSION &&
          kind == (s.context->server ? handshake_client_hello : handshake_hello_request)) {
        return control_outcome::renegotiation;
      }
      if (kind == handshake_key_update) {
        throw_tls(net::tls_errc::kernel_cannot_follow,
                  fmt::format("TLS read from {}: the peer updated its keys (KeyUpdate), which a "
                              "stream whose records the kernel makes cannot follow; "
                              "tls_context::set_kernel_tls(false) keeps records in user space",
                              s.peer));
      }
      if (kind != handshake_new_session_ticket) {
        throw_tls(net::tls_errc::kernel_cannot_follow,
                  fmt::format("TLS read from {}: the peer sent a post-handshake message (type "
                              "{}) that a stream whose records the kernel makes cannot answer",
                              s.peer, kind));
      }
      at += 4 + ((std::size_t{body[at + 1]} << 16) | (std::size_t{body[at + 2]} << 8) |
                 body[at + 3]);
    }
    return control_outcome::skip;
  }
  throw_tls(net::tls_errc::bad_record,
            fmt::format("TLS read from {}: a record of unexpected type {}", s.peer, type));
}

/// Sends one record of `type` with `body` through the kernel (a control message gives the
/// type), as a request of the context's backend.
class control_record_awaiter final : public io_awaiter {
 public:
  control_record_awaiter(const tls_state& s, unsigned char type,
                         std::span<const unsigned char> body, std::chrono::nanoseconds limit,
                         std::source_location where) noexcept
      : io_awaiter(where), s_(s), limit_(limit) {
    iov_ = iovec{const_cast<unsigned char*>(body.data()), body.size()};
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    msg_.msg_control = control_.bytes;
    msg_.msg_controllen = sizeof control_.bytes;
    cmsghdr* c = CMSG_FIRSTHDR(&msg_);
    c->cmsg_level = SOL_TLS;
    c->cmsg_type = TLS_SET_RECORD_TYPE;
    c->cmsg_len = CMSG_LEN(sizeof type);
    *CMSG_DATA(c) = type;
    opcode = io_opcode::sendmsg;
    fd = s.tcp.native_handle();
    msg = &msg_;
    msg_flags = MSG_NOSIGNAL;
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    describe = [](const wait_node& n, std::string& out) {
      out += fmt::format("TLS alert to {}", static_cast<const control_record_awaiter&>(n).s_.peer);
    };
    return start(h, limit_);
  }
  int await_resume() {
    return result([this] { return fmt::format("TLS alert to {}", s_.peer); });
  }

 private:
  const tls_state& s_;
  std::chrono::nanoseconds limit_;
  iovec iov_{};
  msghdr msg_{};
  record_type_control control_;
};

}  // namespace

bool prepare_kernel_tls(tls_state& s) noexcept {
  if (!s.context->kernel_tls || !s.owner->features().kernel_tls) return false;
  stream_state* st = stream_access::state(s.tcp);
  if (st == nullptr || !st->begin_exact_reads()) return false;
  s.kernel.wanted = true;
  return true;
}

void end_exact_reads(tls_state& s) noexcept {
  if (stream_state* st = stream_access::state(s.tcp)) st->end_exact_reads();
  s.kernel.wanted = false;
  wipe_secrets(s);
}

task<bool> tls_fill_record(tls_state& s, op_deadline deadline, std::source_location where) {
  if (!s.tcp.is_open()) throw_tls_closed(s, "TLS read from");
  std::array<std::byte, 2048> chunk;
  const bool in_header = s.kernel.record_left == 0;
  const std::span<std::byte> into =
      in_header ? std::as_writable_bytes(std::span{s.kernel.head}).subspan(s.kernel.head_have)
                : std::span{chunk}.first(std::min<std::size_t>(s.kernel.record_left, chunk.size()));
  const std::size_t n = co_await s.tcp.read_some(into, deadline.remaining(), where);
  if (n == 0) co_return false;
  if (BIO_write(s.rbio, into.data(), static_cast<int>(n)) != static_cast<int>(n)) {
    throw std::bad_alloc();
  }
  if (!in_header) {
    s.kernel.record_left -= static_cast<std::uint32_t>(n);
  } else if ((s.kernel.head_have += static_cast<std::uint8_t>(n)) == s.kernel.head.size()) {
    s.kernel.record_left = (std::uint32_t{s.kernel.head[3]} << 8) | s.kernel.head[4];
    s.kernel.head_have = 0;
  }
  co_return true;
}

std::uint64_t write_sequence_at_handoff(const tls_state& s) noexcept {
  // TLS 1.2: each side's Finished is the one record under the new keys. TLS 1.3: a client has
  // sent none yet; a server's final flight is its tickets, each a record.
  if (SSL_version(s.ssl) != TLS1_3_VERSION) return 1;
  if (!s.context->server) return 0;
  char* data = nullptr;
  const long size = BIO_get_mem_data(s.wbio, &data);
  std::uint64_t records = 0;
  for (long at = 0; data != nullptr && at + 5 <= size;) {
    const auto* h = reinterpret_cast<const unsigned char*>(data + at);
    if (h[0] == record_application_data) ++records;
    at += 5 + ((long{h[3]} << 8) | h[4]);
  }
  return records;
}

void hand_keys_to_kernel(tls_state& s, std::uint64_t write_sequence) noexcept {
  struct wiped_after {
    tls_state& s;
    ~wiped_after() { wipe_secrets(s); }
  } wipe{s};
  // Only at a record boundary with nothing left in OpenSSL: the kernel reads on from the socket.
  if (s.kernel.record_left != 0 || s.kernel.head_have != 0 || BIO_ctrl_pending(s.rbio) != 0 ||
      SSL_has_pending(s.ssl) != 0) {
    return;
  }
  // The peer's first record under the application keys: TLS 1.2's Finished came before.
  const bool tls13 = SSL_version(s.ssl) == TLS1_3_VERSION;
  kernel_keys tx, rx;
  // A cipher the kernel has no records for stays in user space.
  if (!derive_kernel_keys(s, write_sequence, tls13 ? 0 : 1, tx, rx)) return;
  const int fd = s.tcp.native_handle();
  if (::setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof "tls") != 0) return;
  // Receiving first: a stream that the kernel decrypts for but that encrypts itself still
  // works (OpenSSL only writes), while the other way round OpenSSL's reads could owe the peer
  // an answer that it would have to encrypt.
  if (::setsockopt(fd, SOL_TLS, TLS_RX, &rx.info, rx.size) != 0) return;
  s.kernel.rx = true;
  if (tls13) {
    // OpenSSL pads no record, so the kernel may decrypt straight into the reader's buffer.
    const int on = 1;
    (void)::setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &on, sizeof on);
  }
  s.kernel.tx = ::setsockopt(fd, SOL_TLS, TLS_TX, &tx.info, tx.size) == 0;
}

namespace {

/// Whether the stream's receive queue holds bytes a read takes without waiting (not an end
/// or an error, which the read after the bytes meets).
bool bytes_queued(tls_state& s) noexcept {
  stream_state* st = stream_access::state(s.tcp);
  return st != nullptr && st->bytes_queued();
}

/// Fails the stream for good after a fatal record (as OpenSSL does): it sends nothing more,
/// not even a close_notify, and throws the tls_error of `code` with `what`.
[[noreturn]] void fail_reading(tls_state& s, net::tls_errc code, std::string what) {
  s.kernel.read_fatal = true;
  throw_tls(code, std::move(what));
}

}  // namespace

task<std::size_t> kernel_tls_read_some(tls_state& s, std::span<std::byte> buf,
                                       op_deadline deadline, std::source_location where) {
  for (;;) {
    if (s.kernel.peer_notified) co_return 0;
    if (!s.tcp.is_open()) throw_tls_closed(s, "TLS read from");
    int failed = 0;
    std::size_t n = 0;
    try {
      n = co_await s.tcp.read_some(buf, deadline.remaining(), where);
      // The kernel hands records over one at a time: take those already received too, as far
      // as the buffer goes, as a read of user-space records does.
      while (n != 0 && n < buf.size() && bytes_queued(s)) {
        n += co_await s.tcp.read_some(buf.subspan(n), deadline.remaining(), where);
      }
    } catch (const std::system_error& e) {
      // The kernel's word for a record that is not application data (EIO: it must be read
      // with its type), or that failed its check (EBADMSG) or is too long (EMSGSIZE).
      const std::error_code c = e.code();
      if (c.category() != std::system_category() ||
          (c.value() != EIO && c.value() != EBADMSG && c.value() != EMSGSIZE)) {
        throw;
      }
      failed = c.value();
    }
    if (failed == 0) {
      if (n == 0) {
        if (s.context->suppress_ragged_eofs) co_return 0;  // an end of stream all the same
        throw_tls_truncated(s);
      }
      co_return n;
    }
    if (failed == EBADMSG) {
      // OpenSSL's words for the same failure in user space.
      fail_reading(s, net::tls_errc::bad_record,
                   fmt::format("TLS read from {}: bad record mac", s.peer));
    }
    if (failed != EIO) {
      fail_reading(s, net::tls_errc::bad_record,
                   fmt::format("TLS read from {}: {} ({})", s.peer,
                               make_error_code(net::tls_errc::bad_record).message(),
                               std::system_category().message(failed)));
    }
    control_outcome outcome = control_outcome::skip;
    try {
      outcome = take_control_record(s);
    } catch (const net::tls_error&) {
      s.kernel.read_fatal = true;  // a fatal alert or a message the kernel cannot follow
      throw;
    }
    if (outcome == control_outcome::closed) s.kernel.peer_notified = true;
    if (outcome == control_outcome::renegotiation) {
      // Refused with the warning OpenSSL sends in user space, before the read waits again (the
      // peer waits for it). The kernel makes it a record of its own, whole, between the
      // records of a write in flight.
      if (!s.kernel.tx || s.write_cut || s.notified) {
        fail_reading(s, net::tls_errc::kernel_cannot_follow,
                     fmt::format("TLS read from {}: the peer asked to renegotiate, and the "
                                 "refusal cannot be sent (the stream makes its records in user "
                                 "space, or can no longer write)",
                                 s.peer));
      }
      static constexpr unsigned char refusal[] = {SSL3_AL_WARNING, SSL_AD_NO_RENEGOTIATION};
      const int res = co_await control_record_awaiter{s, record_alert, refusal,
                                                      deadline.remaining(), where};
      if (res < 0) {
        s.write_cut = true;
        throw_io_error(-res, fmt::format("TLS alert to {}", s.peer));
      }
    }
  }
}

task<void> kernel_tls_write_all(tls_state& s, std::span<const std::byte> data,
                                op_deadline deadline, std::source_location where) {
  if (!s.tcp.is_open()) {
    s.write_cut = true;
    throw_tls_closed(s, "TLS write to");
  }
  if (s.notified || s.kernel.read_fatal) {
    // What OpenSSL says of a write after its close_notify, or after a fatal alert.
    throw_tls(std::error_code(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_PROTOCOL_IS_SHUTDOWN),
                              net::tls_category()),
              fmt::format("TLS write to {}: protocol is shutdown", s.peer));
  }
  // As for user-space records: a write that stops part-way leaves the stream unable to write.
  cut_unless_sent guard{s};
  co_await s.tcp.write_all(data, deadline.remaining(), where);
  guard.sent = true;
}

task<void> kernel_tls_close_notify(tls_state& s, op_deadline deadline,
                                   std::source_location where) {
  if (!s.tcp.is_open()) throw_tls_closed(s, "TLS close_notify to");
  static constexpr unsigned char close_notify[] = {SSL3_AL_WARNING, SSL_AD_CLOSE_NOTIFY};
  const int res = co_await control_record_awaiter{s, record_alert, close_notify,
                                                  deadline.remaining(), where};
  if (res < 0) {
    s.write_cut = true;
    throw_io_error(-res, fmt::format("TLS close_notify to {}", s.peer));
  }
}

}  // namespace ringo::detail
