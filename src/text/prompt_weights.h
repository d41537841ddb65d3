#pragma once
// AUTOMATIC1111's prompt attention syntax ("emphasis"), parsed and applied as A1111 does with
// its default "Original" emphasis mode:
//   (text)        weight x1.1            [text]      weight /1.1
//   (text:1.3)    weight x1.3 (any [+-]?[.0-9]+ number, spaces allowed around it)
//   nesting multiplies: ((a)) = 1.21, ([a]) = 1.0, ((a:2)) = 2.2
//   \( \) \[ \] \\  literal characters; a backslash before anything else is dropped
//   an unmatched ')' or ']' is literal text; a '(' or '[' left open applies x1.1 or /1.1 to
//   everything after it; ':' outside a "(text:number)" is literal text
//   BREAK (upper case, a word of its own) is reported as a break chunk
// The weighted embedding is A1111's: each token's hidden state times its weight, then the
// whole tensor rescaled so that its mean is the mean before weighting.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "text/clip_tokenizer.h"

namespace dd::text {

struct WeightedChunk {
  std::string text;
  double weight = 1.0;
  bool is_break = false;  // a BREAK keyword (text empty, weight 1)

  bool operator==(const WeightedChunk& other) const {
    return text == other.text && weight == other.weight && is_break == other.is_break;
  }
};

// The prompt as chunks of text with their weights; adjacent chunks of equal weight are merged
// (a prompt without syntax gives one chunk of weight 1; an empty prompt gives {"", 1}).
// Throws dd::Error for a weight that is not a finite number, e.g. "(a:1.2.3)" or "(a:.)".
std::vector<WeightedChunk> parse_prompt_weights(const std::string& prompt);

struct WeightedTokens {
  std::vector<int64_t> ids;      // [BOS] + the first length-2 tokens + [EOS] + padding
  std::vector<float> weights;    // one per id; 1 for BOS, EOS and padding
  int n_tokens_untruncated = 0;  // tokens incl. BOS and EOS before truncation

  bool all_weights_one() const;
};

// Tokenizes each chunk on its own (as A1111 does) and frames the result like
// ClipTokenizer::encode_padded. A prompt without weight syntax gives exactly
// encode_padded(prompt, pad_id, length) with all weights 1. BREAK chunks are dropped: with a
// single 77-token window there is no next chunk for them to start, so the text around them
// is kept together instead of cutting what follows.
WeightedTokens tokenize_weighted(const ClipTokenizer& tokenizer, const std::string& prompt,
                                 int pad_id, int length = ClipTokenizer::kContextLength);

// hidden [B, T, H] (encoder output used as context), weights [B, T]: returns
// hidden * weights[..., None] rescaled by mean(hidden) / mean(weighted), the means taken over
// the whole tensor (all batch rows) in float32 (float64 for float64 input), result in
// hidden's dtype. When every weight is exactly 1 the input is returned untouched, so
// unweighted prompts stay bit-identical; when the weighted mean is 0 no rescaling is done.
// Throws dd::Error for mismatched shapes or non-finite weights.
torch::Tensor apply_token_weights(const torch::Tensor& hidden, const torch::Tensor& weights);

}  // namespace dd::text
