// Kernel TLS: readying a handshake for the hand-off, the keys derived from the session, the
// hand-off itself, and the reads and writes of a stream whose records the kernel makes.
#include "tls_kernel.hpp"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <string_view>
#include <system_error>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>

#include <fmt/format.h>

#include <ringo/detail/io_awaiter.hpp>
#include <ringo/detail/stream_state.hpp>
#include <ringo/net/tls_error.hpp>

namespace ringo::detail {

/// The state behind a stream socket, for the TLS code that must set how it reads.
struct stream_access {
  static stream_state* state(net::stream_socket& s) noexcept { return s.s_; }
};

namespace {

constexpr unsigned char record_alert = 21;
constexpr unsigned char record_handshake = 22;
constexpr unsigned char record_application_data = 23;
constexpr unsigned char handshake_new_session_ticket = 4;
constexpr unsigned char handshake_key_update = 24;
// The largest plaintext of a record (RFC 8446 5.1): what a control record's buffer holds.
constexpr std::size_t max_plaintext = 16384;
constexpr unsigned secret_of_client = 1;
constexpr unsigned secret_of_server = 2;

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

/// A control message's room for one byte (a record type), aligned as cmsghdr needs.
struct record_type_control {
  alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(unsigned char))]{};
};

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
bool derive_keys(const tls_state& s, const aead& a, std::uint64_t write_sequence,
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
    if (s.secret_size == 0 || s.secrets_kept != (secret_of_client | secret_of_server)) {
      return false;
    }
    if (!expand_label(md, s.client_secret.data(), s.secret_size, "key", client_key.data(),
                      a.key_size) ||
        !expand_label(md, s.client_secret.data(), s.secret_size, "iv", client_iv.data(),
                      nonce_size) ||
        !expand_label(md, s.server_secret.data(), s.secret_size, "key", server_key.data(),
                      a.key_size) ||
        !expand_label(md, s.server_secret.data(), s.secret_size, "iv", server_iv.data(),
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

void wipe_secrets(tls_state& s) noexcept {
  OPENSSL_cleanse(s.client_secret.data(), s.client_secret.size());
  OPENSSL_cleanse(s.server_secret.data(), s.server_secret.size());
  s.secret_size = 0;
  s.secrets_kept = 0;
}

/// What a record that is not application data meant for the read.
enum class control_outcome { skip, closed };

/// Takes the record at the head of the socket, which the kernel reported is not application
/// data, with its type in a control message. A close_notify ends the stream; a ticket is
/// skipped (ringo's clients resume no sessions); any other alert, and a message the kernel
/// cannot follow (a KeyUpdate: new keys it was not given), fail the read.
control_outcome take_control_record(tls_state& s) {
  if (!s.control_in) s.control_in = std::make_unique_for_overwrite<unsigned char[]>(max_plaintext);
  iovec iov{s.control_in.get(), max_plaintext};
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
  const unsigned char* body = s.control_in.get();
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
  if (st == nullptr || st->armed || st->has_event() || st->eof) return false;
  st->exact_reads = true;
  s.kernel_wanted = true;
  return true;
}

void end_exact_reads(tls_state& s) noexcept {
  if (stream_state* st = stream_access::state(s.tcp)) st->exact_reads = false;
  s.kernel_wanted = false;
  wipe_secrets(s);
}

task<bool> tls_fill_record(tls_state& s, tls_deadline deadline, std::source_location where) {
  if (!s.tcp.is_open()) throw_tls_closed(s, "TLS read from");
  std::array<std::byte, 2048> chunk;
  const bool in_header = s.record_left == 0;
  const std::span<std::byte> into =
      in_header ? std::as_writable_bytes(std::span{s.head}).subspan(s.head_have)
                : std::span{chunk}.first(std::min<std::size_t>(s.record_left, chunk.size()));
  const std::size_t n = co_await s.tcp.read_some(into, deadline.remaining(), where);
  if (n == 0) co_return false;
  if (BIO_write(s.rbio, into.data(), static_cast<int>(n)) != static_cast<int>(n)) {
    throw std::bad_alloc();
  }
  if (!in_header) {
    s.record_left -= static_cast<std::uint32_t>(n);
  } else if ((s.head_have += static_cast<std::uint8_t>(n)) == s.head.size()) {
    s.record_left = (std::uint32_t{s.head[3]} << 8) | s.head[4];
    s.head_have = 0;
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
  if (s.record_left != 0 || s.head_have != 0 || BIO_ctrl_pending(s.rbio) != 0 ||
      SSL_has_pending(s.ssl) != 0) {
    return;
  }
  const int nid = SSL_CIPHER_get_cipher_nid(SSL_get_current_cipher(s.ssl));
  const aead* a = std::find_if(std::begin(aeads), std::end(aeads),
                               [nid](const aead& x) { return x.nid == nid; });
  if (a == std::end(aeads)) return;  // a cipher the kernel has no records for: user space
  const bool tls13 = SSL_version(s.ssl) == TLS1_3_VERSION;
  kernel_keys tx, rx;
  if (!derive_keys(s, *a, write_sequence, tls13 ? 0 : 1, tx, rx)) return;
  const int fd = s.tcp.native_handle();
  if (::setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof "tls") != 0) return;
  // Receiving first: a stream that the kernel decrypts for but that encrypts itself still
  // works (OpenSSL only writes), while the other way round OpenSSL's reads could owe the peer
  // an answer that it would have to encrypt.
  if (::setsockopt(fd, SOL_TLS, TLS_RX, &rx.info, rx.size) != 0) return;
  s.kernel_rx = true;
  if (tls13) {
    // OpenSSL pads no record, so the kernel may decrypt straight into the reader's buffer.
    const int on = 1;
    (void)::setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &on, sizeof on);
  }
  s.kernel_tx = ::setsockopt(fd, SOL_TLS, TLS_TX, &tx.info, tx.size) == 0;
}

namespace {

/// Whether the stream's receive queue holds bytes a read takes without waiting (not an end
/// or an error, which the read after the bytes meets).
bool bytes_queued(tls_state& s) noexcept {
  stream_state* st = stream_access::state(s.tcp);
  return st != nullptr && st->has_event() && st->front().result > 0;
}

/// Fails the stream for good after a fatal record (as OpenSSL does): it sends nothing more,
/// not even a close_notify, and throws the tls_error of `code` with `what`.
[[noreturn]] void fail_reading(tls_state& s, net::tls_errc code, std::string what) {
  s.read_fatal = true;
  throw_tls(code, std::move(what));
}

}  // namespace

task<std::size_t> kernel_tls_read_some(tls_state& s, std::span<std::byte> buf,
                                       tls_deadline deadline, std::source_location where) {
  for (;;) {
    if (s.peer_notified) co_return 0;
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
        throw_tls(net::tls_errc::truncated,
                  fmt::format("TLS read from {}: {}", s.peer,
                              make_error_code(net::tls_errc::truncated).message()));
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
      s.read_fatal = true;  // a fatal alert or a message the kernel cannot follow
      throw;
    }
    if (outcome == control_outcome::closed) s.peer_notified = true;
  }
}

task<void> kernel_tls_write_all(tls_state& s, std::span<const std::byte> data,
                                tls_deadline deadline, std::source_location where) {
  if (!s.tcp.is_open()) {
    s.write_cut = true;
    throw_tls_closed(s, "TLS write to");
  }
  if (s.notified || s.read_fatal) {
    // What OpenSSL says of a write after its close_notify, or after a fatal alert.
    throw_tls(std::error_code(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_PROTOCOL_IS_SHUTDOWN),
                              net::tls_category()),
              fmt::format("TLS write to {}: protocol is shutdown", s.peer));
  }
  // As for user-space records: a write that stops part-way leaves the stream unable to write.
  struct cut_unless_sent {
    tls_state& s;
    bool sent = false;
    ~cut_unless_sent() {
      if (!sent) s.write_cut = true;
    }
  } guard{s};
  co_await s.tcp.write_all(data, deadline.remaining(), where);
  guard.sent = true;
}

task<void> kernel_tls_close_notify(tls_state& s, tls_deadline deadline,
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

void keep_traffic_secret(const SSL* ssl, const char* line) noexcept {
  auto* s = static_cast<tls_state*>(SSL_get_app_data(ssl));
  if (s == nullptr || !s->kernel_wanted) return;
  // "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>", in hexadecimal.
  const std::string_view text{line};
  unsigned which = 0;
  if (text.starts_with("CLIENT_TRAFFIC_SECRET_0 ")) which = secret_of_client;
  if (text.starts_with("SERVER_TRAFFIC_SECRET_0 ")) which = secret_of_server;
  if (which == 0) return;
  const std::string_view hex = text.substr(text.rfind(' ') + 1);
  auto& out = which == secret_of_client ? s->client_secret : s->server_secret;
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
  s->secret_size = static_cast<std::uint8_t>(hex.size() / 2);
  s->secrets_kept = static_cast<std::uint8_t>(s->secrets_kept | which);
}

}  // namespace ringo::detail
