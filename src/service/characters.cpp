#include "service/characters.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "pipeline/lora.h"
#include "service/crypto.h"
#include "service/schema_migrations.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;

namespace {

const std::vector<Migration> kMigrations = {
    {1, "characters", R"sql(
CREATE TABLE IF NOT EXISTS characters (
  seq {serial_key},
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  class_name TEXT NOT NULL,
  trigger_word TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS characters_by_account ON characters(account_id, seq);
)sql"},
};

const char* const kColumns = "id, account_id, name, class_name, trigger_word, created_ms";
constexpr size_t kMaxFieldLength = 100;
constexpr size_t kMaxReferenceLength = 64;

// `field` is the API's name for it, so the HTTP layer can name the parameter.
void validate_text(const char* field, const std::string& value) {
  if (value.empty() || value.size() > kMaxFieldLength)
    throw Error(std::string(field) + " must be 1.." + std::to_string(kMaxFieldLength) +
                " characters");
  for (const unsigned char c : value)
    if (c < 0x20 || c == 0x7f)
      throw Error(std::string(field) + " must not contain control characters");
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("characters: cannot write " + path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw Error("characters: writing " + path + " failed");
}

// Reads the uploaded file as a LoRA; any problem is a dd::Error about the `lora` field that
// does not reveal where the server keeps its files.
void validate_lora_file(const std::string& path) {
  std::vector<pipeline::LoraModule> modules;
  try {
    modules = pipeline::read_lora_file(path);
  } catch (const std::exception& e) {
    std::string reason = e.what();
    for (auto at = reason.find(path); at != std::string::npos; at = reason.find(path))
      reason.replace(at, path.size(), "the file");
    throw Error("lora is not a valid LoRA .safetensors file: " + reason);
  }
  if (modules.empty()) throw Error("lora holds no LoRA modules");
}

bool is_reference_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// The id inside `<...>` starting at prompt[open], or "" when that is not a character reference.
std::string reference_at(const std::string& prompt, size_t open) {
  const size_t close = prompt.find('>', open + 1);
  if (close == std::string::npos) return "";
  const std::string id = prompt.substr(open + 1, close - open - 1);
  if (id.empty() || id.size() > kMaxReferenceLength) return "";
  for (const char c : id)
    if (!is_reference_char(c)) return "";
  return id;
}

}  // namespace

Characters::Characters(Database& db, std::string data_dir)
    : db_(db), data_dir_(std::move(data_dir)) {
  std::error_code error;
  fs::create_directories(fs::path(data_dir_) / "loras", error);
  if (error) throw Error("characters: cannot create " + data_dir_ + "/loras: " + error.message());
  apply_migrations(db_, "characters", kMigrations);
}

std::string Characters::lora_path(const std::string& id) const {
  return (fs::path(data_dir_) / "loras" / (id + ".safetensors")).string();
}

Character Characters::from_row(const Statement& row) const {
  Character character;
  character.id = row.text(0);
  character.account_id = row.text(1);
  character.name = row.text(2);
  character.class_name = row.text(3);
  character.trigger_word = row.text(4);
  character.created_ms = row.integer(5);
  character.lora_path = lora_path(character.id);
  return character;
}

Character Characters::create(const std::string& account_id, const std::string& name,
                             const std::string& class_name, const std::string& trigger_word,
                             const std::string& lora_bytes) {
  if (account_id.empty()) throw Error("a character needs an account");
  validate_text("name", name);
  validate_text("class", class_name);
  validate_text("triggerWord", trigger_word);
  if (lora_bytes.empty()) throw Error("lora is empty");

  Character character{new_uuid(), account_id, name, class_name, trigger_word, "", now_ms()};
  character.lora_path = lora_path(character.id);
  // The temporary name keeps the .safetensors extension; a crash leaves only a stray file
  // that no record points at.
  const std::string upload = character.lora_path + ".upload.safetensors";
  try {
    write_file(upload, lora_bytes);
    validate_lora_file(upload);
    if (std::rename(upload.c_str(), character.lora_path.c_str()) != 0)
      throw Error("characters: cannot move the LoRA file into place");
  } catch (...) {
    std::remove(upload.c_str());
    throw;
  }
  try {
    auto guard = db_.lock();
    db_.prepare(
           "INSERT INTO characters (id, account_id, name, class_name, trigger_word, created_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, character.id)
        .bind(2, character.account_id)
        .bind(3, character.name)
        .bind(4, character.class_name)
        .bind(5, character.trigger_word)
        .bind(6, character.created_ms)
        .run();
  } catch (...) {
    std::remove(character.lora_path.c_str());
    throw;
  }
  return character;
}

std::optional<Character> Characters::get(const std::string& id,
                                         const std::string& account_id) const {
  auto guard = db_.lock();
  auto query = db_.prepare(std::string("SELECT ") + kColumns +
                           " FROM characters WHERE id = ?1 AND account_id = ?2");
  query.bind(1, id).bind(2, account_id);
  if (!query.step()) return std::nullopt;
  return from_row(query);
}

std::vector<Character> Characters::list(const std::string& account_id) const {
  auto guard = db_.lock();
  auto query = db_.prepare(std::string("SELECT ") + kColumns +
                           " FROM characters WHERE account_id = ?1 ORDER BY seq");
  query.bind(1, account_id);
  std::vector<Character> characters;
  while (query.step()) characters.push_back(from_row(query));
  return characters;
}

bool Characters::remove(const std::string& id, const std::string& account_id) {
  {
    auto guard = db_.lock();
    db_.prepare("DELETE FROM characters WHERE id = ?1 AND account_id = ?2")
        .bind(1, id)
        .bind(2, account_id)
        .run();
    if (db_.changes() == 0) return false;
  }
  // The record is gone first, so nothing ever points at a missing file.
  std::remove(lora_path(id).c_str());
  return true;
}

ConditionedPrompt condition_prompt(const std::string& prompt, const Characters& characters,
                                   const std::string& account_id) {
  ConditionedPrompt out;
  std::set<std::string> applied;
  size_t pos = 0;
  while (pos < prompt.size()) {
    const size_t open = prompt.find('<', pos);
    if (open == std::string::npos) break;
    const std::string id = reference_at(prompt, open);
    if (id.empty()) {
      out.text += prompt.substr(pos, open + 1 - pos);
      pos = open + 1;
      continue;
    }
    const auto character = characters.get(id, account_id);
    if (!character) throw Error("prompt references unknown character '" + id + "'");
    out.text += prompt.substr(pos, open - pos);
    out.text += "\"" + character->trigger_word + "\" " + character->class_name;
    if (applied.insert(id).second)
      out.loras.push_back({id, character->lora_path, 1.0, {{"class", character->class_name}}});
    pos = open + id.size() + 2;
  }
  if (pos < prompt.size()) out.text += prompt.substr(pos);
  return out;
}

}  // namespace dd::service
