#pragma once
/// \file
/// ringo::net::tls_error and tls_category(): how TLS failures are reported (a std::system_error
/// whose what() names the operation, the peer and OpenSSL's reason).
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>

namespace ringo::net {

/// The failures of a TLS stream that are ringo's own, not OpenSSL's. Other values of
/// tls_category() are OpenSSL's error codes (ERR_get_error() without its system flag; read
/// them with ERR_GET_LIB and ERR_GET_REASON).
enum class tls_errc : int {
  /// The peer ended the TCP stream without a close_notify: what was read may be cut short.
  truncated = 1,
  /// A write failed, timed out or was cancelled part-way through a record: the stream can no
  /// longer send (its records would be cut), only be closed.
  write_cut = 2,
  /// With kernel TLS: the peer sent a fatal alert (its description is in what()).
  peer_alert = 3,
  /// With kernel TLS: a record failed its integrity check, or was malformed.
  bad_record = 4,
  /// With kernel TLS: the peer sent a post-handshake message the kernel cannot follow (a
  /// KeyUpdate, whose new keys it was not given).
  kernel_cannot_follow = 5,
};

/// The error category of TLS failures ("tls"): message() gives OpenSSL's reason ("certificate
/// verify failed") or the meaning of a tls_errc.
const std::error_category& tls_category() noexcept;

inline std::error_code make_error_code(tls_errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

/// A TLS failure: a std::system_error in tls_category() whose what() says which operation on
/// which peer failed and why, with the certificate check's own reason when that was the cause
/// ("TLS handshake with 127.0.0.1:8443: certificate verify failed (certificate has expired)").
class tls_error : public std::system_error {
 public:
  tls_error(std::error_code code, std::string what)
      : std::system_error(code), what_(std::make_shared<const std::string>(std::move(what))) {}
  [[nodiscard]] const char* what() const noexcept override { return what_->c_str(); }

 private:
  std::shared_ptr<const std::string> what_;  // shared: copying an exception must not throw
};

}  // namespace ringo::net

/// \cond
// tls_errc compares with and converts to std::error_code (e.code() == tls_errc::truncated).
namespace std {
template <>
struct is_error_code_enum<ringo::net::tls_errc> : true_type {};
}  // namespace std
/// \endcond
