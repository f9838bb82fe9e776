#pragma once
/// \file
/// ringo::run: asyncio.run for ringo.
#include <source_location>
#include <utility>

#include <ringo/io_context.hpp>
#include <ringo/task.hpp>

namespace ringo {

/// Makes an io_context on the calling thread and runs `main` on it (see io_context::run):
/// returns when `main` and every non-daemon task have finished, with main's result.
template <class T>
T run(task<T> main, io_context_options options = {},
      std::source_location where = std::source_location::current()) {
  io_context ctx{options};
  return ctx.run(std::move(main), where);
}

}  // namespace ringo
