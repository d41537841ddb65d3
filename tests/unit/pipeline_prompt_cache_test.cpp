// The text-embedding cache: a repeated prompt skips the encoders and gives the same tensors; a
// LoRA that changes the text encoders is never answered from entries made without it (and the
// other way round); the cache forgets the least recently used entries.
#include <gtest/gtest.h>

#include "io/fixtures.h"
#include "pipeline/lora.h"
#include "pipeline/text_conditioning.h"
#include "pipeline_test_models.h"
#include "test_support.h"

namespace dd::pipeline {
namespace {

TEST(PromptCache, RepeatedPromptIsAHitWithIdenticalEmbeddings) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sdxl_tiny();
  const PromptOptions options;
  const std::string prompt = "a prompt only this test uses";
  const auto first = encode_prompt(model, prompt, options);
  const size_t hits = model.prompt_cache.hits();
  const auto second = encode_prompt(model, prompt, options);
  EXPECT_EQ(model.prompt_cache.hits(), hits + 1);
  EXPECT_TRUE(torch::equal(first.context, second.context));
  EXPECT_TRUE(torch::equal(first.pooled, second.pooled));

  // Options are part of the key.
  PromptOptions skip = options;
  skip.clip_skip = 2;
  EXPECT_FALSE(torch::equal(first.context, encode_prompt(model, prompt, skip).context));
}

TEST(PromptCache, TextEncoderLorasKeepTheirOwnEntries) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  const PromptOptions options;
  const std::string prompt = "a cached prompt under a LoRA";
  const auto plain = encode_prompt(model, prompt, options);
  torch::Tensor with_lora;
  {
    ScopedLoras loras(model,
                      {{test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors"), 0.8}});
    with_lora = encode_prompt(model, prompt, options).context;
    EXPECT_GT((with_lora - plain.context).abs().max().item<double>(), 1e-4)
        << "answered from the entry made without the LoRA";
  }
  EXPECT_TRUE(torch::equal(encode_prompt(model, prompt, options).context, plain.context));
  {
    ScopedLoras loras(model,
                      {{test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors"), 0.4}});
    EXPECT_FALSE(torch::equal(encode_prompt(model, prompt, options).context, with_lora))
        << "another weight is another LoRA";
  }
}

TEST(PromptCache, ForgetsTheLeastRecentlyUsed) {
  PromptCache cache(2);
  const Conditioning value{torch::ones({1}), torch::Tensor()};
  cache.insert("a", value);
  cache.insert("b", value);
  ASSERT_TRUE(cache.find("a"));  // a is now the most recent
  cache.insert("c", value);
  EXPECT_TRUE(cache.find("a"));
  EXPECT_FALSE(cache.find("b"));
  EXPECT_TRUE(cache.find("c"));
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 1u);
}

}  // namespace
}  // namespace dd::pipeline
