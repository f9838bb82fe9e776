#pragma once
/// \file
/// ringo::net: TCP and UDP sockets whose operations suspend the calling task, never the thread.
#include <ringo/net/endpoint.hpp>
#include <ringo/net/received_buffer.hpp>
#include <ringo/net/received_buffers.hpp>
#include <ringo/net/tcp_listener.hpp>
#include <ringo/net/tcp_stream.hpp>
#include <ringo/net/udp_socket.hpp>
