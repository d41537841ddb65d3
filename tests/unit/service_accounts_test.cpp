// Accounts and API keys: creation, lookup, revocation, listing without secrets, hashes only
// in the database, webhook secrets.
#include <gtest/gtest.h>

#include <set>

#include "postgres_server.h"
#include "service/accounts.h"
#include "service/crypto.h"
#include "util/error.h"

namespace dd::service {
namespace {

class AccountsTest : public ::testing::Test {
 protected:
  Database db{test::test_database(":memory:")};
  Accounts accounts{db};
};

bool is_lower_hex(const std::string& text) {
  return text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST_F(AccountsTest, CreatedKeyLooksRightAndFindsItsAccount) {
  EXPECT_FALSE(accounts.any_keys());
  const auto created = accounts.create_key("alice");
  EXPECT_TRUE(accounts.any_keys());
  ASSERT_EQ(created.key.size(), 43u);
  EXPECT_EQ(created.key.substr(0, 3), "dd_");
  EXPECT_TRUE(is_lower_hex(created.key.substr(3)));
  EXPECT_EQ(created.name, "alice");
  EXPECT_FALSE(created.account_id.empty());
  EXPECT_NE(created.account_id, kLocalAccount);
  EXPECT_EQ(accounts.account_for_key(created.key), created.account_id);
}

TEST_F(AccountsTest, UnknownAndMalformedKeysFindNothing) {
  const auto created = accounts.create_key("alice");
  EXPECT_FALSE(accounts.account_for_key(""));
  EXPECT_FALSE(accounts.account_for_key("dd_" + std::string(40, '0')));
  EXPECT_FALSE(accounts.account_for_key(created.key + "x"));
  EXPECT_FALSE(accounts.account_for_key(created.key.substr(0, 42)));
  EXPECT_FALSE(accounts.account_for_key(sha256_hex(created.key)));  // the stored hash is no key
  EXPECT_FALSE(accounts.account_for_key(std::string(100000, 'a')));
}

TEST_F(AccountsTest, SameNameJoinsTheAccountOtherNamesGetTheirOwn) {
  const auto first = accounts.create_key("alice");
  const auto second = accounts.create_key("alice");
  const auto bob = accounts.create_key("bob");
  EXPECT_EQ(first.account_id, second.account_id);
  EXPECT_NE(first.key, second.key);
  EXPECT_NE(first.key_id, second.key_id);
  EXPECT_NE(bob.account_id, first.account_id);
  EXPECT_EQ(accounts.account_for_key(second.key), first.account_id);
  EXPECT_EQ(accounts.account_for_key(bob.key), bob.account_id);
}

TEST_F(AccountsTest, RevokeByIdStopsOnlyThatKey) {
  const auto first = accounts.create_key("alice");
  const auto second = accounts.create_key("alice");
  EXPECT_TRUE(accounts.revoke(first.key_id));
  EXPECT_FALSE(accounts.account_for_key(first.key));
  EXPECT_EQ(accounts.account_for_key(second.key), second.account_id);
  EXPECT_FALSE(accounts.revoke(first.key_id));  // already revoked
  EXPECT_FALSE(accounts.revoke("key_unknown"));
}

TEST_F(AccountsTest, RevokeByNameStopsEveryKeyOfTheAccount) {
  const auto first = accounts.create_key("alice");
  const auto second = accounts.create_key("alice");
  const auto bob = accounts.create_key("bob");
  EXPECT_TRUE(accounts.revoke("alice"));
  EXPECT_FALSE(accounts.account_for_key(first.key));
  EXPECT_FALSE(accounts.account_for_key(second.key));
  EXPECT_TRUE(accounts.account_for_key(bob.key));
  // Authentication stays on after every key of an account is revoked.
  EXPECT_TRUE(accounts.revoke("bob"));
  EXPECT_TRUE(accounts.any_keys());
  // A new key for a revoked name joins the same account again (its objects stay reachable).
  EXPECT_EQ(accounts.account_for_key(accounts.create_key("alice").key), first.account_id);
}

TEST_F(AccountsTest, ListShowsKeysWithoutSecrets) {
  const auto first = accounts.create_key("alice");
  const auto second = accounts.create_key("bob");
  accounts.revoke(second.key_id);
  const auto keys = accounts.list();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key_id, first.key_id);
  EXPECT_EQ(keys[0].name, "alice");
  EXPECT_EQ(keys[0].account_id, first.account_id);
  EXPECT_EQ(keys[0].prefix, first.key.substr(0, 7));
  EXPECT_GT(keys[0].created_ms, 0);
  EXPECT_FALSE(keys[0].revoked);
  EXPECT_TRUE(keys[1].revoked);
  for (const auto& info : keys) {
    for (const auto& secret :
         {first.key, second.key, sha256_hex(first.key), sha256_hex(second.key)}) {
      for (const auto& field : {info.key_id, info.account_id, info.name, info.prefix})
        EXPECT_EQ(field.find(secret), std::string::npos);
    }
  }
}

TEST_F(AccountsTest, DatabaseHoldsOnlyHashes) {
  const auto created = accounts.create_key("alice");
  auto guard = db.lock();
  auto query = db.prepare("SELECT * FROM api_keys");
  int rows = 0;
  bool hash_found = false;
  while (query.step()) {
    ++rows;
    for (int column = 0; column < 8; ++column) {
      const std::string value = query.text(column);
      EXPECT_EQ(value.find(created.key.substr(3)), std::string::npos) << "column " << column;
      hash_found = hash_found || value == sha256_hex(created.key);
    }
  }
  EXPECT_EQ(rows, 1);
  EXPECT_TRUE(hash_found);
}

TEST_F(AccountsTest, KeysAreUnguessable) {
  std::set<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.insert(accounts.create_key("alice").key);
  EXPECT_EQ(keys.size(), 20u);
}

TEST_F(AccountsTest, BadNamesAreRefused) {
  EXPECT_THROW(accounts.create_key(""), Error);
  EXPECT_THROW(accounts.create_key(std::string(101, 'a')), Error);
  EXPECT_THROW(accounts.create_key("new\nline"), Error);
  EXPECT_FALSE(accounts.any_keys());
  EXPECT_NO_THROW(accounts.create_key("Alice Example (ops)"));
}

TEST_F(AccountsTest, BasicCredentialsNeedTheKeysOwnName) {
  const auto alice = accounts.create_key("alice");
  accounts.create_key("bob");
  EXPECT_EQ(accounts.account_for_named_key("alice", alice.key), alice.account_id);
  EXPECT_FALSE(accounts.account_for_named_key("bob", alice.key));
  EXPECT_FALSE(accounts.account_for_named_key("alice", "dd_wrong"));
  EXPECT_FALSE(accounts.account_for_named_key("alice", ""));
  accounts.revoke("alice");
  EXPECT_FALSE(accounts.account_for_named_key("alice", alice.key));
}

TEST_F(AccountsTest, DefaultModelIsPerAccountAndReplaced) {
  const auto alice = accounts.create_key("alice").account_id;
  const auto bob = accounts.create_key("bob").account_id;
  EXPECT_FALSE(accounts.default_model(alice));
  accounts.set_default_model(alice, "sd15");
  accounts.set_default_model(alice, "sdxl");
  EXPECT_EQ(accounts.default_model(alice), "sdxl");
  EXPECT_FALSE(accounts.default_model(bob));
  // Kept in the database: another Accounts over it sees it.
  Accounts again{db};
  EXPECT_EQ(again.default_model(alice), "sdxl");
}

TEST_F(AccountsTest, WebhookSecretIsCreatedOnceAndKept) {
  const auto alice = accounts.create_key("alice").account_id;
  const std::string secret = accounts.webhook_secret(alice);
  EXPECT_EQ(secret.size(), 64u);
  EXPECT_TRUE(is_lower_hex(secret));
  EXPECT_EQ(accounts.webhook_secret(alice), secret);
  const std::string local = accounts.webhook_secret(kLocalAccount);
  EXPECT_NE(local, secret);
  EXPECT_EQ(accounts.webhook_secret(kLocalAccount), local);
  EXPECT_THROW(accounts.webhook_secret(""), Error);
}

TEST_F(AccountsTest, WebhookSecretRotatesAndAccountsAreFoundByName) {
  const auto alice = accounts.create_key("alice").account_id;
  EXPECT_EQ(accounts.account_named("alice"), alice);
  EXPECT_EQ(accounts.account_named("local"), std::string(kLocalAccount));
  EXPECT_EQ(accounts.account_named("nobody"), std::nullopt);
  const std::string before = accounts.webhook_secret(alice);
  const std::string rotated = accounts.rotate_webhook_secret(alice);
  EXPECT_EQ(rotated.size(), 64u);
  EXPECT_TRUE(is_lower_hex(rotated));
  EXPECT_NE(rotated, before);
  EXPECT_EQ(accounts.webhook_secret(alice), rotated);
  // Rotating an account that never had a secret creates one.
  const std::string local = accounts.rotate_webhook_secret(kLocalAccount);
  EXPECT_EQ(accounts.webhook_secret(kLocalAccount), local);
  EXPECT_THROW(accounts.rotate_webhook_secret(""), Error);
}

}  // namespace
}  // namespace dd::service
