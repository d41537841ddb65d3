#include "models/diffusers_dir.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include "util/error.h"

namespace dd::models {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": invalid JSON (" + e.what() + ")");
  }
}

// The tokenizer folder's vocab.json (token -> id), or an empty object when there is none.
nlohmann::json read_vocabulary(const fs::path& tokenizer_dir) {
  const fs::path vocab = tokenizer_dir / "vocab.json";
  if (!fs::exists(vocab)) return nlohmann::json::object();
  nlohmann::json json = read_json(vocab);
  return json.is_object() ? json : nlohmann::json::object();
}

std::optional<int> vocabulary_id(const nlohmann::json& vocabulary, const std::string& token) {
  const auto it = vocabulary.find(token);
  if (it == vocabulary.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

// The tokenizer's padding token decides the id used after EOS: "<|endoftext|>" (49407 in CLIP's
// vocabulary) for CLIP-L tokenizers, "!" (0) for the OpenCLIP ones of SD 2.x and SDXL's second
// encoder. Looked up in the folder's own vocabulary, so smaller vocabularies (the built-in scene
// model's) pad with their own ids.
int tokenizer_pad_id(const fs::path& tokenizer_dir, const nlohmann::json& vocabulary,
                     int fallback) {
  const fs::path map = tokenizer_dir / "special_tokens_map.json";
  if (!fs::exists(map)) return fallback;
  const auto json = read_json(map);
  if (!json.contains("pad_token")) return fallback;
  const auto& pad = json["pad_token"];
  const std::string token = pad.is_object() ? pad.value("content", "") : pad.get<std::string>();
  if (auto id = vocabulary_id(vocabulary, token)) return *id;
  if (token == "!") return 0;
  if (token == "<|endoftext|>") return 49407;
  return fallback;
}

// Padding, BOS and EOS ids from the tokenizer folder, read with one parse of its vocabulary
// (CLIP's is 1.5 MB); the config's values stay where the folder does not say.
void read_special_token_ids(const fs::path& tokenizer_dir, ClipTextConfig& clip) {
  const nlohmann::json vocabulary = read_vocabulary(tokenizer_dir);
  clip.pad_id = tokenizer_pad_id(tokenizer_dir, vocabulary, clip.pad_id);
  clip.bos_id = vocabulary_id(vocabulary, "<|startoftext|>").value_or(clip.bos_id);
  clip.eos_id = vocabulary_id(vocabulary, "<|endoftext|>").value_or(clip.eos_id);
}

template <typename Parse>
auto parse_component(const fs::path& file, Parse parse) {
  try {
    return parse(read_json(file));
  } catch (const Error& e) {
    throw Error(file.string() + ": " + e.what());
  }
}

}  // namespace

bool is_diffusers_dir(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / "unet" / "config.json");
}

std::string diffusers_weights_file(const std::string& dir, const std::string& component) {
  for (const char* name : {"diffusion_pytorch_model.safetensors", "model.safetensors",
                           "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"}) {
    const fs::path path = fs::path(dir) / component / name;
    if (fs::exists(path)) return path.string();
  }
  throw Error(dir + "/" + component + ": no .safetensors weights found (only safetensors is read)");
}

ModelConfig model_config_from_diffusers_dir(const std::string& dir) {
  const fs::path root(dir);
  if (!is_diffusers_dir(dir))
    throw Error(dir + ": not a diffusers model folder (no unet/config.json)");
  ModelConfig model;
  model.name = root.filename().string();
  model.unet = parse_component(root / "unet" / "config.json", unet_config_from_diffusers);
  model.vae = parse_component(root / "vae" / "config.json", vae_config_from_diffusers);

  for (const char* suffix : {"", "_2"}) {
    const fs::path encoder = root / (std::string("text_encoder") + suffix);
    if (!fs::exists(encoder / "config.json")) continue;
    ClipTextConfig clip = parse_component(encoder / "config.json", clip_config_from_transformers);
    read_special_token_ids(root / (std::string("tokenizer") + suffix), clip);
    model.text_encoders.push_back(clip);
  }
  if (model.text_encoders.empty()) throw Error(dir + ": no text_encoder/config.json");

  model.family = model.text_encoders.size() == 2     ? Family::SDXL
                 : model.text_encoders[0].quick_gelu ? Family::SD1
                                                     : Family::SD2;
  const fs::path scheduler = root / "scheduler" / "scheduler_config.json";
  if (fs::exists(scheduler)) {
    model.scheduler_config = read_json(scheduler);
    const auto& s = model.scheduler_config;
    model.schedule.num_train_timesteps = s.value("num_train_timesteps", 1000);
    model.schedule.beta_schedule = s.value("beta_schedule", std::string("scaled_linear"));
    model.schedule.beta_start = s.value("beta_start", 0.00085);
    model.schedule.beta_end = s.value("beta_end", 0.012);
    if (s.value("prediction_type", std::string("epsilon")) == "v_prediction")
      model.prediction = Prediction::VPrediction;
  }
  const int sample = parse_component(root / "vae" / "config.json", [](const nlohmann::json& j) {
    return j.value("sample_size", 512);
  });
  model.default_width = model.default_height = sample;
  return model;
}

}  // namespace dd::models
