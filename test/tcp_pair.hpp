#pragma once
// A connected pair of TCP streams over loopback, for the socket tests.
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/spawn.hpp>
#include <ringo/task.hpp>

namespace ringo_test {

struct pair_of_streams {
  ringo::net::tcp_stream client;
  ringo::net::tcp_stream server;
};

inline ringo::task<ringo::net::tcp_stream> accept_one(ringo::net::tcp_listener& l) {
  co_return co_await l.accept();
}

/// Connects a client to `l` and accepts it: client and server ends of one connection.
inline ringo::task<pair_of_streams> connected_pair(ringo::net::tcp_listener& l) {
  auto accepting = ringo::spawn(accept_one(l));
  pair_of_streams p;
  p.client = co_await ringo::net::tcp_stream::connect(l.local_endpoint());
  p.server = co_await accepting;
  co_return p;
}

}  // namespace ringo_test
