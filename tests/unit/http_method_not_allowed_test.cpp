// End to end: a known path asked with a method it does not serve answers 405 with Allow, and
// the connection stays usable; OPTIONS lists what a path serves.
#include <gtest/gtest.h>

#include "http_test_server.h"
#include "test_support.h"

namespace dd::http {
namespace {

using test::TestServer;

test::TestServerOptions without_worker() {
  test::TestServerOptions options;
  options.start_worker = false;
  return options;
}

TEST(MethodNotAllowed, AnswersWithAllowOverHttp) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  auto client = server.client();
  client.set_keep_alive(true);
  const auto put = client.Put("/sd", R"({"prompt": "x"})", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405) << put->body;
  EXPECT_EQ(put->get_header_value("Allow"), "POST");
  const auto body = nlohmann::json::parse(put->body, nullptr, false);
  EXPECT_EQ(body["success"], false) << put->body;
  EXPECT_EQ(body["error"]["code"], "method_not_allowed") << put->body;
  // The body was read: the connection serves the next request.
  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  const auto post = client.Post("/health", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  const auto patch = client.Patch("/v1/images/abc", "{}", "application/json");
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->status, 405);
  EXPECT_EQ(patch->get_header_value("Allow"), "GET, HEAD, DELETE");
  const auto options = client.Options("/v0/api/jobs/123");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);  // OPTIONS is served everywhere: it lists the methods
  EXPECT_EQ(options->get_header_value("Allow"), "GET, HEAD, OPTIONS");
  // Served methods and unknown paths are as before.
  EXPECT_EQ(server.del("/v1/images/abc").status, 404);
  const auto unknown = client.Put("/nowhere", "{}", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(server.get("/models").status, 200);
}

}  // namespace
}  // namespace dd::http
