// The T5 tokenizer against the reference ids of the FLUX `tokenizer_t5` fixture case
// (transformers' slow T5Tokenizer, legacy=True), and its handling of bad model files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "error_of.h"
#include "test_support.h"
#include "text/t5_tokenizer.h"
#include "util/error.h"

namespace dd::text {
namespace {

namespace fs = std::filesystem;

const io::FixtureCase& t5_case() { return dd::test::flux_fixtures().at("tokenizer_t5"); }

// The tokenizer folder the case names (its model's component directory).
std::string t5_dir() {
  const io::FixtureCase& c = t5_case();
  return dd::test::flux_fixtures().model_path(c.model(), "diffusers_dir") + "/" +
         c.spec().at("component").get<std::string>();
}

const T5Tokenizer& shared_tokenizer() {
  static const T5Tokenizer tokenizer(t5_dir());
  return tokenizer;
}

std::vector<std::string> fixture_prompts() {
  return t5_case().input_value("prompts").get<std::vector<std::string>>();
}

int fixture_max_length() { return t5_case().input_value("max_sequence_length").get<int>(); }

std::vector<int64_t> row(const torch::Tensor& ids, int64_t index) {
  const torch::Tensor r = ids[index].to(torch::kInt64).contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

// Every prompt of the case through `tokenizer`, checked against the reference ids and counts.
void expect_reference_ids(const T5Tokenizer& tokenizer) {
  const auto prompts = fixture_prompts();
  const int max_length = fixture_max_length();
  const torch::Tensor expected = t5_case().expected("ids");
  const torch::Tensor counts = t5_case().expected("n_tokens_untruncated");
  ASSERT_EQ(expected.size(0), static_cast<int64_t>(prompts.size()));
  ASSERT_EQ(expected.size(1), max_length);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(tokenizer.encode_padded(prompts[i], max_length), row(expected, i))
        << "prompt " << i << ": " << prompts[i];
    EXPECT_EQ(static_cast<int64_t>(tokenizer.encode(prompts[i]).size()), counts[i].item<int64_t>())
        << "prompt " << i << ": " << prompts[i];
  }
}

TEST(T5Tokenizer, MatchesReferenceIdsAndUntruncatedCounts) {
  DD_REQUIRE_FLUX_FIXTURES();
  expect_reference_ids(shared_tokenizer());
}

TEST(T5Tokenizer, SpecialTokenPromptsDifferFromPlainSentencePieceAsInReference) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto prompts = fixture_prompts();
  const torch::Tensor plain = t5_case().debug("ids_plain_sentencepiece");
  const auto& details = t5_case().spec().at("prompt_details");
  int special_prompts = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const bool same = details.at(i).at("same_as_plain_sentencepiece").get<bool>();
    special_prompts += same ? 0 : 1;
    EXPECT_EQ(shared_tokenizer().encode_padded(prompts[i], fixture_max_length()) == row(plain, i),
              same)
        << "prompt " << i << ": " << prompts[i];
  }
  EXPECT_GT(special_prompts, 0) << "the case should hold a prompt with literal special tokens";
}

TEST(T5Tokenizer, SpecialIdsAndSentinelsFollowThePieces) {
  DD_REQUIRE_FLUX_FIXTURES();
  const T5Tokenizer& t = shared_tokenizer();
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_EQ(t.unk_id(), 2);
  // The largest reference id is the first sentinel, the last id of the vocabulary.
  EXPECT_EQ(t.vocab_size() - 1, t5_case().expected("ids").max().item<int64_t>());
  const int64_t last = t.vocab_size() - 1;
  EXPECT_EQ(t.encode("<extra_id_0>"), (std::vector<int64_t>{last, t.eos_id()}));
  EXPECT_EQ(t.encode("<extra_id_99>"), (std::vector<int64_t>{last - 99, t.eos_id()}));
  // Longest match: <extra_id_12> is not <extra_id_1> followed by "2>".
  EXPECT_EQ(t.encode("<extra_id_12>"), (std::vector<int64_t>{last - 12, t.eos_id()}));
  EXPECT_EQ(t.encode("<pad><unk></s>"), (std::vector<int64_t>{0, 2, 1}));
}

TEST(T5Tokenizer, LiteralEosAtTheEndIsNotDoubled) {
  DD_REQUIRE_FLUX_FIXTURES();
  const T5Tokenizer& t = shared_tokenizer();
  std::vector<int64_t> plain = t.encode("a");
  std::vector<int64_t> literal = t.encode("a </s>");
  EXPECT_EQ(literal, plain);
  // After truncation too: the kept tokens end with the literal EOS, then only padding follows.
  const std::vector<int64_t> padded = t.encode_padded("a </s> a a a", 3);
  EXPECT_EQ(padded, (std::vector<int64_t>{plain[0], t.eos_id(), t.pad_id()}));
}

TEST(T5Tokenizer, SentinelsEatSurroundingWhitespaceOthersLeaveItToSentencePiece) {
  DD_REQUIRE_FLUX_FIXTURES();
  const T5Tokenizer& t = shared_tokenizer();
  EXPECT_EQ(t.encode("a <extra_id_3>\t a"), t.encode("a<extra_id_3>a"));
  // Each text piece is its own SentencePiece call, so each gets the dummy prefix.
  const int64_t a = t.encode("a").at(0);
  EXPECT_EQ(t.encode("a</s>a"), (std::vector<int64_t>{a, t.eos_id(), a, t.eos_id()}));
  EXPECT_EQ(t.encode("a</s>a"), t.encode("a </s> a"));
}

TEST(T5Tokenizer, TruncationKeepsEosAndPaddingFillsTheRest) {
  DD_REQUIRE_FLUX_FIXTURES();
  const T5Tokenizer& t = shared_tokenizer();
  const std::vector<int64_t> full = t.encode("a photograph of an astronaut");
  ASSERT_GT(full.size(), 4u);
  const std::vector<int64_t> cut = t.encode_padded("a photograph of an astronaut", 4);
  EXPECT_EQ(cut, (std::vector<int64_t>{full[0], full[1], full[2], t.eos_id()}));
  const std::vector<int64_t> one = t.encode_padded("a photograph", 1);
  EXPECT_EQ(one, (std::vector<int64_t>{t.eos_id()}));
  const std::vector<int64_t> long_pad = t.encode_padded("", 5);
  EXPECT_EQ(long_pad, (std::vector<int64_t>{t.eos_id(), 0, 0, 0, 0}));
}

TEST(T5Tokenizer, RejectsBadInput) {
  DD_REQUIRE_FLUX_FIXTURES();
  const T5Tokenizer& t = shared_tokenizer();
  EXPECT_THROW(t.encode_padded("a", 0), dd::Error);
  EXPECT_THROW(t.encode("bad \xC3\x28 byte"), dd::Error);
}

// A scratch directory per test.
class T5TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dd_t5_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  fs::path dir_;
};

TEST_F(T5TokenizerFiles, MissingModelNamesTheFile) {
  const std::string message = dd::test::error_of([&] { T5Tokenizer t(dir_.string()); });
  EXPECT_NE(message.find((dir_ / "spiece.model").string()), std::string::npos) << message;
}

TEST_F(T5TokenizerFiles, CorruptModelNamesTheFile) {
  const std::string path = write("spiece.model", "this is not a protobuf \xff\xff\xff\xff");
  const std::string message = dd::test::error_of([&] { T5Tokenizer t(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST_F(T5TokenizerFiles, EmptyModelIsAnError) {
  const std::string path = write("spiece.model", "");
  const std::string message = dd::test::error_of([&] { T5Tokenizer t(dir_.string()); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST_F(T5TokenizerFiles, ModelWithoutConfigUsesT5Defaults) {
  DD_REQUIRE_FLUX_FIXTURES();
  fs::copy_file(t5_dir() + "/spiece.model", dir_ / "spiece.model");
  const T5Tokenizer t((dir_ / "spiece.model").string());
  EXPECT_EQ(t.vocab_size(), shared_tokenizer().vocab_size());
  expect_reference_ids(t);
}

TEST_F(T5TokenizerFiles, BadConfigNamesTheFile) {
  DD_REQUIRE_FLUX_FIXTURES();
  fs::copy_file(t5_dir() + "/spiece.model", dir_ / "spiece.model");
  const std::string config = write("tokenizer_config.json", "{ not json");
  std::string message = dd::test::error_of([&] { T5Tokenizer t(dir_.string()); });
  EXPECT_NE(message.find(config), std::string::npos) << message;
  write("tokenizer_config.json", R"({"legacy": false})");
  message = dd::test::error_of([&] { T5Tokenizer t(dir_.string()); });
  EXPECT_NE(message.find("legacy"), std::string::npos) << message;
}

}  // namespace
}  // namespace dd::text
