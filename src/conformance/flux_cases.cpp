#include "conformance/flux_cases.h"

#include <filesystem>

#include "conformance/case_support.h"
#include "models/t5_encoder.h"
#include "pipeline/flux_conditioning.h"
#include "pipeline/flux_generate.h"
#include "pipeline/flux_latents.h"
#include "pipeline/generate.h"
#include "sampling/flow_match.h"
#include "text/t5_tokenizer.h"
#include "util/error.h"

namespace dd::conformance {

namespace {

using Layout = FixtureModels::Layout;
constexpr Layout kLayouts[] = {Layout::SingleFile, Layout::Diffusers};

int int_input(const io::FixtureCase& c, const std::string& name) {
  return c.input_value(name).get<int>();
}

std::vector<Comparison> t5_tokenizer_case(const io::FixtureSet& set, const io::FixtureCase& c) {
  const text::T5Tokenizer tokenizer(set.model_path(c.model(), "diffusers_dir") + "/tokenizer_2");
  const int length = int_input(c, "max_sequence_length");
  std::vector<int64_t> ids, counts;
  for (const auto& prompt : c.input_value("prompts").get<std::vector<std::string>>()) {
    const auto padded = tokenizer.encode_padded(prompt, length);
    ids.insert(ids.end(), padded.begin(), padded.end());
    counts.push_back(static_cast<int64_t>(tokenizer.encode(prompt).size()));
  }
  const auto n = static_cast<int64_t>(counts.size());
  return {compare(c, "ids", torch::tensor(ids).reshape({n, length})),
          compare(c, "n_tokens_untruncated",
                  torch::tensor(counts).to(c.expected("n_tokens_untruncated").scalar_type()))};
}

std::vector<Comparison> text_encoder_case(const io::FixtureCase& c, FixtureModels& models) {
  const bool t5 = c.spec().value("component", "") == "text_encoder_2";
  std::vector<Comparison> out;
  torch::NoGradGuard no_grad;
  const auto ids = input_on(models, c, "input_ids");
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    const std::string label = layout_name(layout);
    if (t5) {
      auto& encoder = model.t5_encoder();
      out.push_back(
          compare(c, "last_hidden_state", encoder->forward(ids).last_hidden_state, label));
      const auto& config = encoder->config();
      out.push_back(compare(
          c, "relative_position_bucket_range",
          models::t5_relative_position_bucket(c.input("relative_positions").to(torch::kInt64), true,
                                              config.relative_attention_num_buckets,
                                              config.relative_attention_max_distance),
          label));
    } else {
      const auto result = model.text_encoders.at(0)->forward(ids);
      out.push_back(compare(c, "pooler_output", result.pooled, label));
      out.push_back(compare(c, "last_hidden_state", result.last_hidden_state, label));
    }
  }
  return out;
}

std::vector<Comparison> encode_prompt_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  const int length = int_input(c, "max_sequence_length");
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    const auto cond = pipeline::encode_flux_prompt(model, string_input(c, "prompt"), length);
    const std::string label = layout_name(layout);
    out.push_back(compare(c, "prompt_embeds", cond.context, label));
    out.push_back(compare(c, "pooled_prompt_embeds", cond.pooled, label));
    out.push_back(compare(c, "text_ids", pipeline::flux_text_ids(length).unsqueeze(0), label));
  }
  return out;
}

std::vector<Comparison> packing_case(const io::FixtureCase& c) {
  const auto latents = c.input("latents");
  const int64_t h = latents.size(2), w = latents.size(3);
  const auto packed = pipeline::pack_latents(latents);
  return {compare(c, "packed", packed),
          compare(c, "unpacked", pipeline::unpack_latents(packed, h, w)),
          compare(c, "img_ids", pipeline::flux_image_ids(h, w).unsqueeze(0))};
}

std::vector<Comparison> scheduler_case(const io::FixtureCase& c) {
  std::vector<Comparison> out;
  sampling::FlowMatchConfig config;
  for (const auto& [name, spec] : c.spec().at("schedules").items()) {
    config = sampling::flow_match_config_from_diffusers(spec.at("config"));
    const auto schedule = sampling::flow_match_schedule(
        spec.at("num_inference_steps").get<int>(), config,
        sampling::flow_match_mu(spec.at("image_seq_len").get<int64_t>(), config));
    out.push_back(compare(c, name + "_sigmas", torch::tensor(schedule.sigmas)));
    out.push_back(compare(c, name + "_timesteps", torch::tensor(schedule.timesteps)));
  }
  const auto seq_lens = c.input("mu_seq_lens").to(torch::kFloat64);
  std::vector<double> mu;
  for (int64_t i = 0; i < seq_lens.numel(); ++i)
    mu.push_back(sampling::flow_match_mu(static_cast<int64_t>(seq_lens[i].item<double>()), config));
  out.push_back(compare(c, "mu_table", torch::tensor(mu)));
  return out;
}

std::vector<Comparison> transformer_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  torch::NoGradGuard no_grad;
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    models::FluxInputs in;
    in.img = input_on(models, c, "hidden_states");
    in.txt = input_on(models, c, "encoder_hidden_states");
    in.y = input_on(models, c, "pooled_projections");
    in.timesteps = input_on(models, c, "timestep").to(torch::kFloat32).reshape({-1});
    in.img_ids = input_on(models, c, "img_ids");
    in.txt_ids = input_on(models, c, "txt_ids");
    if (c.has_input("guidance"))
      in.guidance = input_on(models, c, "guidance").to(torch::kFloat32).reshape({-1});
    out.push_back(compare(c, "noise_pred", model.flux->forward(in), layout_name(layout)));
  }
  return out;
}

std::vector<Comparison> vae_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  torch::NoGradGuard no_grad;
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    const auto& config = model.config().vae;
    const std::string label = layout_name(layout);
    if (c.kind() == "vae_decode") {
      const auto z = input_on(models, c, "latents") / config.scaling_factor + config.shift_factor;
      out.push_back(compare(c, "image", model.vae->decode(z), label));
    } else {
      const auto posterior = model.vae->encode(input_on(models, c, "x"));
      out.push_back(compare(c, "mean", posterior.mean, label));
      out.push_back(compare(c, "logvar", posterior.logvar, label));
      out.push_back(compare(c, "std", posterior.std, label));
      out.push_back(compare(c, "latents_from_mean",
                            (posterior.mean - config.shift_factor) * config.scaling_factor, label));
    }
  }
  return out;
}

std::vector<Comparison> fill_conditioning_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  torch::NoGradGuard no_grad;
  const auto image = input_on(models, c, "image");
  const auto mask = input_on(models, c, "mask");
  const auto image_pre = image * 2 - 1;
  const auto mask_pre = pipeline::binarize_mask(mask);
  const auto masked = pipeline::fill_masked_image(image_pre, mask_pre);
  const auto size = pipeline::flux_latent_size(image.size(2), image.size(3));
  const auto mask_packed = pipeline::fill_mask_packed(mask_pre, size.height, size.width);
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    const std::string label = layout_name(layout);
    RecordedNoise noise(c.input("noise"));
    const auto latents =
        pipeline::pack_latents(pipeline::flux_picture_latents(model, masked, 1, noise));
    out.push_back(compare(c, "image_pre", image_pre, label));
    out.push_back(compare(c, "mask_pre", mask_pre, label));
    out.push_back(compare(c, "masked_image", masked, label));
    out.push_back(compare(c, "masked_image_latents", latents, label));
    out.push_back(compare(c, "mask_packed", mask_packed, label));
    out.push_back(
        compare(c, "conditioning", pipeline::fill_conditioning(latents, mask_packed), label));
  }
  return out;
}

pipeline::GenerationRequest flux_request(const io::FixtureCase& c) {
  pipeline::GenerationRequest r;
  r.prompt = string_input(c, "prompt");
  r.width = int_input(c, "width");
  r.height = int_input(c, "height");
  r.steps = int_input(c, "num_inference_steps");
  r.guidance = c.input_value("guidance_scale").get<double>();
  r.cfg = 1;
  r.sampler = "euler";
  r.max_sequence_length = int_input(c, "max_sequence_length");
  if (c.has_input("latents")) r.latents = c.input("latents");
  if (c.has_input("image")) r.init_image = c.input("image");
  if (c.has_input("mask")) r.mask = c.input("mask");
  if (c.input_value("strength").is_number()) r.strength = c.input_value("strength").get<double>();
  return r;
}

std::vector<Comparison> pipeline_case(const io::FixtureCase& c, FixtureModels& models) {
  return compare_pipeline(c, models, flux_request(c));
}

// Every FLUX case kind, declared once: dispatch and skipping both read this table.
constexpr CaseKind kFluxKinds[] = {
    {"tokenizer", [](const io::FixtureSet& set, const io::FixtureCase& c,
                     FixtureModels&) { return t5_tokenizer_case(set, c); }},
    {"text_encoder", [](const io::FixtureSet&, const io::FixtureCase& c,
                        FixtureModels& models) { return text_encoder_case(c, models); }},
    {"encode_prompt", [](const io::FixtureSet&, const io::FixtureCase& c,
                         FixtureModels& models) { return encode_prompt_case(c, models); }},
    {"latent_packing", [](const io::FixtureSet&, const io::FixtureCase& c,
                          FixtureModels&) { return packing_case(c); }},
    {"scheduler", [](const io::FixtureSet&, const io::FixtureCase& c,
                     FixtureModels&) { return scheduler_case(c); }},
    {"transformer_forward", [](const io::FixtureSet&, const io::FixtureCase& c,
                               FixtureModels& models) { return transformer_case(c, models); }},
    {"vae_decode", [](const io::FixtureSet&, const io::FixtureCase& c,
                      FixtureModels& models) { return vae_case(c, models); }},
    {"vae_encode", [](const io::FixtureSet&, const io::FixtureCase& c,
                      FixtureModels& models) { return vae_case(c, models); }},
    {"fill_conditioning", [](const io::FixtureSet&, const io::FixtureCase& c,
                             FixtureModels& models) { return fill_conditioning_case(c, models); }},
    {"pipeline", [](const io::FixtureSet&, const io::FixtureCase& c,
                    FixtureModels& models) { return pipeline_case(c, models); }},
};

const CaseKind* find_flux_kind(const std::string& name) { return find_case_kind(kFluxKinds, name); }

}  // namespace

bool is_flux_case_kind(const std::string& kind) { return find_flux_kind(kind) != nullptr; }

std::vector<Comparison> run_flux_case(const io::FixtureSet& set, const io::FixtureCase& c,
                                      FixtureModels& models) {
  const CaseKind* kind = find_flux_kind(c.kind());
  if (!kind) throw Error("unknown FLUX case kind '" + c.kind() + "'");
  return kind->run(set, c, models);
}

}  // namespace dd::conformance
