// The account endpoints: GET /v0/api/webhook-secret shows the caller's webhook signing secret and
// POST /v0/api/webhook-secret/rotate replaces it; each account sees only its own; both are in
// /openapi.json.
#include <gtest/gtest.h>

#include "http_test_server.h"
#include "test_support.h"

namespace dd::test {
namespace {

TestServerOptions without_worker() {
  TestServerOptions options;
  options.start_worker = false;  // nothing is generated here
  return options;
}

TEST(AccountApi, LocalModeShowsAndRotatesTheLocalAccountsSecret) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  const auto shown = server.get("/v0/api/webhook-secret");
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.json["success"], true);
  const std::string secret = shown.json["webhookSecret"];
  EXPECT_EQ(secret.size(), 64u);
  EXPECT_EQ(secret, server.service().accounts().webhook_secret(service::kLocalAccount));
  EXPECT_EQ(server.get("/v0/api/webhook-secret").json["webhookSecret"], secret) << "kept";

  const auto rotated = server.post("/v0/api/webhook-secret/rotate", nlohmann::json::object());
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_EQ(rotated.json["success"], true);
  const std::string fresh = rotated.json["webhookSecret"];
  EXPECT_NE(fresh, secret);
  EXPECT_EQ(fresh, server.service().accounts().webhook_secret(service::kLocalAccount));
  EXPECT_EQ(server.get("/v0/api/webhook-secret").json["webhookSecret"], fresh);
}

TEST(AccountApi, EachKeySeesItsOwnAccountsSecretAndAnonymousIsRefused) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  auto& accounts = server.service().accounts();
  const auto alice = accounts.create_key("alice");
  const auto bob = accounts.create_key("bob");
  EXPECT_EQ(server.get("/v0/api/webhook-secret").status, 401);
  EXPECT_EQ(server.post("/v0/api/webhook-secret/rotate", nlohmann::json::object()).status, 401);
  EXPECT_EQ(server.get("/v0/api/webhook-secret", "dd_wrong").status, 401);

  const auto for_alice = server.get("/v0/api/webhook-secret", alice.key);
  ASSERT_EQ(for_alice.status, 200) << for_alice.body;
  EXPECT_EQ(for_alice.json["webhookSecret"], accounts.webhook_secret(alice.account_id));
  const std::string bobs = server.get("/v0/api/webhook-secret", bob.key).json["webhookSecret"];
  EXPECT_NE(bobs, for_alice.json["webhookSecret"]);

  // Rotating alice's secret leaves bob's alone.
  const auto rotated =
      server.post("/v0/api/webhook-secret/rotate", nlohmann::json::object(), alice.key);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_NE(rotated.json["webhookSecret"], for_alice.json["webhookSecret"]);
  EXPECT_EQ(rotated.json["webhookSecret"], accounts.webhook_secret(alice.account_id));
  EXPECT_EQ(accounts.webhook_secret(bob.account_id), bobs);
}

TEST(AccountApi, TheEndpointsAreDescribedInOpenApi) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  const auto doc = server.get("/openapi.json").json;
  for (const auto& [path, method] : std::vector<std::pair<std::string, std::string>>{
           {"/v0/api/webhook-secret", "get"}, {"/v0/api/webhook-secret/rotate", "post"}}) {
    SCOPED_TRACE(method + " " + path);
    ASSERT_TRUE(doc["paths"].contains(path));
    ASSERT_TRUE(doc["paths"][path].contains(method));
    const auto& operation = doc["paths"][path][method];
    EXPECT_TRUE(operation["summary"].is_string());
    EXPECT_FALSE(operation.contains("security")) << "needs a key";
  }
}

}  // namespace
}  // namespace dd::test
