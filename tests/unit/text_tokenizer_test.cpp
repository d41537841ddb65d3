// The CLIP tokenizer against the reference ids of the `tokenizer` fixture case (transformers'
// CLIPTokenizer with ftfy), and its handling of missing or corrupt vocabulary files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"

namespace dd::text {
namespace {

std::string clip_dir() { return dd::test::shared_dir() + "/tokenizers/clip"; }

const ClipTokenizer& shared_tokenizer() {
  static const ClipTokenizer tokenizer = ClipTokenizer::from_dir(clip_dir());
  return tokenizer;
}

std::vector<int64_t> row(const torch::Tensor& ids, int64_t index) {
  const torch::Tensor r = ids[index].to(torch::kInt64).contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

std::vector<std::string> fixture_prompts(const io::FixtureCase& c) {
  return c.input_value("prompts").get<std::vector<std::string>>();
}

TEST(ClipTokenizer, MatchesReferenceIdsPaddedWithEos) {
  DD_REQUIRE_FIXTURES();
  const auto& c = dd::test::fixtures().at("tokenizer");
  const auto prompts = fixture_prompts(c);
  const torch::Tensor expected = c.expected("ids_pad_eos");
  ASSERT_EQ(expected.size(0), static_cast<int64_t>(prompts.size()));
  const ClipTokenizer& tokenizer = shared_tokenizer();
  const int pad = tokenizer.eos_id();
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(tokenizer.encode_padded(prompts[i], pad, expected.size(1)), row(expected, i))
        << "prompt " << i << ": " << prompts[i];
}

TEST(ClipTokenizer, MatchesReferenceIdsOfSdxlTokenizer2) {
  DD_REQUIRE_FIXTURES();
  const auto& c = dd::test::fixtures().at("tokenizer");
  const auto prompts = fixture_prompts(c);
  const torch::Tensor expected = c.expected("ids_pad_zero");
  const ClipTokenizer tokenizer_2 = shared_tokenizer().with_special_token("!");
  const int pad = tokenizer_2.token_id("!");
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(tokenizer_2.encode_padded(prompts[i], pad, expected.size(1)), row(expected, i))
        << "prompt " << i << ": " << prompts[i];
}

TEST(ClipTokenizer, OpenClipStyleTokenizer2IsPlainTokenizerPaddedWithZero) {
  DD_REQUIRE_FIXTURES();
  const auto& c = dd::test::fixtures().at("tokenizer");
  const auto prompts = fixture_prompts(c);
  const torch::Tensor expected = c.debug("ids_pad_zero_openclip_style");
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(shared_tokenizer().encode_padded(prompts[i], 0, expected.size(1)), row(expected, i))
        << "prompt " << i << ": " << prompts[i];
}

TEST(ClipTokenizer, CountsUntruncatedTokens) {
  DD_REQUIRE_FIXTURES();
  const auto& c = dd::test::fixtures().at("tokenizer");
  const auto prompts = fixture_prompts(c);
  const torch::Tensor counts = c.expected("n_tokens_untruncated").to(torch::kInt64);
  const auto& details = c.spec().at("prompt_details");
  ASSERT_EQ(details.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t n = static_cast<int64_t>(shared_tokenizer().encode(prompts[i]).size()) + 2;
    EXPECT_EQ(n, counts[i].item<int64_t>()) << "prompt " << i << ": " << prompts[i];
    EXPECT_EQ(n, details[i].at("n_tokens_untruncated").get<int64_t>());
    EXPECT_EQ(n > ClipTokenizer::kContextLength, details[i].at("truncated").get<bool>());
  }
}

TEST(ClipTokenizer, FramesWithBosEosAndTruncates) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const ClipTokenizer& tokenizer = shared_tokenizer();
  EXPECT_EQ(tokenizer.bos_id(), tokenizer.token_id("<|startoftext|>"));
  EXPECT_EQ(tokenizer.eos_id(), tokenizer.token_id("<|endoftext|>"));
  const std::vector<int> ids = tokenizer.encode("a photograph of an astronaut");
  const auto padded = tokenizer.encode_padded("a photograph of an astronaut", 7, 10);
  ASSERT_EQ(padded.size(), 10u);
  EXPECT_EQ(padded.front(), tokenizer.bos_id());
  EXPECT_EQ(padded[ids.size() + 1], tokenizer.eos_id());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(padded[i + 1], ids[i]);
  for (size_t i = ids.size() + 2; i < padded.size(); ++i) EXPECT_EQ(padded[i], 7);

  const auto truncated = tokenizer.encode_padded("a photograph of an astronaut", 7, 4);
  EXPECT_EQ(truncated,
            (std::vector<int64_t>{tokenizer.bos_id(), ids[0], ids[1], tokenizer.eos_id()}));
  EXPECT_THROW(tokenizer.encode_padded("a", 7, 1), dd::Error);
  EXPECT_THROW(tokenizer.encode_padded("a", -1), dd::Error);
  EXPECT_THROW(tokenizer.encode_padded("a", 49408), dd::Error);
}

TEST(ClipTokenizer, CleansTextLikeFtfy) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const ClipTokenizer& tokenizer = shared_tokenizer();
  EXPECT_EQ(tokenizer.encode("Tom &amp;amp; Jerry"), tokenizer.encode("tom & jerry"));
  EXPECT_EQ(tokenizer.encode("&EACUTE;t&eacute; &#x2019;s"), tokenizer.encode("été 's"));
  EXPECT_EQ(tokenizer.encode("<b> &amp;"), tokenizer.encode("<b> & amp ;"));  // HTML: kept
  EXPECT_EQ(tokenizer.encode("cafÃ© â€œokâ€\xC2\x9d"), tokenizer.encode("café \"ok\""));
  EXPECT_EQ(tokenizer.encode("ﬁne ｗｉｄｅ\xE3\x80\x80ok"), tokenizer.encode("fine wide ok"));
  EXPECT_EQ(tokenizer.encode("\x1b[31mred\x1b[0m\x01"), tokenizer.encode("red"));
  EXPECT_EQ(tokenizer.encode("line\r\nbreak\xE2\x80\xA8x"), tokenizer.encode("line break x"));
  EXPECT_EQ(tokenizer.encode("Cafe\xCC\x81"), tokenizer.encode("café"));  // NFC
}

TEST(ClipTokenizer, SplitsSpecialTokensAndExclamationForTokenizer2) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const ClipTokenizer& tokenizer = shared_tokenizer();
  const ClipTokenizer tokenizer_2 = tokenizer.with_special_token("!");
  const int bang = tokenizer.token_id("!");
  const std::vector<int> gogh = tokenizer.encode("gogh");
  std::vector<int> expected = gogh;
  expected.insert(expected.end(), {bang, bang, bang});
  EXPECT_EQ(tokenizer_2.encode("Gogh!!!"), expected);
  EXPECT_NE(tokenizer.encode("Gogh!!!"), expected);
  EXPECT_EQ(tokenizer.encode("x<|endoftext|>y").at(1), tokenizer.eos_id());
  EXPECT_EQ(tokenizer.encode("<|ENDOFTEXT|>"), std::vector<int>{tokenizer.eos_id()});
  EXPECT_THROW(tokenizer.with_special_token(""), dd::Error);
  EXPECT_THROW(tokenizer.with_special_token("not-a-token"), dd::Error);
}

TEST(ClipTokenizer, RejectsInvalidUtf8) {
  DD_REQUIRE_CLIP_TOKENIZER();
  EXPECT_THROW(shared_tokenizer().encode("bad \xC3\x28 byte"), dd::Error);
  EXPECT_THROW(shared_tokenizer().encode("\xFF"), dd::Error);
  EXPECT_TRUE(shared_tokenizer().encode("").empty());
}

// A scratch directory holding a tiny, hand-made vocabulary.
class TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dd_text_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  static std::string read_shared(const std::string& name) {
    std::ifstream in(clip_dir() + "/" + name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string expect_error(const std::string& vocab, const std::string& merges) {
    try {
      ClipTokenizer::from_files(vocab, merges);
    } catch (const dd::Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no dd::Error for " << vocab << " / " << merges;
    return "";
  }
  std::filesystem::path dir_;
};

TEST_F(TokenizerFiles, MissingFilesNameThePath) {
  const std::string missing_dir = (dir_ / "nowhere").string();
  try {
    ClipTokenizer::from_dir(missing_dir);
    FAIL() << "expected dd::Error";
  } catch (const dd::Error& e) {
    EXPECT_EQ(std::string(e.what()), "tokenizer: " + missing_dir + "/vocab.json: cannot open");
  }
  DD_REQUIRE_CLIP_TOKENIZER();  // the rest needs a valid vocabulary
  const std::string vocab = write("vocab.json", read_shared("vocab.json"));
  EXPECT_NE(expect_error(vocab, (dir_ / "merges.txt").string()).find("merges.txt: cannot open"),
            std::string::npos);
}

TEST_F(TokenizerFiles, CorruptVocabularies) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const std::string merges = write("merges.txt", read_shared("merges.txt"));
  EXPECT_NE(expect_error(write("v1.json", "{\"a\": 1"), merges).find("v1.json: invalid JSON"),
            std::string::npos);
  EXPECT_NE(
      expect_error(write("v2.json", "[1, 2]"), merges).find("v2.json: expected a JSON object"),
      std::string::npos);
  EXPECT_NE(expect_error(write("v3.json", "{\"a\": \"x\"}"), merges).find("invalid id"),
            std::string::npos);
  EXPECT_NE(expect_error(write("v4.json", "{\"a\": -3}"), merges).find("invalid id"),
            std::string::npos);
  EXPECT_NE(expect_error(write("v5.json", "{\"a\": 1}"), merges).find("byte symbol"),
            std::string::npos);
}

TEST_F(TokenizerFiles, CorruptMerges) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const std::string vocab = write("vocab.json", read_shared("vocab.json"));
  EXPECT_NE(expect_error(vocab, write("m1.txt", "#version: 0.2\ni n\nthree parts here\n"))
                .find("m1.txt: line 3: expected two symbols"),
            std::string::npos);
  EXPECT_NE(expect_error(vocab, write("m2.txt", "#version: 0.2\nqqqq zzzz\n"))
                .find("m2.txt: line 2: 'qqqq' is not in the vocabulary"),
            std::string::npos);
  EXPECT_NE(expect_error(vocab, write("m3.txt", "#version: 0.2\n")).find("no merges"),
            std::string::npos);
}

}  // namespace
}  // namespace dd::text
