// The HTTP demo's server (demo/http/server.hpp) serving files under its root over loopback:
// each path maps to a file under the root or is refused (404 for what is missing or not a
// file, 403 for what would leave the root, by dot segments, escapes or a symbolic link), large
// files come whole, and without a root only / answers.
#include "../demo/http/server.hpp"
// (its own header first: proves it stands alone)

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <ringo/net.hpp>
#include <ringo/task.hpp>

#include "catch.hpp"
#include "http_loopback.hpp"
#include "temp_dir.hpp"

using ringo::net::endpoint;
using ringo_test::client;
using ringo_test::get;
using ringo_test::response;
using ringo_test::temp_dir;
using ringo_test::with_server;

TEST_CASE("files under the root are served, missing ones are 404, escapes are refused", "[http]") {
  temp_dir dir;
  temp_dir outside;
  std::string big(200'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + i % 26);
  dir.write("www/index.html", "<p>home</p>");
  dir.write("www/a b.txt", "spaced");
  dir.write("www/big.bin", big);
  dir.write("www/sub/x.css", "p{}");
  outside.write("secret.txt", "secret");
  dir.write("secret2.txt", "secret2");
  std::filesystem::create_symlink(outside.path() / "secret.txt", dir.path() / "www/link-out");
  std::filesystem::create_symlink(dir.path() / "www/sub/x.css", dir.path() / "www/link-in");
  http::server_config config;
  config.root = (dir.path() / "www").string();
  with_server(config, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    struct expectation {
      std::string path;
      int status;
      std::string body;
      std::string type;
    };
    const std::vector<expectation> cases{
        {"/index.html", 200, "<p>home</p>", "text/html; charset=utf-8"},
        {"/a%20b.txt", 200, "spaced", "text/plain; charset=utf-8"},
        {"/sub/x.css", 200, "p{}", "text/css"},
        {"/sub/../sub/x.css", 403, "403 Forbidden\n", ""},
        {"/link-in", 200, "p{}", "text/css"},  // typed by what the link leads to
        {"/link-out", 403, "403 Forbidden\n", ""},
        {"/nothing.txt", 404, "404 Not Found\n", ""},
        {"/sub", 404, "404 Not Found\n", ""},   // a directory is no file
        {"/sub/", 404, "404 Not Found\n", ""},  // ... and it has no index.html
        {"/../secret2.txt", 403, "403 Forbidden\n", ""},
        {"/a/%2e%2e/%2e%2e/secret2.txt", 403, "403 Forbidden\n", ""},
        {"/..%2fsecret2.txt", 403, "403 Forbidden\n", ""},
        {"/x/..%2F..%2Fsecret2.txt", 403, "403 Forbidden\n", ""},
    };
    for (const auto& e : cases) {
      INFO(e.path);
      co_await c.send(get(e.path));
      const response r = co_await c.next();
      CHECK(r.status == e.status);
      CHECK(r.body == e.body);
      if (!e.type.empty()) CHECK(r.header("Content-Type") == e.type);
    }
    // "/" is the greeting, even with an index.html in the root.
    co_await c.send(get("/"));
    const response hello = co_await c.next();
    CHECK(hello.body == "Hello, World!");
    // A file larger than one read and one write.
    co_await c.send(get("/big.bin"));
    const response b = co_await c.next();
    CHECK(b.status == 200);
    CHECK(b.header("Content-Length") == "200000");
    CHECK(b.body.size() == 200'000);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < b.body.size(); ++i) {
      if (b.body[i] != static_cast<char>('a' + i % 26)) ++wrong;
    }
    CHECK(wrong == 0);
    co_await c.send("HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    const response h = co_await c.next(true);
    CHECK(h.header("Content-Length") == "200000");
    co_await c.send(get("/index.html"));  // and the connection is still in step
    const response after = co_await c.next();
    CHECK(after.body == "<p>home</p>");
  });
}

TEST_CASE("without a root every path but / is 404", "[http]") {
  with_server({}, [](endpoint at) -> ringo::task<void> {
    auto c = co_await client::connect(at);
    co_await c.send(get("/index.html"));
    const response r = co_await c.next();
    CHECK(r.status == 404);
  });
}
