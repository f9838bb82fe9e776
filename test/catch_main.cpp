// Catch2 2 has no main library in its pkg-config file, so the suite builds its own once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
