#pragma once
// The stream families the line tests run each case on (the TEMPLATE_TEST_CASE types): a
// connected pair of tcp_streams or of unix_streams, with the name the server end's messages
// give its peer.
#include <unistd.h>

#include <string>
#include <utility>

#include <fmt/format.h>

#include <ringo/net.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

namespace ringo_test {

template <class Stream>
struct stream_pair {
  Stream client;
  Stream server;
  std::string server_peer;  // how the server end's messages name its peer
};

template <class Listener>
ringo::task<decltype(std::declval<Listener&>().accept().await_resume())> accept_one(Listener& l) {
  co_return co_await l.accept();
}

struct tcp_kind {
  static ringo::task<stream_pair<ringo::net::tcp_stream>> connect() {
    auto l = ringo::net::tcp_listener::bind(ringo::net::endpoint::loopback_v4(0));
    auto accepting = ringo::spawn(accept_one(l));
    stream_pair<ringo::net::tcp_stream> p;
    p.client = co_await ringo::net::tcp_stream::connect(l.local_endpoint());
    p.server = co_await accepting;
    p.server_peer = fmt::format("{}", p.server.remote_endpoint());
    co_return p;
  }
};

struct unix_kind {
  static ringo::task<stream_pair<ringo::net::unix_stream>> connect() {
    static int made = 0;
    const std::string name = fmt::format("@ringo-lines-{}-{}", ::getpid(), ++made);
    auto l = ringo::net::unix_listener::bind(name);
    auto accepting = ringo::spawn(accept_one(l));
    stream_pair<ringo::net::unix_stream> p;
    p.client = co_await ringo::net::unix_stream::connect(name);
    p.server = co_await accepting;
    p.server_peer = p.server.path();
    co_return p;
  }
};

}  // namespace ringo_test
