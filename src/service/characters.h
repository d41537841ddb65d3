#pragma once
// Characters: a LoRA registered under a name, a class ("person", "dog") and a trigger word,
// owned by an account. A jobs-API prompt names one as `<character-id>`; condition_prompt()
// replaces the reference by the character's trigger phrase and adds its LoRA to the job.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/database.h"
#include "service/job.h"

namespace dd::service {

struct Character {
  std::string id;  // uuid
  std::string account_id;
  std::string name;
  std::string class_name;
  std::string trigger_word;
  std::string lora_path;  // DATA_DIR/loras/<id>.safetensors
  int64_t created_ms = 0;
};

class Characters {
 public:
  // Creates its table and DATA_DIR/loras if needed.
  Characters(Database& db, std::string data_dir);

  // Validates every field (errors start with the API field: name, class, triggerWord, lora)
  // and that the bytes are a kohya LoRA file, writes the file completely (temporary file +
  // rename) and only then the record.
  Character create(const std::string& account_id, const std::string& name,
                   const std::string& class_name, const std::string& trigger_word,
                   const std::string& lora_bytes);
  // Another account's character is "not found".
  std::optional<Character> get(const std::string& id, const std::string& account_id) const;
  std::vector<Character> list(const std::string& account_id) const;  // oldest first
  // Deletes the record, then the file. False when unknown to the account.
  bool remove(const std::string& id, const std::string& account_id);

 private:
  std::string lora_path(const std::string& id) const;
  Character from_row(const Statement& row) const;

  Database& db_;
  std::string data_dir_;
};

struct ConditionedPrompt {
  std::string text;
  std::vector<LoraRef> loras;  // one per distinct character, weight 1, meta {"class": ...}
};

// A character reference is `<ID>` where ID is 1..64 letters, digits, '-' or '_' (other
// angle-bracket text such as `<lora:name:0.8>` is left alone). Each reference becomes
// `"TRIGGER" CLASS`, as in the seed's sample: `<1> behind the wheel` with trigger word `<1>`
// and class `person` gives `"<1>" person behind the wheel`. An unknown id (or another
// account's) is a dd::Error naming it.
ConditionedPrompt condition_prompt(const std::string& prompt, const Characters& characters,
                                   const std::string& account_id);

}  // namespace dd::service
