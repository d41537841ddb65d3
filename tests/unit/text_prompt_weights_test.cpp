// A1111 attention syntax: the parser on the cases A1111 users rely on (nesting, escapes,
// numbers, unbalanced brackets, BREAK), weighted tokenization, and the weighting maths.
#include <gtest/gtest.h>

#include <iomanip>

#include "test_support.h"
#include "text/prompt_weights.h"
#include "util/error.h"

namespace dd::text {
namespace {

using Chunks = std::vector<WeightedChunk>;

}  // namespace

// Readable failure messages: {"text", weight} or BREAK.
void PrintTo(const WeightedChunk& chunk, std::ostream* os) {
  if (chunk.is_break)
    *os << "BREAK";
  else
    *os << "{\"" << chunk.text << "\", " << std::setprecision(17) << chunk.weight << "}";
}

namespace {

WeightedChunk chunk(const std::string& text, double weight) { return {text, weight, false}; }
WeightedChunk break_chunk() { return {"", 1.0, true}; }

// A1111 multiplies weights one bracket at a time; the expectations do the same arithmetic.
const double kUp = 1.0 * 1.1;
const double kDown = 1.0 * (1 / 1.1);

TEST(PromptWeights, PlainTextIsOneUnitChunk) {
  EXPECT_EQ(parse_prompt_weights("a photo of a cat"), Chunks{chunk("a photo of a cat", 1.0)});
  EXPECT_EQ(parse_prompt_weights(""), Chunks{chunk("", 1.0)});
  EXPECT_EQ(parse_prompt_weights("a: b, c"), Chunks{chunk("a: b, c", 1.0)});
}

TEST(PromptWeights, BracketsAndExplicitWeights) {
  EXPECT_EQ(parse_prompt_weights("(word)"), Chunks{chunk("word", kUp)});
  EXPECT_EQ(parse_prompt_weights("[word]"), Chunks{chunk("word", kDown)});
  EXPECT_EQ(parse_prompt_weights("(word:1.3)"), Chunks{chunk("word", 1.3)});
  EXPECT_EQ(parse_prompt_weights("(word: 1.3 )"), Chunks{chunk("word", 1.3)});
  EXPECT_EQ(parse_prompt_weights("(word:.5)"), Chunks{chunk("word", 0.5)});
  EXPECT_EQ(parse_prompt_weights("(word:+2)"), Chunks{chunk("word", 2.0)});
  EXPECT_EQ(parse_prompt_weights("(word:-1)"), Chunks{chunk("word", -1.0)});
  EXPECT_EQ(parse_prompt_weights("(word:0)"), Chunks{chunk("word", 0.0)});
  EXPECT_EQ(parse_prompt_weights("a (b:1.5) c"),
            (Chunks{chunk("a ", 1.0), chunk("b", 1.5), chunk(" c", 1.0)}));
  EXPECT_EQ(parse_prompt_weights("masterpiece, (ultra-detailed:1.2), [blurry]"),
            (Chunks{chunk("masterpiece, ", 1.0), chunk("ultra-detailed", 1.2), chunk(", ", 1.0),
                    chunk("blurry", kDown)}));
}

TEST(PromptWeights, NestingMultiplies) {
  EXPECT_EQ(parse_prompt_weights("((word))"), Chunks{chunk("word", kUp * 1.1)});
  EXPECT_EQ(parse_prompt_weights("(((word)))"), Chunks{chunk("word", kUp * 1.1 * 1.1)});
  EXPECT_EQ(parse_prompt_weights("((word:2))"), Chunks{chunk("word", 2.0 * 1.1)});
  EXPECT_EQ(parse_prompt_weights("([word])"), Chunks{chunk("word", kDown * 1.1)});
  EXPECT_EQ(parse_prompt_weights("(a (b:2) c)"),
            (Chunks{chunk("a ", kUp), chunk("b", 2.0 * 1.1), chunk(" c", kUp)}));
  EXPECT_EQ(parse_prompt_weights("[a [b] (c)]"),
            (Chunks{chunk("a ", kDown), chunk("b", kDown * (1 / 1.1)), chunk(" ", kDown),
                    chunk("c", kUp * (1 / 1.1))}));
}

TEST(PromptWeights, AdjacentEqualWeightsMerge) {
  EXPECT_EQ(parse_prompt_weights("(a)(b)"), Chunks{chunk("ab", kUp)});
  EXPECT_EQ(parse_prompt_weights("(a:1.2) (b:1.2)"),
            (Chunks{chunk("a", 1.2), chunk(" ", 1.0), chunk("b", 1.2)}));
  EXPECT_EQ(parse_prompt_weights("x (a:1) y"), Chunks{chunk("x a y", 1.0)});
}

TEST(PromptWeights, EscapesAreLiteral) {
  EXPECT_EQ(parse_prompt_weights("\\(a\\)"), Chunks{chunk("(a)", 1.0)});
  EXPECT_EQ(parse_prompt_weights("\\[a\\] \\\\"), Chunks{chunk("[a] \\", 1.0)});
  EXPECT_EQ(parse_prompt_weights("(\\(a\\):1.5)"), Chunks{chunk("(a)", 1.5)});
  // A backslash before anything else disappears, as in A1111.
  EXPECT_EQ(parse_prompt_weights("a\\b"), Chunks{chunk("ab", 1.0)});
  EXPECT_EQ(parse_prompt_weights("a\\:1.2)"), Chunks{chunk("a:1.2)", 1.0)});
}

TEST(PromptWeights, UnbalancedBrackets) {
  EXPECT_EQ(parse_prompt_weights("a) b"), Chunks{chunk("a) b", 1.0)});
  EXPECT_EQ(parse_prompt_weights("a] b"), Chunks{chunk("a] b", 1.0)});
  EXPECT_EQ(parse_prompt_weights("(a"), Chunks{chunk("a", kUp)});
  EXPECT_EQ(parse_prompt_weights("[a"), Chunks{chunk("a", kDown)});
  EXPECT_EQ(parse_prompt_weights("x ((a) b"),
            (Chunks{chunk("x ", 1.0), chunk("a", kUp * 1.1), chunk(" b", kUp)}));
  EXPECT_EQ(parse_prompt_weights("(a]"), Chunks{chunk("a]", kUp)});
  EXPECT_EQ(parse_prompt_weights("a:1.2) b"), Chunks{chunk("a:1.2) b", 1.0)});
  EXPECT_EQ(parse_prompt_weights("()"), Chunks{chunk("", 1.0)});
}

TEST(PromptWeights, ColonWithoutNumberIsText) {
  EXPECT_EQ(parse_prompt_weights("(a:b)"), Chunks{chunk("a:b", kUp)});
  EXPECT_EQ(parse_prompt_weights("(a:1e3)"), Chunks{chunk("a:1e3", kUp)});
  EXPECT_EQ(parse_prompt_weights("(<lora:foo:0.8>)"), Chunks{chunk("<lora:foo:0.8>", kUp)});
}

TEST(PromptWeights, MalformedNumbersAreErrors) {
  EXPECT_THROW(parse_prompt_weights("(a:1.2.3)"), dd::Error);
  EXPECT_THROW(parse_prompt_weights("(a:.)"), dd::Error);
  EXPECT_THROW(parse_prompt_weights("(a:" + std::string(400, '9') + ")"), dd::Error);
  EXPECT_THROW(parse_prompt_weights("bad \xFF utf8"), dd::Error);
}

TEST(PromptWeights, BreakKeyword) {
  EXPECT_EQ(parse_prompt_weights("a BREAK b"),
            (Chunks{chunk("a", 1.0), break_chunk(), chunk("b", 1.0)}));
  EXPECT_EQ(parse_prompt_weights("(a BREAK b)"),
            (Chunks{chunk("a", kUp), break_chunk(), chunk("b", kUp)}));
  EXPECT_EQ(parse_prompt_weights("aBREAK break BREAKs"), Chunks{chunk("aBREAK break BREAKs", 1.0)});
}

const ClipTokenizer& tokenizer() {
  static const ClipTokenizer t =
      ClipTokenizer::from_dir(dd::test::shared_dir() + "/tokenizers/clip");
  return t;
}

TEST(TokenizeWeighted, PromptsWithoutSyntaxEqualEncodePadded) {
  DD_REQUIRE_FIXTURES();
  const auto prompts =
      dd::test::fixtures().at("tokenizer").input_value("prompts").get<std::vector<std::string>>();
  int checked = 0;
  for (const std::string& prompt : prompts) {
    if (prompt.find_first_of("()[]\\") != std::string::npos) continue;
    for (const int pad : {tokenizer().eos_id(), 0}) {
      const WeightedTokens weighted = tokenize_weighted(tokenizer(), prompt, pad);
      EXPECT_EQ(weighted.ids, tokenizer().encode_padded(prompt, pad)) << prompt;
      EXPECT_TRUE(weighted.all_weights_one()) << prompt;
      EXPECT_EQ(weighted.n_tokens_untruncated,
                static_cast<int>(tokenizer().encode(prompt).size()) + 2);
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(TokenizeWeighted, WeightsFollowTheirTokens) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const WeightedTokens weighted =
      tokenize_weighted(tokenizer(), "a (red:1.5) [cat] on a mat", tokenizer().eos_id());
  EXPECT_EQ(weighted.ids, tokenizer().encode_padded("a red cat on a mat", tokenizer().eos_id()));
  ASSERT_EQ(weighted.weights.size(), 77u);
  const std::vector<float> expected_head = {1.0f, 1.0f, 1.5f, static_cast<float>(kDown),
                                            1.0f, 1.0f, 1.0f, 1.0f};
  for (size_t i = 0; i < expected_head.size(); ++i)
    EXPECT_FLOAT_EQ(weighted.weights[i], expected_head[i]) << i;
  for (size_t i = expected_head.size(); i < 77; ++i) EXPECT_EQ(weighted.weights[i], 1.0f);
  EXPECT_FALSE(weighted.all_weights_one());
}

TEST(TokenizeWeighted, TruncatesLikeEncodePadded) {
  DD_REQUIRE_CLIP_TOKENIZER();
  std::string words;
  for (int i = 0; i < 100; ++i) words += "cat ";
  const WeightedTokens weighted = tokenize_weighted(tokenizer(), "(" + words + ":1.2)", 0, 10);
  EXPECT_EQ(weighted.ids, tokenizer().encode_padded(words, 0, 10));
  EXPECT_EQ(weighted.n_tokens_untruncated, 102);
  ASSERT_EQ(weighted.weights.size(), 10u);
  EXPECT_EQ(weighted.weights.front(), 1.0f);
  EXPECT_EQ(weighted.weights.back(), 1.0f);  // EOS
  for (size_t i = 1; i + 1 < 10; ++i) EXPECT_FLOAT_EQ(weighted.weights[i], 1.2f);
}

TEST(TokenizeWeighted, BreakIsDropped) {
  DD_REQUIRE_CLIP_TOKENIZER();
  const WeightedTokens weighted = tokenize_weighted(tokenizer(), "castle BREAK red sky", 0);
  EXPECT_EQ(weighted.ids, tokenizer().encode_padded("castle red sky", 0));
}

TEST(ApplyTokenWeights, UnitWeightsReturnTheInputUntouched) {
  const torch::Tensor hidden = torch::randn({2, 5, 3});
  const torch::Tensor out = apply_token_weights(hidden, torch::ones({2, 5}));
  EXPECT_TRUE(out.is_same(hidden));
}

TEST(ApplyTokenWeights, ScalesTokensThenRestoresTheMean) {
  // hidden rows: [1, 2], [3, 4], [5, 6]; weights 1, 2, 1.
  const torch::Tensor hidden = torch::arange(1, 7, torch::kFloat).reshape({1, 3, 2});
  const torch::Tensor weights = torch::tensor({1.0f, 2.0f, 1.0f}).reshape({1, 3});
  const torch::Tensor out = apply_token_weights(hidden, weights);
  // original mean 21/6; weighted [1,2,6,8,5,6] has mean 28/6; factor 21/28 = 0.75.
  const torch::Tensor expected =
      torch::tensor({0.75f, 1.5f, 4.5f, 6.0f, 3.75f, 4.5f}).reshape({1, 3, 2});
  EXPECT_TRUE(torch::allclose(out, expected, 0, 1e-6)) << out;
  EXPECT_NEAR(out.mean().item<double>(), hidden.mean().item<double>(), 1e-6);
}

TEST(ApplyTokenWeights, MeanIsTakenOverTheWholeBatch) {
  torch::manual_seed(0);
  const torch::Tensor hidden = torch::randn({2, 77, 8}) + 0.5;
  torch::Tensor weights = torch::ones({2, 77});
  weights.index_put_({0, 3}, 1.5);
  weights.index_put_({1, 10}, 0.5);
  const torch::Tensor out = apply_token_weights(hidden, weights);
  EXPECT_NEAR(out.mean().item<double>(), hidden.mean().item<double>(), 1e-5);
  const double factor =
      hidden.mean().item<double>() / (hidden * weights.unsqueeze(-1)).mean().item<double>();
  EXPECT_TRUE(torch::allclose(out[0][3], hidden[0][3] * 1.5 * factor, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out[1][0], hidden[1][0] * factor, 1e-5, 1e-6));
}

TEST(ApplyTokenWeights, KeepsDtypeAndHandlesZeroMean) {
  const torch::Tensor hidden = torch::ones({1, 2, 2}, torch::kBFloat16);
  const torch::Tensor out = apply_token_weights(hidden, torch::tensor({{2.0f, 1.0f}}));
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  const torch::Tensor zeroed = apply_token_weights(torch::ones({1, 2, 2}), torch::zeros({1, 2}));
  EXPECT_TRUE(torch::isfinite(zeroed).all().item<bool>());
  EXPECT_EQ(zeroed.abs().sum().item<float>(), 0.0f);
}

TEST(ApplyTokenWeights, RejectsBadShapesAndValues) {
  EXPECT_THROW(apply_token_weights(torch::ones({2, 3}), torch::ones({2, 3})), dd::Error);
  EXPECT_THROW(apply_token_weights(torch::ones({2, 3, 4}), torch::ones({2, 4})), dd::Error);
  EXPECT_THROW(apply_token_weights(torch::ones({2, 3, 4}), torch::ones({1, 3})), dd::Error);
  EXPECT_THROW(apply_token_weights(torch::ones({1, 3, 4}, torch::kLong), torch::ones({1, 3})),
               dd::Error);
  torch::Tensor nan_weights = torch::ones({1, 3});
  nan_weights.index_put_({0, 1}, NAN);
  EXPECT_THROW(apply_token_weights(torch::ones({1, 3, 4}), nan_weights), dd::Error);
}

}  // namespace
}  // namespace dd::text
