// TLS errors: the "tls" category (OpenSSL's reason strings and ringo's own failures) and
// the tls_error a failed OpenSSL call becomes.
#include <ringo/net/tls_error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <system_error>

#include <fmt/format.h>

#include "tls/state.hpp"

namespace ringo::net {

namespace {

class tls_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    switch (static_cast<tls_errc>(value)) {
      case tls_errc::truncated:
        return "the peer ended the stream without a close_notify";
      case tls_errc::write_cut:
        return "an earlier write was cut off part-way through a record; the stream can only be "
               "closed";
      case tls_errc::peer_alert:
        return "the peer sent a fatal alert";
      case tls_errc::bad_record:
        return "a record failed its integrity check or was malformed";
      case tls_errc::kernel_cannot_follow:
        return "the peer sent a message that kernel TLS cannot follow";
    }
    // Any other value is an OpenSSL error code: the library in bits 23 to 30, the reason below.
    if (const char* reason = ERR_reason_error_string(static_cast<unsigned long>(value))) {
      return reason;
    }
    return fmt::format("TLS error {:#x}", value);
  }
};

}  // namespace

const std::error_category& tls_category() noexcept {
  static const tls_category_impl category;
  return category;
}

}  // namespace ringo::net

namespace ringo::detail {

void throw_tls(std::error_code code, std::string what) {
  throw net::tls_error(code, std::move(what));
}

void throw_tls_failure(const tls_state& s, std::string_view op, int ssl_error) {
  // The earliest error in the queue is the cause; later ones are the callers saying so.
  const unsigned long e = ERR_peek_error();
  std::error_code code;
  if (e == 0) {
    // No reason queued: a failure of the (memory) BIOs, which only run out of memory.
    code =
        std::error_code(ssl_error == SSL_ERROR_SYSCALL ? ENOMEM : EPROTO, std::system_category());
  } else if (ERR_SYSTEM_ERROR(e)) {
    code = std::error_code(ERR_GET_REASON(e), std::system_category());
  } else {
    code = std::error_code(static_cast<int>(e & 0x7fffffffUL), net::tls_category());
  }
  std::string reason = code.message();
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long verdict = SSL_get_verify_result(s.ssl);
    if (verdict != X509_V_OK) {
      reason += fmt::format(" ({})", X509_verify_cert_error_string(verdict));
    }
  }
  ERR_clear_error();
  throw net::tls_error(code, fmt::format("{} {}: {}", op, s.peer, reason));
}

}  // namespace ringo::detail
