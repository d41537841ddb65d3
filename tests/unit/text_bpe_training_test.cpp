// BPE training: a vocabulary built from the scene captions, written as a tokenizer folder and
// read back by ClipTokenizer, plus the pieces of CLIP's format it has to match.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scenes/caption.h"
#include "test_support.h"
#include "text/bpe_training.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"

namespace dd::text {
namespace {

// Word counts over captions of many scenes, plus every vocabulary word once so that synonyms
// no sampled caption used still become tokens.
std::map<std::string, int64_t> caption_word_counts() {
  std::map<std::string, int64_t> counts;
  for (const auto& word : scenes::caption_vocabulary()) ++counts[word];
  for (uint64_t seed = 0; seed < 500; ++seed) {
    std::istringstream words(scenes::caption(scenes::sample_scene(seed), seed));
    for (std::string word; words >> word;) ++counts[word];
  }
  return counts;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class BpeTrainingFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dd_bpe_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(BpeTrainingFiles, EveryCaptionWordIsOneTokenOfTheWrittenTokenizer) {
  const BpeVocabulary vocabulary = train_bpe(caption_word_counts());
  write_clip_tokenizer_files(vocabulary, dir_.string());
  const ClipTokenizer tokenizer = ClipTokenizer::from_dir(dir_.string());

  EXPECT_EQ(tokenizer.vocab_size(), vocabulary.tokens.size());
  EXPECT_LT(tokenizer.vocab_size(), 1000u);
  EXPECT_EQ(tokenizer.bos_id(), static_cast<int>(vocabulary.tokens.size()) - 2);
  EXPECT_EQ(tokenizer.eos_id(), static_cast<int>(vocabulary.tokens.size()) - 1);
  for (const auto& word : scenes::caption_vocabulary()) {
    const std::vector<int> ids = tokenizer.encode(word);
    ASSERT_EQ(ids.size(), 1u) << word;
    EXPECT_EQ(vocabulary.tokens[ids[0]], word + "</w>");
  }
  const std::string sentence = scenes::caption(scenes::sample_scene(7), 7);
  EXPECT_EQ(tokenizer.encode(sentence).size(),
            static_cast<size_t>(std::count(sentence.begin(), sentence.end(), ' ') + 1))
      << sentence;

  // A word the captions never use still encodes, to smaller pieces down to byte symbols.
  const std::vector<int> zebra = tokenizer.encode("zebra");
  EXPECT_GT(zebra.size(), 1u);
  std::string spelled;
  for (int id : zebra) spelled += vocabulary.tokens[id];
  EXPECT_EQ(spelled, "zebra</w>");
  EXPECT_EQ(tokenizer.encode_padded("zebra", tokenizer.eos_id()).size(), 77u);
}

TEST_F(BpeTrainingFiles, SameCountsGiveIdenticalFiles) {
  const auto counts = caption_word_counts();
  write_clip_tokenizer_files(train_bpe(counts), (dir_ / "a").string());
  write_clip_tokenizer_files(train_bpe(counts), (dir_ / "b").string());
  for (const char* name :
       {"vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"}) {
    const std::string a = read_file(dir_ / "a" / name);
    EXPECT_FALSE(a.empty()) << name;
    EXPECT_EQ(a, read_file(dir_ / "b" / name)) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a" / "vocab.json.tmp"));
}

TEST_F(BpeTrainingFiles, WritesClipsFileFormats) {
  write_clip_tokenizer_files(train_bpe({{"red", 1}}), dir_.string());
  // "r e d</w>": both pairs occur once, and "e" sorts before "r".
  EXPECT_EQ(read_file(dir_ / "merges.txt"), "#version: 0.2\ne d</w>\nr ed</w>\n");
  const auto vocab = nlohmann::json::parse(read_file(dir_ / "vocab.json"));
  EXPECT_EQ(vocab.size(), 516u);
  EXPECT_EQ(vocab.at("ed</w>"), 512);
  EXPECT_EQ(vocab.at("red</w>"), 513);
  EXPECT_EQ(vocab.at("<|startoftext|>"), 514);
  EXPECT_EQ(vocab.at("<|endoftext|>"), 515);
  const auto config = nlohmann::json::parse(read_file(dir_ / "tokenizer_config.json"));
  EXPECT_EQ(config.at("tokenizer_class"), "CLIPTokenizer");
  EXPECT_EQ(config.at("model_max_length"), 77);
  EXPECT_EQ(config.at("pad_token"), "<|endoftext|>");
  const auto special = nlohmann::json::parse(read_file(dir_ / "special_tokens_map.json"));
  EXPECT_EQ(special.at("pad_token"), "<|endoftext|>");
  EXPECT_EQ(special.at("bos_token").at("content"), "<|startoftext|>");
}

TEST(BpeTraining, ByteSymbolsTakeClipsFirst512Ids) {
  const std::string path = dd::test::shared_dir() + "/tokenizers/clip/vocab.json";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "no CLIP vocabulary at " << path;
  const auto clip = nlohmann::json::parse(in);
  const BpeVocabulary vocabulary = train_bpe({{"ab", 1}});
  for (int id = 0; id < 512; ++id)
    EXPECT_EQ(clip.at(vocabulary.tokens[id]), id) << vocabulary.tokens[id];
}

// Sennrich et al.'s example with CLIP's end-of-word symbols: "e s" and "s t</w>" both occur
// 6 + 3 times; the tie goes to the smaller text.
TEST(BpeTraining, MergesTheMostFrequentPairFirst) {
  const BpeVocabulary vocabulary =
      train_bpe({{"low", 5}, {"lower", 2}, {"newest", 6}, {"widest", 3}});
  ASSERT_GE(vocabulary.merges.size(), 3u);
  using Merge = std::pair<std::string, std::string>;
  EXPECT_EQ(vocabulary.merges[0], Merge("e", "s"));
  EXPECT_EQ(vocabulary.merges[1], Merge("es", "t</w>"));
  EXPECT_EQ(vocabulary.merges[2], Merge("l", "o"));
  EXPECT_EQ(vocabulary.tokens[512], "es");
}

TEST(BpeTraining, RejectsWhatItCannotTrainOn) {
  EXPECT_THROW(train_bpe({{"", 1}}), dd::Error);
  EXPECT_THROW(train_bpe({{"red", 0}}), dd::Error);
  EXPECT_THROW(train_bpe({}), dd::Error);
  EXPECT_THROW(train_bpe({{"a", 3}}), dd::Error);  // nothing to merge
}

TEST_F(BpeTrainingFiles, WriteFailuresAreErrors) {
  const BpeVocabulary vocabulary = train_bpe({{"red", 1}});
  std::ofstream(dir_ / "file") << "x";
  EXPECT_THROW(write_clip_tokenizer_files(vocabulary, (dir_ / "file" / "tokenizer").string()),
               dd::Error);
  BpeVocabulary repeated = vocabulary;
  repeated.tokens.push_back("red</w>");
  EXPECT_THROW(write_clip_tokenizer_files(repeated, (dir_ / "repeated").string()), dd::Error);
  BpeVocabulary no_specials = vocabulary;
  no_specials.tokens.resize(no_specials.tokens.size() - 2);
  EXPECT_THROW(write_clip_tokenizer_files(no_specials, (dir_ / "no_specials").string()), dd::Error);
}

}  // namespace
}  // namespace dd::text
