#pragma once
// The one place that picks and sets up a context's I/O backend (private to the library).
#include <memory>
#include <string>

#include "backend/reactor.hpp"
#include <ringo/io_context_options.hpp>

namespace ringo::detail {

struct made_reactor {
  std::unique_ptr<reactor> backend;
  io_backend kind;              // never automatic
  std::string fallback_reason;  // why automatic fell back to epoll; empty otherwise
};

/// The backend `options` ask for (RINGO_BACKEND decides where they say automatic), with
/// RINGO_DISABLE_FEATURES applied. Throws std::system_error when the backend asked for cannot
/// be set up, std::invalid_argument for bad options or environment.
made_reactor make_reactor(const io_context_options& options);

}  // namespace ringo::detail
