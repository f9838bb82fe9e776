#pragma once
/// \file
/// ringo::net: TCP, Unix and UDP sockets and name resolution, whose operations suspend the
/// calling task, never the thread; TLS streams too when the library was built with them
/// (RINGO_HAS_TLS).
#include <ringo/detail/config.hpp>
#include <ringo/net/endpoint.hpp>
#include <ringo/net/received_buffer.hpp>
#include <ringo/net/received_buffers.hpp>
#include <ringo/net/resolve.hpp>
#include <ringo/net/stream_socket.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/net/udp_socket.hpp>
#include <ringo/net/unix_listener.hpp>
#include <ringo/net/unix_stream.hpp>
#if RINGO_HAS_TLS
#include <ringo/net/tls_context.hpp>
#include <ringo/net/tls_error.hpp>
#include <ringo/net/tls_stream.hpp>
#endif
