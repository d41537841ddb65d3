// `diffusiond keys webhook-secret NAME [--rotate]` (in-process): shows the account's webhook
// signing secret (the one deliveries are signed with), replaces it with --rotate, works for the
// local account without keys, and fails with exit status 1 for an unknown account.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/main.h"
#include "service/accounts.h"
#include "service/crypto.h"

namespace dd::cli {
namespace {

namespace fs = std::filesystem;

class KeysCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dd_cli_keys_" + service::random_hex(6));
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Result {
    int status = 0;
    std::string out;
  };
  // Runs `diffusiond keys --data-dir DIR ARGS...` and captures its standard output.
  Result keys(std::vector<std::string> args) const {
    args.insert(args.begin(), {"diffusiond", "keys", "--data-dir", dir_.string()});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    ::testing::internal::CaptureStdout();
    const int status = run(static_cast<int>(argv.size()), argv.data());
    return {status, ::testing::internal::GetCapturedStdout()};
  }
  // The secret the server would sign the account's deliveries with.
  std::string stored_secret(const std::string& name) const {
    service::Database db((dir_ / "diffusiond.db").string());
    service::Accounts accounts(db);
    return accounts.webhook_secret(accounts.account_named(name).value());
  }

  fs::path dir_;
};

TEST_F(KeysCliTest, ShowsAndRotatesAnAccountsWebhookSecret) {
  ASSERT_EQ(keys({"create", "--name", "alice"}).status, 0);
  const auto shown = keys({"webhook-secret", "alice"});
  ASSERT_EQ(shown.status, 0);
  ASSERT_EQ(shown.out.size(), 65u) << shown.out;  // 64 hex digits and a newline
  const std::string secret = shown.out.substr(0, 64);
  EXPECT_EQ(secret, stored_secret("alice"));
  EXPECT_EQ(keys({"webhook-secret", "alice"}).out, shown.out) << "kept between calls";

  const auto rotated = keys({"webhook-secret", "alice", "--rotate"});
  ASSERT_EQ(rotated.status, 0);
  ASSERT_EQ(rotated.out.size(), 65u) << rotated.out;
  EXPECT_NE(rotated.out, shown.out);
  EXPECT_EQ(rotated.out.substr(0, 64), stored_secret("alice"));
  EXPECT_EQ(keys({"webhook-secret", "alice"}).out, rotated.out);
}

TEST_F(KeysCliTest, TheLocalAccountHasASecretWithoutKeys) {
  const auto shown = keys({"webhook-secret", "local"});
  ASSERT_EQ(shown.status, 0);
  ASSERT_EQ(shown.out.size(), 65u) << shown.out;
  service::Database db((dir_ / "diffusiond.db").string());
  EXPECT_EQ(shown.out.substr(0, 64), service::Accounts(db).webhook_secret(service::kLocalAccount));
}

TEST_F(KeysCliTest, AnUnknownAccountFails) {
  const auto result = keys({"webhook-secret", "nobody"});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(keys({"webhook-secret"}).status, 0) << "NAME is required";
}

}  // namespace
}  // namespace dd::cli
