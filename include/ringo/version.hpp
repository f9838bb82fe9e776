#pragma once
/// \file
/// The library's version, as built.
#include <string_view>

namespace ringo {

/// The version of the compiled library ("major.minor.patch"); compare with RINGO_VERSION to
/// catch a program built against other headers than the library it runs with.
std::string_view version() noexcept;

}  // namespace ringo

#define RINGO_VERSION "0.1.0"
