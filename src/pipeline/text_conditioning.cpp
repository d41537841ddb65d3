#include "pipeline/text_conditioning.h"

#include "text/prompt_weights.h"

namespace dd::pipeline {

namespace {

// Token ids and per-token weights of one encoder's view of the prompt.
text::WeightedTokens tokenize(const DiffusionModel& model, size_t encoder,
                              const std::string& prompt, bool weighting) {
  const auto& config = model.config().text_encoders[encoder];
  const auto& tokenizer = model.tokenizers[encoder];
  if (weighting)
    return text::tokenize_weighted(tokenizer, prompt, config.pad_id, config.max_positions);
  text::WeightedTokens tokens;
  tokens.ids = tokenizer.encode_padded(prompt, config.pad_id, config.max_positions);
  tokens.weights.assign(tokens.ids.size(), 1.0f);
  return tokens;
}

torch::Tensor encode_with(DiffusionModel& model, size_t encoder, const std::string& prompt,
                          const PromptOptions& options, torch::Tensor* pooled) {
  const auto tokens = tokenize(model, encoder, prompt, options.prompt_weighting);
  auto ids = torch::tensor(tokens.ids, torch::kInt64).unsqueeze(0).to(model.device());
  auto& text_encoder = model.text_encoders[encoder];
  const auto output = text_encoder->forward(ids);
  torch::Tensor hidden;
  if (model.config().family == models::Family::SDXL) {
    // SDXL conditions on the penultimate layer without the final LayerNorm.
    hidden = output.hidden_states.at(output.hidden_states.size() - 1 - options.clip_skip);
  } else {
    hidden = text_encoder->clip_skip(output, options.clip_skip - 1);
  }
  if (pooled && output.text_embeds.defined()) *pooled = output.text_embeds;
  auto weights = torch::tensor(tokens.weights, torch::kFloat32).unsqueeze(0).to(model.device());
  return text::apply_token_weights(hidden, weights);
}

Conditioning encode_uncached(DiffusionModel& model, const std::string& prompt,
                             const PromptOptions& options) {
  torch::NoGradGuard no_grad;
  Conditioning out;
  std::vector<torch::Tensor> contexts;
  for (size_t i = 0; i < model.text_encoders.size(); ++i)
    contexts.push_back(encode_with(model, i, prompt, options, &out.pooled));
  out.context = contexts.size() == 1 ? contexts[0] : torch::cat(contexts, -1);
  if (options.zeros_for_empty && prompt.empty()) {
    out.context = torch::zeros_like(out.context);
    if (out.pooled.defined()) out.pooled = torch::zeros_like(out.pooled);
  }
  return out;
}

std::string cache_key(const DiffusionModel& model, const std::string& prompt,
                      const PromptOptions& options) {
  return model.text_encoder_loras + '\x1f' + std::to_string(options.clip_skip) +
         (options.prompt_weighting ? 'w' : '-') + (options.zeros_for_empty ? 'z' : '-') + '\x1f' +
         prompt;
}

}  // namespace

Conditioning encode_prompt(DiffusionModel& model, const std::string& prompt,
                           const PromptOptions& options) {
  const std::string key = cache_key(model, prompt, options);
  if (auto cached = model.prompt_cache.find(key)) return *cached;
  auto out = encode_uncached(model, prompt, options);
  model.prompt_cache.insert(key, out);
  return out;
}

}  // namespace dd::pipeline
