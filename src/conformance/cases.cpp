#include "conformance/cases.h"

#include <fstream>

#include "conformance/case_support.h"
#include "conformance/flux_cases.h"
#include "io/tensor_file.h"
#include "models/family_names.h"
#include "pipeline/generate.h"
#include "pipeline/lora.h"
#include "pipeline/text_conditioning.h"
#include "sampling/noise_schedule.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"

namespace dd::conformance {

namespace {

using Layout = FixtureModels::Layout;
constexpr Layout kLayouts[] = {Layout::SingleFile, Layout::Diffusers};

std::vector<Comparison> tokenizer_case(const io::FixtureSet& set, const io::FixtureCase& c) {
  const auto& files = set.manifest().at("tokenizer_files");
  const auto tokenizer = text::ClipTokenizer::from_files(set.resolve(files.at("clip_vocab")),
                                                         set.resolve(files.at("clip_merges")));
  // SDXL's tokenizer_2 (pad "!") splits "!" out as a special token, as diffusers does.
  const auto tokenizer_2 = tokenizer.with_special_token("!");
  const auto prompts = c.input_value("prompts").get<std::vector<std::string>>();
  std::vector<int64_t> eos, zero, counts;
  for (const auto& prompt : prompts) {
    const auto a = tokenizer.encode_padded(prompt, 49407);
    const auto b = tokenizer_2.encode_padded(prompt, 0);
    eos.insert(eos.end(), a.begin(), a.end());
    zero.insert(zero.end(), b.begin(), b.end());
    counts.push_back(static_cast<int64_t>(tokenizer.encode(prompt).size()) + 2);  // + BOS, EOS
  }
  const int64_t n = static_cast<int64_t>(prompts.size());
  std::vector<Comparison> out{compare(c, "ids_pad_eos", torch::tensor(eos).reshape({n, -1})),
                              compare(c, "ids_pad_zero", torch::tensor(zero).reshape({n, -1}))};
  if (c.has_expected("n_tokens_untruncated")) {
    auto expected = c.expected("n_tokens_untruncated");
    out.push_back(
        compare(c, "n_tokens_untruncated", torch::tensor(counts).to(expected.scalar_type())));
  }
  return out;
}

std::vector<Comparison> noise_schedule_case(const io::FixtureSet& set, const io::FixtureCase& c) {
  const std::string arch = set.model_path(c.model(), "arch");
  std::ifstream in(arch);
  const auto config =
      models::model_config_from_arch_json(nlohmann::json::parse(in, nullptr, false), arch);
  const sampling::NoiseSchedule schedule(pipeline::schedule_config_for(config));
  return {compare(c, "betas", schedule.betas),
          compare(c, "alphas_cumprod", schedule.alphas_cumprod),
          compare(c, "sigmas_train", schedule.sigmas)};
}

std::vector<Comparison> text_encoder_case(const io::FixtureCase& c, FixtureModels& models) {
  const int index = c.spec().value("component", "") == "text_encoder_2" ? 1 : 0;
  std::vector<Comparison> out;
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    auto& encoder = model.text_encoders.at(index);
    torch::NoGradGuard no_grad;
    const auto result = encoder->forward(input_on(models, c, "input_ids"));
    const std::string label = layout_name(layout);
    for (const auto& name : c.expected_names()) {
      torch::Tensor got;
      if (name == "last_hidden_state")
        got = result.last_hidden_state;
      else if (name == "hidden_states")
        got = torch::stack(result.hidden_states);
      else if (name == "penultimate")
        got = result.penultimate();
      else if (name == "pooler_output")
        got = result.pooled;
      else if (name == "text_embeds")
        got = result.text_embeds;
      else if (name == "clip_skip_1")
        got = encoder->clip_skip(result, 1);
      else
        throw Error("unknown text encoder output '" + name + "'");
      out.push_back(compare(c, name, got, label));
    }
  }
  return out;
}

torch::Tensor unet_forward(pipeline::DiffusionModel& model, const io::FixtureCase& c) {
  torch::NoGradGuard no_grad;
  const auto on_device = [&](const torch::Tensor& t) { return t.to(model.device()); };
  const auto sample = on_device(c.input("sample"));
  const auto& literal = c.input_value("timestep");
  auto timestep = literal.is_number() ? torch::tensor({literal.get<double>()}, torch::kFloat32)
                                      : c.input("timestep").to(torch::kFloat32).reshape({-1});
  timestep = on_device(timestep);
  if (timestep.numel() == 1) timestep = timestep.expand({sample.size(0)});
  torch::Tensor text_embeds, time_ids;
  if (c.has_input("text_embeds")) text_embeds = on_device(c.input("text_embeds"));
  if (c.has_input("time_ids")) time_ids = on_device(c.input("time_ids"));
  return model.unet->forward(sample, timestep, on_device(c.input("encoder_hidden_states")),
                             text_embeds, time_ids);
}

std::vector<Comparison> unet_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  for (Layout layout : kLayouts) {
    const auto pred = unet_forward(models.get(c.model(), layout), c);
    out.push_back(compare(c, "noise_pred", pred, layout_name(layout)));
    if (c.has_expected("noise_pred_cfg")) {
      const double g = c.input_value("guidance_scale").get<double>();
      auto halves = pred.chunk(2);
      out.push_back(compare(c, "noise_pred_cfg", halves[0] + g * (halves[1] - halves[0]),
                            layout_name(layout)));
    }
  }
  return out;
}

std::vector<Comparison> vae_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  torch::NoGradGuard no_grad;
  for (Layout layout : kLayouts) {
    auto& vae = models.get(c.model(), layout).vae;
    const std::string label = layout_name(layout);
    if (c.kind() == "vae_decode") {
      out.push_back(compare(c, "image", vae->decode(input_on(models, c, "z")), label));
    } else {
      const auto posterior = vae->encode(input_on(models, c, "x"));
      out.push_back(compare(c, "mean", posterior.mean, label));
      out.push_back(compare(c, "logvar", posterior.logvar, label));
      out.push_back(compare(c, "std", posterior.std, label));
    }
  }
  return out;
}

std::vector<pipeline::LoraSpec> case_loras(const io::FixtureSet& set, const io::FixtureCase& c) {
  if (!c.has_input("lora")) return {};
  const double scale =
      c.input_value("lora_scale").is_number() ? c.input_value("lora_scale").get<double>() : 1.0;
  return {{set.resolve(c.input_value("lora").get<std::string>()), scale}};
}

std::vector<Comparison> lora_case(const io::FixtureSet& set, const io::FixtureCase& c,
                                  FixtureModels& models) {
  std::vector<Comparison> out;
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    pipeline::ScopedLoras loras(model, case_loras(set, c));
    const std::string label = layout_name(layout);
    if (c.kind() == "lora_unet_forward") {
      out.push_back(compare(c, "noise_pred", unet_forward(model, c), label));
    } else {
      torch::NoGradGuard no_grad;
      const auto result = model.text_encoders.at(0)->forward(input_on(models, c, "input_ids"));
      out.push_back(compare(c, "last_hidden_state", result.last_hidden_state, label));
      out.push_back(compare(c, "pooler_output", result.pooled, label));
    }
  }
  return out;
}

// SDXL prompt encoding as the pipeline does it: both encoders, pooled embedding, and all-zero
// negative embeddings when there is no negative prompt.
std::vector<Comparison> encode_prompt_case(const io::FixtureCase& c, FixtureModels& models) {
  std::vector<Comparison> out;
  const bool zeros = c.input_value("force_zeros_for_empty_prompt").is_boolean() &&
                     c.input_value("force_zeros_for_empty_prompt").get<bool>();
  for (Layout layout : kLayouts) {
    auto& model = models.get(c.model(), layout);
    const pipeline::PromptOptions options{1, false, zeros};
    const auto positive = pipeline::encode_prompt(model, string_input(c, "prompt"), options);
    const auto negative =
        pipeline::encode_prompt(model, string_input(c, "negative_prompt"), options);
    const std::string label = layout_name(layout);
    out.push_back(compare(c, "prompt_embeds", positive.context, label));
    out.push_back(compare(c, "negative_prompt_embeds", negative.context, label));
    out.push_back(compare(c, "pooled_prompt_embeds", positive.pooled, label));
    out.push_back(compare(c, "negative_pooled_prompt_embeds", negative.pooled, label));
  }
  return out;
}

// An optional [a, b] pair of pixel sizes from a pipeline case's inputs.
std::optional<std::array<int, 2>> size_pair(const io::FixtureCase& c, const std::string& name) {
  if (!c.has_input(name) || !c.input_value(name).is_array()) return std::nullopt;
  const auto v = c.input_value(name).get<std::vector<int>>();
  if (v.size() != 2) throw Error(name + " must have two values");
  return std::array<int, 2>{v[0], v[1]};
}

pipeline::GenerationRequest pipeline_request(const io::FixtureSet& set, const io::FixtureCase& c) {
  pipeline::GenerationRequest r;
  r.prompt = string_input(c, "prompt");
  r.negative_prompt = string_input(c, "negative_prompt");
  r.width = c.input_value("width").get<int>();
  r.height = c.input_value("height").get<int>();
  r.steps = c.input_value("num_inference_steps").get<int>();
  r.cfg = c.input_value("guidance_scale").get<double>();
  const auto& scheduler = c.input_value("scheduler");
  r.scheduler_class = scheduler.at("class").get<std::string>();
  r.scheduler_config = scheduler.at("config");
  r.prompt_weighting = false;  // the reference pipelines take prompts literally
  if (c.has_input("latents")) r.latents = c.input("latents");
  if (c.has_input("image")) r.init_image = c.input("image");
  if (c.has_input("mask")) r.mask = c.input("mask");
  if (c.input_value("strength").is_number()) r.strength = c.input_value("strength").get<double>();
  r.loras = case_loras(set, c);
  r.micro = {size_pair(c, "original_size"), size_pair(c, "crops_coords_top_left"),
             size_pair(c, "target_size")};
  r.negative_micro = {size_pair(c, "negative_original_size"),
                      size_pair(c, "negative_crops_coords_top_left"),
                      size_pair(c, "negative_target_size")};
  return r;
}

std::vector<Comparison> pipeline_case(const io::FixtureSet& set, const io::FixtureCase& c,
                                      FixtureModels& models) {
  return compare_pipeline(c, models, pipeline_request(set, c));
}

}  // namespace

const char* layout_name(Layout layout) {
  return layout == Layout::SingleFile ? "single-file" : "diffusers";
}

pipeline::DiffusionModel& FixtureModels::get(const std::string& model, Layout layout) {
  auto& slot = cache_[{model, static_cast<int>(layout)}];
  if (!slot) {
    pipeline::ModelSource source;
    if (layout == Layout::SingleFile) {
      source.path = set_.model_path(model, "single_file");
      source.config_json = set_.model_path(model, "arch");
      source.tokenizer_dir = set_.model_path(model, "diffusers_dir");
    } else {
      source.path = set_.model_path(model, "diffusers_dir");
    }
    source.device = device_;
    slot = pipeline::DiffusionModel::load(source);
  }
  return *slot;
}

std::string FixtureModels::family(const std::string& model) const {
  const std::string arch = set_.model_path(model, "arch");
  std::ifstream in(arch);
  if (!in) throw Error(arch + ": cannot open");
  return nlohmann::json::parse(in, nullptr, false).value("family", "");
}

namespace {

// Every Stable Diffusion case kind the engine checks, declared once: run_case dispatches on it
// and unsupported_reason skips the kinds that are not here.
constexpr CaseKind kCaseKinds[] = {
    {"tokenizer", [](const io::FixtureSet& set, const io::FixtureCase& c,
                     FixtureModels&) { return tokenizer_case(set, c); }},
    {"noise_schedule", [](const io::FixtureSet& set, const io::FixtureCase& c,
                          FixtureModels&) { return noise_schedule_case(set, c); }},
    {"text_encoder", [](const io::FixtureSet&, const io::FixtureCase& c,
                        FixtureModels& models) { return text_encoder_case(c, models); }},
    {"encode_prompt", [](const io::FixtureSet&, const io::FixtureCase& c,
                         FixtureModels& models) { return encode_prompt_case(c, models); }},
    {"unet_forward", [](const io::FixtureSet&, const io::FixtureCase& c,
                        FixtureModels& models) { return unet_case(c, models); }},
    {"vae_decode", [](const io::FixtureSet&, const io::FixtureCase& c,
                      FixtureModels& models) { return vae_case(c, models); }},
    {"vae_encode", [](const io::FixtureSet&, const io::FixtureCase& c,
                      FixtureModels& models) { return vae_case(c, models); }},
    {"lora_unet_forward", lora_case},
    {"lora_text_encoder", lora_case},
    {"pipeline", pipeline_case},
};

const CaseKind* find_kind(const std::string& name) { return find_case_kind(kCaseKinds, name); }

}  // namespace

std::string unsupported_reason(const io::FixtureCase& c, const FixtureModels& models) {
  std::string family;
  try {
    family = models.family(c.model());
  } catch (const std::exception&) {
    return "";  // let the case run and fail with the real error
  }
  if (family == "flux")
    return is_flux_case_kind(c.kind()) ? "" : "case kind '" + c.kind() + "' is not built yet";
  if (!find_kind(c.kind())) return "case kind '" + c.kind() + "' is not built yet";
  if (!family.empty() && !models::is_supported_family(family))
    return "model family '" + family + "' is not built yet";
  return "";
}

std::vector<Comparison> run_case(const io::FixtureSet& set, const io::FixtureCase& c,
                                 FixtureModels& models) {
  if (models.family(c.model()) == "flux") return run_flux_case(set, c, models);
  const CaseKind* kind = find_kind(c.kind());
  if (!kind) throw Error("unknown case kind '" + c.kind() + "'");
  return kind->run(set, c, models);
}

}  // namespace dd::conformance
