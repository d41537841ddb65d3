#include "pipeline/flux_conditioning.h"

#include "util/error.h"

namespace dd::pipeline {

namespace {

torch::Tensor clip_pooled(DiffusionModel& model, const std::string& prompt) {
  const auto& config = model.config().text_encoders.at(0);
  const auto ids =
      model.tokenizers.at(0).encode_padded(prompt, config.pad_id, config.max_positions);
  const auto input = torch::tensor(ids, torch::kInt64).unsqueeze(0).to(model.device());
  return model.text_encoders.at(0)->forward(input).pooled.to(torch::kFloat32);
}

torch::Tensor t5_hidden(DiffusionModel& model, const std::string& prompt, int length) {
  if (!model.t5_tokenizer) throw Error(model.path() + ": the model has no T5 tokenizer");
  const auto ids = model.t5_tokenizer->encode_padded(prompt, length);
  const auto input = torch::tensor(ids, torch::kInt64).unsqueeze(0).to(model.device());
  return model.t5_encoder()->forward(input).last_hidden_state.to(torch::kFloat32);
}

}  // namespace

Conditioning encode_flux_prompt(DiffusionModel& model, const std::string& prompt,
                                int max_sequence_length) {
  if (max_sequence_length < 1)
    throw InvalidParameter("max_sequence_length", "max_sequence_length must be at least 1");
  const std::string key = "flux\x1f" + model.text_encoder_loras + '\x1f' +
                          std::to_string(max_sequence_length) + '\x1f' + prompt;
  if (auto cached = model.prompt_cache.find(key)) return *cached;
  torch::NoGradGuard no_grad;
  Conditioning out;
  out.context = t5_hidden(model, prompt, max_sequence_length);
  out.pooled = clip_pooled(model, prompt);
  model.prompt_cache.insert(key, out);
  model.release_t5_if_asked();
  return out;
}

}  // namespace dd::pipeline
