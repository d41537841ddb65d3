// Weighted prompts to token ids + per-token weights, and the weights applied to an encoder
// output (declared in prompt_weights.h).
#include <algorithm>

#include "text/prompt_weights.h"
#include "util/error.h"

namespace dd::text {

bool WeightedTokens::all_weights_one() const {
  for (float w : weights)
    if (w != 1.0f) return false;
  return true;
}

WeightedTokens tokenize_weighted(const ClipTokenizer& tokenizer, const std::string& prompt,
                                 int pad_id, int length) {
  std::vector<int> ids;
  std::vector<float> token_weights;
  for (const WeightedChunk& chunk : parse_prompt_weights(prompt)) {
    if (chunk.is_break) continue;
    const std::vector<int> chunk_ids = tokenizer.encode(chunk.text);
    ids.insert(ids.end(), chunk_ids.begin(), chunk_ids.end());
    token_weights.insert(token_weights.end(), chunk_ids.size(), static_cast<float>(chunk.weight));
  }
  WeightedTokens result;
  result.ids = tokenizer.frame(ids, pad_id, length);
  result.n_tokens_untruncated = static_cast<int>(ids.size()) + 2;
  // BOS, the kept tokens, then EOS and padding at weight 1.
  result.weights.assign(static_cast<size_t>(length), 1.0f);
  const size_t kept = std::min(token_weights.size(), static_cast<size_t>(length - 2));
  std::copy(token_weights.begin(), token_weights.begin() + kept, result.weights.begin() + 1);
  return result;
}

torch::Tensor apply_token_weights(const torch::Tensor& hidden, const torch::Tensor& weights) {
  if (!hidden.defined() || hidden.dim() != 3 || !hidden.is_floating_point())
    throw Error("apply_token_weights: hidden must be a floating [B, T, H] tensor");
  if (!weights.defined() || weights.dim() != 2 || weights.size(0) != hidden.size(0) ||
      weights.size(1) != hidden.size(1))
    throw Error("apply_token_weights: weights must be [B, T] = [" + std::to_string(hidden.size(0)) +
                ", " + std::to_string(hidden.size(1)) + "] to match hidden");
  const auto compute_type = hidden.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  const torch::Tensor w = weights.to(hidden.device(), compute_type);
  if (!torch::isfinite(w).all().item<bool>())
    throw Error("apply_token_weights: weights must be finite");
  if (w.eq(1).all().item<bool>()) return hidden;

  const torch::Tensor h = hidden.to(compute_type);
  const torch::Tensor original_mean = h.mean();
  const torch::Tensor weighted = h * w.unsqueeze(-1);
  const torch::Tensor new_mean = weighted.mean();
  // A zero mean cannot be restored by scaling; leave the weighting unscaled rather than
  // turning the context into inf/NaN.
  if (new_mean.item<double>() == 0) return weighted.to(hidden.scalar_type());
  return (weighted * (original_mean / new_mean)).to(hidden.scalar_type());
}

}  // namespace dd::text
