#include "service/accounts.h"

#include "service/crypto.h"
#include "service/job.h"  // now_ms
#include "service/schema_migrations.h"
#include "util/error.h"

namespace dd::service {

namespace {

const std::vector<Migration> kMigrations = {
    {1, "accounts, keys, default models and webhook secrets", R"sql(
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  seq {serial_key},
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  revoked_ms BIGINT
);
CREATE TABLE IF NOT EXISTS account_default_models (
  account_id TEXT PRIMARY KEY,
  model TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_secrets (
  account_id TEXT PRIMARY KEY,
  secret TEXT NOT NULL
);
)sql"},
};

constexpr const char* kKeyPrefix = "dd_";
constexpr size_t kKeyRandomBytes = 20;    // 40 hex digits, 160 bits
constexpr size_t kShownPrefixLength = 7;  // "dd_" and 4 hex digits
constexpr size_t kMaxNameLength = 100;
constexpr size_t kMaxKeyLength = 256;  // far longer than any key issued: not worth hashing
constexpr size_t kWebhookSecretBytes = 32;

void validate_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength)
    throw Error("key name must be 1.." + std::to_string(kMaxNameLength) + " characters");
  for (const unsigned char c : name)
    if (c < 0x20 || c == 0x7f) throw Error("key name must not contain control characters");
}

// The account named `name`, created when missing (inside the caller's transaction).
std::string find_or_create_account(Database& db, const std::string& name) {
  auto query = db.prepare("SELECT id FROM accounts WHERE name = ?1");
  query.bind(1, name);
  if (query.step()) return query.text(0);
  const std::string id = new_uuid();
  db.prepare("INSERT INTO accounts (id, name, created_ms) VALUES (?1, ?2, ?3)")
      .bind(1, id)
      .bind(2, name)
      .bind(3, now_ms())
      .run();
  return id;
}

}  // namespace

Accounts::Accounts(Database& db) : db_(db) { apply_migrations(db_, "accounts", kMigrations); }

Accounts::CreatedKey Accounts::create_key(const std::string& name) {
  validate_name(name);
  CreatedKey created;
  created.key = kKeyPrefix + random_hex(kKeyRandomBytes);
  created.key_id = "key_" + random_hex(8);
  created.name = name;
  db_.transaction([&] {
    created.account_id = find_or_create_account(db_, name);
    db_.prepare(
           "INSERT INTO api_keys (id, account_id, name, key_hash, prefix, created_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, created.key_id)
        .bind(2, created.account_id)
        .bind(3, name)
        .bind(4, sha256_hex(created.key))
        .bind(5, created.key.substr(0, kShownPrefixLength))
        .bind(6, now_ms())
        .run();
  });
  return created;
}

std::vector<KeyInfo> Accounts::list() const {
  auto guard = db_.lock();
  auto query = db_.prepare(
      "SELECT id, account_id, name, prefix, created_ms, revoked_ms IS NOT NULL "
      "FROM api_keys ORDER BY seq");
  std::vector<KeyInfo> keys;
  while (query.step())
    keys.push_back({query.text(0), query.text(1), query.text(2), query.text(3), query.integer(4),
                    query.integer(5) != 0});
  return keys;
}

bool Accounts::revoke(const std::string& key_id_or_name) {
  auto guard = db_.lock();
  db_.prepare(
         "UPDATE api_keys SET revoked_ms = ?1 "
         "WHERE (id = ?2 OR name = ?2) AND revoked_ms IS NULL")
      .bind(1, now_ms())
      .bind(2, key_id_or_name)
      .run();
  return db_.changes() > 0;
}

std::optional<std::string> Accounts::account_for_key(const std::string& key) const {
  if (key.empty() || key.size() > kMaxKeyLength) return std::nullopt;
  const std::string hash = sha256_hex(key);
  auto guard = db_.lock();
  auto query = db_.prepare(
      "SELECT account_id, key_hash FROM api_keys WHERE key_hash = ?1 AND revoked_ms IS NULL");
  query.bind(1, hash);
  // The index finds the row by hash; the constant-time compare keeps the final check from
  // depending on where two hashes differ.
  if (!query.step() || !constant_time_equal(query.text(1), hash)) return std::nullopt;
  return query.text(0);
}

std::optional<std::string> Accounts::account_for_named_key(const std::string& name,
                                                           const std::string& key) const {
  if (key.empty() || key.size() > kMaxKeyLength) return std::nullopt;
  const std::string hash = sha256_hex(key);
  auto guard = db_.lock();
  auto query = db_.prepare(
      "SELECT account_id, key_hash, name FROM api_keys WHERE key_hash = ?1 AND revoked_ms IS "
      "NULL");
  query.bind(1, hash);
  if (!query.step() || !constant_time_equal(query.text(1), hash) || query.text(2) != name)
    return std::nullopt;
  return query.text(0);
}

bool Accounts::any_keys() const {
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT EXISTS (SELECT 1 FROM api_keys)");
  query.step();
  return query.integer(0) != 0;
}

std::optional<std::string> Accounts::account_named(const std::string& name) const {
  {
    auto guard = db_.lock();
    auto query = db_.prepare("SELECT id FROM accounts WHERE name = ?1");
    query.bind(1, name);
    if (query.step()) return query.text(0);
  }
  if (name == kLocalAccount) return std::string(kLocalAccount);
  return std::nullopt;
}

std::string Accounts::webhook_secret(const std::string& account_id) {
  if (account_id.empty()) throw Error("webhook secret: no account");
  std::string secret;
  db_.transaction([&] {
    auto query = db_.prepare("SELECT secret FROM webhook_secrets WHERE account_id = ?1");
    query.bind(1, account_id);
    if (query.step()) {
      secret = query.text(0);
      return;
    }
    secret = random_hex(kWebhookSecretBytes);
    db_.prepare("INSERT INTO webhook_secrets (account_id, secret) VALUES (?1, ?2)")
        .bind(1, account_id)
        .bind(2, secret)
        .run();
  });
  return secret;
}

std::string Accounts::rotate_webhook_secret(const std::string& account_id) {
  if (account_id.empty()) throw Error("webhook secret: no account");
  const std::string secret = random_hex(kWebhookSecretBytes);
  auto guard = db_.lock();
  db_.prepare(
         "INSERT INTO webhook_secrets (account_id, secret) VALUES (?1, ?2) "
         "ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret")
      .bind(1, account_id)
      .bind(2, secret)
      .run();
  return secret;
}

std::optional<std::string> Accounts::default_model(const std::string& account_id) const {
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT model FROM account_default_models WHERE account_id = ?1");
  query.bind(1, account_id);
  if (!query.step()) return std::nullopt;
  return query.text(0);
}

void Accounts::set_default_model(const std::string& account_id, const std::string& model) {
  if (account_id.empty()) throw Error("default model: no account");
  auto guard = db_.lock();
  db_.prepare(
         "INSERT INTO account_default_models (account_id, model) VALUES (?1, ?2) "
         "ON CONFLICT (account_id) DO UPDATE SET model = excluded.model")
      .bind(1, account_id)
      .bind(2, model)
      .run();
}

}  // namespace dd::service
