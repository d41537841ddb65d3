// Characters: registering a LoRA under a name, tenancy, removal, and prompt conditioning.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "postgres_server.h"
#include "service/characters.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tiny_lora_bytes() {
  return read_bytes(test::shared_dir() + "/fixtures/models/lora/sd15-tiny-lora.safetensors");
}

class CharactersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DD_REQUIRE_FIXTURES();
    lora = tiny_lora_bytes();
    ASSERT_FALSE(lora.empty());
  }
  void TearDown() override { fs::remove_all(data_dir); }

  std::vector<std::string> files_in_loras() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(data_dir + "/loras"))
      names.push_back(entry.path().filename().string());
    return names;
  }

  std::string data_dir = (fs::temp_directory_path() /
                          ("dd-characters-" + std::to_string(::getpid()) + "-" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                             .string();
  Database db{test::test_database(":memory:")};
  Characters characters{db, data_dir};
  std::string lora;
};

TEST_F(CharactersTest, CreateStoresTheFileThenTheRecord) {
  const Character made = characters.create("acct-a", "Ada", "person", "sks", lora);
  EXPECT_EQ(made.id.size(), 36u);
  EXPECT_EQ(made.account_id, "acct-a");
  EXPECT_EQ(made.name, "Ada");
  EXPECT_EQ(made.class_name, "person");
  EXPECT_EQ(made.trigger_word, "sks");
  EXPECT_GT(made.created_ms, 0);
  EXPECT_EQ(made.lora_path, data_dir + "/loras/" + made.id + ".safetensors");
  EXPECT_EQ(read_bytes(made.lora_path), lora);
  EXPECT_EQ(files_in_loras(), std::vector<std::string>{made.id + ".safetensors"});

  const auto got = characters.get(made.id, "acct-a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "Ada");
  EXPECT_EQ(got->trigger_word, "sks");
  EXPECT_EQ(got->lora_path, made.lora_path);
  EXPECT_EQ(got->created_ms, made.created_ms);
}

TEST_F(CharactersTest, OtherAccountsSeeNothing) {
  const Character made = characters.create("acct-a", "Ada", "person", "sks", lora);
  EXPECT_FALSE(characters.get(made.id, "acct-b"));
  EXPECT_TRUE(characters.list("acct-b").empty());
  EXPECT_FALSE(characters.remove(made.id, "acct-b"));
  EXPECT_TRUE(fs::exists(made.lora_path));
  EXPECT_THROW(condition_prompt("<" + made.id + "> at sea", characters, "acct-b"), Error);
}

TEST_F(CharactersTest, ListIsOldestFirstPerAccount) {
  const auto first = characters.create("a", "One", "person", "ohwx", lora);
  const auto second = characters.create("a", "Two", "dog", "zwx", lora);
  characters.create("b", "Three", "cat", "qwx", lora);
  const auto listed = characters.list("a");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, first.id);
  EXPECT_EQ(listed[1].id, second.id);
  EXPECT_EQ(listed[1].class_name, "dog");
}

TEST_F(CharactersTest, RemoveDeletesRecordAndFile) {
  const Character made = characters.create("a", "Ada", "person", "sks", lora);
  EXPECT_TRUE(characters.remove(made.id, "a"));
  EXPECT_FALSE(characters.get(made.id, "a"));
  EXPECT_FALSE(fs::exists(made.lora_path));
  EXPECT_FALSE(characters.remove(made.id, "a"));
}

TEST_F(CharactersTest, BadFieldsAreRefusedNamingTheField) {
  struct Case {
    std::string name, class_name, trigger, bytes, field;
  };
  const std::vector<Case> cases = {
      {"", "person", "sks", lora, "name"},
      {std::string(101, 'n'), "person", "sks", lora, "name"},
      {"Ada", "", "sks", lora, "class"},
      {"Ada", "per\nson", "sks", lora, "class"},
      {"Ada", "person", "", lora, "triggerWord"},
      {"Ada", "person", "sks", "", "lora"},
      {"Ada", "person", "sks", "not a safetensors file at all", "lora"},
      {"Ada", "person", "sks", lora.substr(0, lora.size() / 2), "lora"},
  };
  for (const auto& c : cases) {
    try {
      characters.create("a", c.name, c.class_name, c.trigger, c.bytes);
      ADD_FAILURE() << "accepted a bad " << c.field;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(c.field, 0), 0u) << message;
      EXPECT_EQ(message.find(data_dir), std::string::npos) << "leaks a path: " << message;
    }
  }
  EXPECT_TRUE(characters.list("a").empty());
  EXPECT_TRUE(files_in_loras().empty()) << "a refused upload left a file behind";
}

TEST_F(CharactersTest, SafetensorsThatIsNoLoraIsRefused) {
  const std::string model = read_bytes(
      test::shared_dir() + "/fixtures/models/sd15-tiny/vae/diffusion_pytorch_model.safetensors");
  if (model.empty()) GTEST_SKIP() << "no tiny VAE file";
  EXPECT_THROW(characters.create("a", "Ada", "person", "sks", model), Error);
  EXPECT_TRUE(files_in_loras().empty());
}

TEST_F(CharactersTest, ConditioningReplacesReferencesAndAddsTheLoraOnce) {
  const Character ada = characters.create("a", "Ada", "person", "<1>", lora);
  const Character rex = characters.create("a", "Rex", "dog", "zwx", lora);
  const auto conditioned = condition_prompt(
      "<" + ada.id + "> behind the wheel, <" + rex.id + "> beside <" + ada.id + ">", characters,
      "a");
  EXPECT_EQ(conditioned.text, "\"<1>\" person behind the wheel, \"zwx\" dog beside \"<1>\" person");
  ASSERT_EQ(conditioned.loras.size(), 2u);
  EXPECT_EQ(conditioned.loras[0].name, ada.id);
  EXPECT_EQ(conditioned.loras[0].path, ada.lora_path);
  EXPECT_DOUBLE_EQ(conditioned.loras[0].weight, 1.0);
  EXPECT_EQ(conditioned.loras[0].meta, (nlohmann::json{{"class", "person"}}));
  EXPECT_EQ(conditioned.loras[1].name, rex.id);
  EXPECT_EQ(conditioned.loras[1].meta["class"], "dog");
}

TEST_F(CharactersTest, OtherAngleBracketsAreLeftAlone) {
  const std::string prompt = "a cat <lora:style:0.8>, x < y > z, <>, <<, trailing <";
  const auto conditioned = condition_prompt(prompt, characters, "a");
  EXPECT_EQ(conditioned.text, prompt);
  EXPECT_TRUE(conditioned.loras.empty());
  EXPECT_EQ(condition_prompt("", characters, "a").text, "");
}

TEST_F(CharactersTest, UnknownReferenceIsAnErrorNamingIt) {
  try {
    condition_prompt("a photo of <no-such-character> smiling", characters, "a");
    ADD_FAILURE() << "accepted an unknown character";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-character"), std::string::npos) << e.what();
  }
}

TEST_F(CharactersTest, RecordsSurviveAReopen) {
  const std::string db_path = data_dir + "/db.sqlite";
  std::string id;
  {
    Database file_db(test::test_database(db_path));
    Characters store(file_db, data_dir);
    id = store.create("a", "Ada", "person", "sks", lora).id;
  }
  Database file_db(test::test_database(db_path));
  Characters store(file_db, data_dir);
  const auto got = store.get(id, "a");
  ASSERT_TRUE(got);
  EXPECT_TRUE(fs::exists(got->lora_path));
}

}  // namespace
}  // namespace dd::service
