#pragma once
// Accounts and their API keys. A key is "dd_" + 40 random hex digits, shown once when created;
// only its SHA-256 is stored, so a copy of the database gives no usable key. Every key belongs
// to an account (named like the key); every job, image and character belongs to an account.
// Without keys the server runs in single-user local mode as the account kLocalAccount.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/database.h"

namespace dd::service {

// The anonymous account of single-user local mode.
inline constexpr const char* kLocalAccount = "local";

struct KeyInfo {
  std::string key_id;  // "key_<16 hex>": names the key without revealing it
  std::string account_id;
  std::string name;
  std::string prefix;  // the first characters of the key ("dd_1a2b"), to tell keys apart
  int64_t created_ms = 0;
  bool revoked = false;
};

class Accounts {
 public:
  explicit Accounts(Database& db);  // creates its tables if needed

  struct CreatedKey {
    std::string key;  // the secret: shown once, never stored
    std::string key_id;
    std::string account_id;
    std::string name;
  };
  // A new key for the account named `name` (1..100 printable characters), creating the
  // account unless one of that name exists: then the key joins it.
  CreatedKey create_key(const std::string& name);
  // Every key ever created, oldest first, revoked ones flagged; never a secret or a hash.
  std::vector<KeyInfo> list() const;
  // Revokes one key by its id, or every key of an account by the account's name.
  // False when nothing was left to revoke.
  bool revoke(const std::string& key_id_or_name);
  // The account of an active key; nullopt for unknown or revoked keys.
  std::optional<std::string> account_for_key(const std::string& key) const;
  // The same for HTTP Basic credentials (AUTOMATIC1111's --api-auth user:password): the key is
  // the password and must have been created under `name`; nullopt otherwise.
  std::optional<std::string> account_for_named_key(const std::string& name,
                                                   const std::string& key) const;
  // True once any key was created (revoked ones included), so revoking the last key never
  // silently turns authentication off.
  bool any_keys() const;
  // The id of the account named `name`: kLocalAccount for "local" unless an account of that
  // name exists; nullopt when there is none.
  std::optional<std::string> account_named(const std::string& name) const;
  // The account's secret for signing webhooks (64 hex digits), created on first use and kept.
  std::string webhook_secret(const std::string& account_id);
  // Replaces the account's webhook secret with a new random one and returns it: deliveries
  // attempted from then on are signed with it.
  std::string rotate_webhook_secret(const std::string& account_id);
  // The model the account chose as its default (AUTOMATIC1111's POST /options
  // sd_model_checkpoint), kept across restarts; nullopt when it chose none.
  std::optional<std::string> default_model(const std::string& account_id) const;
  void set_default_model(const std::string& account_id, const std::string& model);

 private:
  Database& db_;
};

}  // namespace dd::service
