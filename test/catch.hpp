#pragma once
// The one place that knows which Catch2 is installed: Catch2 3 (split headers, its own main
// library) or Catch2 2 (one header, Debian 12). Tests include only this.
#if RINGO_CATCH2_MAJOR >= 3
#include <catch2/benchmark/catch_benchmark.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#else
#include <catch2/catch.hpp>
#endif
