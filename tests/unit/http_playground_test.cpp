// The playground's files against a real server that requires a key: served without one, with
// the right types and a strict policy, every file the page loads is there, nothing names another
// origin, and being public stops at the page (the APIs it calls still want the key).
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "http_test_server.h"

namespace dd::test {
namespace {

class Playground : public ::testing::Test {
 protected:
  void SetUp() override { key_ = server_.service().accounts().create_key("alice").key; }

  TestServer server_;
  std::string key_;
};

// The files a page or script loads from this server: src="/playground/x", href="/playground/x",
// and module imports of "./x.js".
std::set<std::string> referenced_files(const std::string& text) {
  std::set<std::string> files;
  static const std::regex link(R"re((?:src|href)="/playground/([^"]+)")re");
  static const std::regex import(R"re(from "\./([^"]+)")re");
  for (const auto* pattern : {&link, &import})
    for (std::sregex_iterator it(text.begin(), text.end(), *pattern), end; it != end; ++it)
      files.insert((*it)[1]);
  return files;
}

TEST_F(Playground, PageIsServedWithoutAKeyUnderAStrictPolicy) {
  const auto page = server_.get("/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<title>diffusiond playground</title>"), std::string::npos);
  const auto header = [&](const char* name) {
    const auto found = page.headers.find(name);
    return found == page.headers.end() ? std::string() : found->second;
  };
  const std::string csp = header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("img-src 'self' data: blob:"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header("Cache-Control"), "no-cache");
  EXPECT_FALSE(header("ETag").empty());
}

TEST_F(Playground, EveryFileThePageLoadsIsServedWithItsType) {
  std::set<std::string> pending = referenced_files(server_.get("/").body);
  std::set<std::string> seen;
  ASSERT_TRUE(pending.count("app.js") && pending.count("style.css"));
  while (!pending.empty()) {
    const std::string name = *pending.begin();
    pending.erase(pending.begin());
    if (!seen.insert(name).second) continue;
    const auto file = server_.get("/playground/" + name);
    ASSERT_EQ(file.status, 200) << name;
    const bool script = name.size() > 3 && name.substr(name.size() - 3) == ".js";
    EXPECT_EQ(file.content_type,
              script ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8")
        << name;
    // Nothing is fetched from anywhere but this server.
    EXPECT_EQ(file.body.find("https://"), std::string::npos) << name;
    EXPECT_EQ(file.body.find("http://"), std::string::npos) << name;
    for (const auto& more : referenced_files(file.body)) pending.insert(more);
  }
  EXPECT_GE(seen.size(), 3u);
}

TEST_F(Playground, AnUnchangedFileIsRevalidatedWithItsETag) {
  auto client = server_.client();
  const auto first = client.Get("/playground/app.js");
  ASSERT_TRUE(first);
  const std::string etag = first->get_header_value("ETag");
  const auto again = client.Get("/playground/app.js", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  const auto other = client.Get("/playground/style.css", {{"If-None-Match", etag}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
}

TEST_F(Playground, UnknownFilesAndOtherMethodsAreRefused) {
  EXPECT_EQ(server_.get("/playground/missing.js").status, 404);
  EXPECT_EQ(server_.get("/playground/../server.log").status, 404);
  EXPECT_EQ(server_.get("/playground/index.html").status, 404);  // the page is only at /
  const auto post = server_.post("/", nlohmann::json::object(), key_);
  EXPECT_EQ(post.status, 405) << post.body;
}

TEST_F(Playground, TheApisThePageCallsStillWantTheKey) {
  EXPECT_EQ(server_.get("/v1/images").status, 401);
  EXPECT_EQ(server_.get("/v1/models").status, 401);
  EXPECT_EQ(server_.get("/v1/images", key_).status, 200);
}

}  // namespace
}  // namespace dd::test
