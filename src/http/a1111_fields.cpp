#include "http/a1111_fields.h"

#include <algorithm>

#include "http/api_error.h"
#include "http/dialect_fields.h"

namespace dd::http {

namespace {

using nlohmann::json;
using pipeline::limits::kMaxSeed;

// A1111's defaults (modules/processing.py, StableDiffusionProcessing).
constexpr double kA1111Steps = 50;
constexpr double kA1111Cfg = 7;
constexpr double kA1111Side = 512;
constexpr double kA1111Denoising = 0.75;
constexpr int kMaxSamplerText = 100;

// A row the handler reads itself.
Field own(const char* name, FieldType type, const char* doc, double min = 0, double max = 0) {
  return {.name = name, .type = type, .target = {}, .doc = doc, .min = min, .max = max};
}

Field with_default(Field field, double value) {
  field.dialect_default = value;
  return field;
}

// The rows both endpoints share, in A1111's order.
A1111Fields common_rows(bool img2img) {
  const char* accepted = "Accepted for compatibility; the samplers use their own value";
  A1111Fields rows = {
      {prompt_field("prompt", false), "", {}},
      {negative_prompt_field("negative_prompt"), "", {}},
      {own("styles", FieldType::Array, "Saved styles: not supported (only [])"),
       json::array(),
       {json::array()}},
      {seed_field("seed"), -1, {}},
      {own("subseed", FieldType::Integer, "Variation seed (unused: subseed_strength is 0)", -1,
           static_cast<double>(kMaxSeed)),
       -1,
       {}},
      {own("subseed_strength", FieldType::Number, "Variation strength: only 0", 0, 1), 0, {0}},
      {own("seed_resize_from_h", FieldType::Integer, "Only -1 or 0 (off)", -1, 4096), -1, {-1, 0}},
      {own("seed_resize_from_w", FieldType::Integer, "Only -1 or 0 (off)", -1, 4096), -1, {-1, 0}},
      {own("sampler_name", FieldType::String,
           "Sampler as GET /sdapi/v1/samplers names it (default: the model's)", 0, kMaxSamplerText),
       nullptr,
       {}},
      {own("sampler_index", FieldType::String, "Older name of sampler_name (used without it)", 0,
           kMaxSamplerText),
       "Euler",
       {}},
      {own("scheduler", FieldType::String,
           "automatic (default: the sampler's own) or karras, as GET /sdapi/v1/schedulers lists", 0,
           kMaxSamplerText),
       nullptr,
       {}},
      {own("batch_size", FieldType::Integer, "Images per batch; batch_size x n_iter <= 4", 1,
           pipeline::limits::kMaxSamples),
       1,
       {}},
      {own("n_iter", FieldType::Integer, "Batches; batch_size x n_iter <= 4", 1,
           pipeline::limits::kMaxSamples),
       1,
       {}},
      {steps_field("steps", 150, kA1111Steps), kA1111Steps, {}},
      {with_default(cfg_field("cfg_scale", 0, pipeline::limits::kMaxCfg), kA1111Cfg),
       kA1111Cfg,
       {}},
      {img2img ? side_field("width") : with_default(side_field("width"), kA1111Side),
       kA1111Side,
       {}},
      {img2img ? side_field("height") : with_default(side_field("height"), kA1111Side),
       kA1111Side,
       {}},
      {own("restore_faces", FieldType::Boolean, "Face restoration: not supported (only false)"),
       nullptr,
       {false}},
      {own("tiling", FieldType::Boolean, "Tiling: not supported (only false)"), nullptr, {false}},
      {own("do_not_save_samples", FieldType::Boolean,
           "Accepted; images are kept in the account's image store either way"),
       false,
       {}},
      {own("do_not_save_grid", FieldType::Boolean, "Accepted; no grids are made"), false, {}},
      {own("eta", FieldType::Number, accepted, 0, 1), nullptr, {}},
      {own("s_min_uncond", FieldType::Number, "Only 0", 0, 100), 0, {0}},
      {own("s_churn", FieldType::Number, "Only 0", 0, 100), 0, {0}},
      {own("s_tmax", FieldType::Number, "Only 0 (off)", 0, 1e9), nullptr, {0}},
      {own("s_tmin", FieldType::Number, "Only 0", 0, 1e9), 0, {0}},
      {own("s_noise", FieldType::Number, "Only 1", 0, 10), 1, {1}},
      {own("override_settings", FieldType::Object,
           "Options for this request only: sd_model_checkpoint, CLIP_stop_at_last_layers, "
           "samples_format; others only at their GET /sdapi/v1/options value"),
       json::object(),
       {}},
      {own("override_settings_restore_afterwards", FieldType::Boolean,
           "Accepted; overrides never outlive their request"),
       true,
       {}},
      {own("refiner_checkpoint", FieldType::String, "Refiner: not supported (only \"\")", 0, 200),
       nullptr,
       {""}},
      {own("refiner_switch_at", FieldType::Number, "Unused without a refiner", 0, 1), nullptr, {}},
      {own("disable_extra_networks", FieldType::Boolean,
           "true: <lora:...> tags are removed from the prompt without being applied"),
       false,
       {}},
      {own("script_name", FieldType::String, "Scripts: not supported (only null or \"\")", 0, 200),
       nullptr,
       {""}},
      {own("script_args", FieldType::Array, "Unused without a script"), json::array(), {}},
      {own("send_images", FieldType::Boolean, "false: the answer carries no images"), true, {}},
      {own("save_images", FieldType::Boolean,
           "Accepted; images are kept in the account's image store either way"),
       false,
       {}},
      {own("alwayson_scripts", FieldType::Object, "Extensions: not supported (only {})"),
       json::object(),
       {json::object()}},
      {own("infotext", FieldType::String, "Parameters text to apply: not supported (only \"\")", 0,
           20000),
       nullptr,
       {""}},
  };
  if (!img2img) {
    rows.push_back({own("enable_hr", FieldType::Boolean, "Hires fix: not supported (only false)"),
                    false,
                    {false}});
    rows.push_back({own("denoising_strength", FieldType::Number, "Hires fix only (unused)", 0, 1),
                    nullptr,
                    {}});
  }
  return rows;
}

A1111Fields img2img_rows() {
  A1111Fields rows = {
      {own("init_images", FieldType::Array,
           "The picture, base64 PNG/JPEG/WebP (one; a data: URL prefix is accepted)"),
       nullptr,
       {}},
      {own("resize_mode", FieldType::Integer, "0: the picture is resized to width x height", 0, 3),
       0,
       {0}},
      {with_default(strength_field("denoising_strength"), kA1111Denoising), kA1111Denoising, {}},
      {own("image_cfg_scale", FieldType::Number, "instruct-pix2pix only: accepted, unused", 0,
           pipeline::limits::kMaxCfg),
       nullptr,
       {}},
      {own("mask", FieldType::String, "Inpainting mask, base64; white = repaint", 0, -1),
       nullptr,
       {}},
      {own("mask_blur", FieldType::Integer, "Mask softening radius in pixels", 0, 64), 4, {}},
      {own("mask_blur_x", FieldType::Integer, "Horizontal mask blur (default: mask_blur)", 0, 64),
       4,
       {}},
      {own("mask_blur_y", FieldType::Integer, "Vertical mask blur (default: mask_blur)", 0, 64),
       4,
       {}},
      {own("inpainting_fill", FieldType::Integer,
           "Masked content: 0 fill (from the surroundings), 1 original; 2 and 3 not supported", 0,
           3),
       0,
       {0, 1}},
      {own("inpaint_full_res", FieldType::Boolean,
           "Accepted; the whole picture is always repainted at width x height"),
       true,
       {}},
      {own("inpaint_full_res_padding", FieldType::Integer, "Unused (see inpaint_full_res)", 0,
           4096),
       0,
       {}},
      {own("inpainting_mask_invert", FieldType::Integer, "1: repaint where the mask is black", 0,
           1),
       0,
       {}},
      {own("initial_noise_multiplier", FieldType::Number, "Only 1", 0, 10), nullptr, {1}},
      {own("latent_mask", FieldType::String, "Not supported (only null or \"\")", 0, -1),
       nullptr,
       {""}},
      {own("include_init_images", FieldType::Boolean, "Not supported (only false)"),
       false,
       {false}},
  };
  for (auto& row : common_rows(true)) rows.push_back(std::move(row));
  return rows;
}

std::string value_text(const json& value) {
  if (!value.is_string()) return value.dump();
  // Appended piece by piece: GCC 12 misreads `"\"" + text + "\""` as a huge memcpy here
  // (-Wstringop-overflow).
  std::string quoted = "\"";
  quoted += value.get_ref<const std::string&>();
  quoted += '"';
  return quoted;
}

}  // namespace

const A1111Fields& a1111_txt2img_rows() {
  static const A1111Fields rows = common_rows(false);
  return rows;
}

const A1111Fields& a1111_img2img_rows() {
  static const A1111Fields rows = img2img_rows();
  return rows;
}

Fields plain_fields(const A1111Fields& rows) {
  Fields fields;
  for (const auto& row : rows) fields.push_back(row.field);
  return fields;
}

const Fields& a1111_txt2img_fields() {
  static const Fields fields = plain_fields(a1111_txt2img_rows());
  return fields;
}

const Fields& a1111_img2img_fields() {
  static const Fields fields = plain_fields(a1111_img2img_rows());
  return fields;
}

void refuse_unsupported(const JsonBody& body, const A1111Fields& rows) {
  for (const auto& row : rows) {
    if (row.neutral.empty() || !body.has(row.field.name)) continue;
    const json& value = body.json().at(row.field.name);
    if (std::find(row.neutral.begin(), row.neutral.end(), value) != row.neutral.end()) continue;
    std::string accepted;
    for (const auto& neutral : row.neutral)
      accepted += (accepted.empty() ? "" : " or ") + value_text(neutral);
    throw ApiError(422, "unsupported",
                   row.field.name + " " + value_text(value) +
                       " is not supported by this server (accepted: " + accepted + ")",
                   row.field.name);
  }
}

json a1111_parameters(const JsonBody& body, const A1111Fields& rows) {
  json parameters = json::object();
  for (const auto& row : rows) {
    const auto& name = row.field.name;
    parameters[name] = body.has(name) ? body.json().at(name) : row.a1111_default;
  }
  return parameters;
}

}  // namespace dd::http
