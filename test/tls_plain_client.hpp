#pragma once
// A plain OpenSSL client for the TLS tests: a blocking socket in a thread of its own, speaking
// to a ringo server as any other program would.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ringo/net/endpoint.hpp>

namespace ringo_test {

/// Connects to `port` on loopback, waits `before_hello`, makes its handshake trusting `ca` (up
/// to TLS version `max_version`, 0: OpenSSL's highest; offering the TLS 1.2 ciphers `ciphers`
/// if not null) and then runs `talk` on the session.
/// Meant for a thread of its own. SIGPIPE is blocked in the calling thread: OpenSSL's socket
/// BIO writes with write(), and a server that closes first must make that write EPIPE, not
/// end the test process.
template <class Talk>
void plain_openssl_client(std::uint16_t port, const std::string& ca,
                          std::chrono::milliseconds before_hello, Talk talk, int max_version = 0,
                          const char* ciphers = nullptr) {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_file(ctx, ca.c_str());
  if (max_version != 0) SSL_CTX_set_max_proto_version(ctx, max_version);
  if (ciphers != nullptr) SSL_CTX_set_cipher_list(ctx, ciphers);
  SSL* ssl = SSL_new(ctx);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const ringo::net::endpoint to = ringo::net::endpoint::loopback_v4(port);
  if (::connect(fd, to.data(), to.size()) == 0) {
    std::this_thread::sleep_for(before_hello);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) talk(ssl);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  ERR_clear_error();
}

}  // namespace ringo_test
