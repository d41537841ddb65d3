// The AUTOMATIC1111 API (API.md section 6), what Open WebUI, SillyTavern and the `webuiapi`
// client speak: POST /sdapi/v1/txt2img and /img2img answer, once the job is done, with A1111's
// {"images": [base64], "parameters": {...}, "info": "<json>"}. The lists, options, progress,
// interrupt and png-info are in a1111_info_api.cpp.
#include <ctime>

#include "http/a1111_options.h"
#include "http/a1111_request.h"
#include "http/api.h"
#include "http/sync_generation.h"
#include "io/base64.h"
#include "io/image.h"
#include "pipeline/sampler_names.h"

namespace dd::http {

namespace {

using nlohmann::json;

// A1111's job_timestamp: local time as YYYYmmddHHMMSS.
std::string job_timestamp(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d%H%M%S", &local);
  return text;
}

// The PNG's `parameters` text; "" for the other formats (their text is not read back here).
std::string infotext(const GeneratedImage& image) {
  if (image.format != "png") return "";
  const auto text =
      io::decode_png_text(std::vector<uint8_t>(image.bytes.begin(), image.bytes.end()), "image");
  const auto it = text.find("parameters");
  return it == text.end() ? "" : it->second;
}

// A1111's `info` (Processed.js()), from the job as it ran.
json info(const json& parameters, const service::Job& job,
          const std::vector<GeneratedImage>& images, bool img2img) {
  const auto& p = job.spec.params;
  json seeds = json::array(), prompts = json::array(), negatives = json::array(),
       texts = json::array();
  for (const auto& image : images) {
    seeds.push_back(image.seed);
    prompts.push_back(parameters["prompt"]);
    negatives.push_back(parameters["negative_prompt"]);
    texts.push_back(infotext(image));
  }
  const int64_t seed = images.empty() ? p.seed.value_or(-1) : images.front().seed;
  return {{"prompt", parameters["prompt"]},
          {"all_prompts", prompts},
          {"negative_prompt", parameters["negative_prompt"]},
          {"all_negative_prompts", negatives},
          {"seed", seed},
          {"all_seeds", seeds},
          {"subseed", parameters["subseed"]},
          {"all_subseeds", seeds},
          {"subseed_strength", 0},
          {"width", p.width.value_or(0)},
          {"height", p.height.value_or(0)},
          {"sampler_name", pipeline::sampler_display_name(p.sampler.value_or(""))},
          {"cfg_scale", p.cfg.value_or(0)},
          {"steps", p.steps.value_or(0)},
          {"batch_size", parameters["batch_size"]},
          {"restore_faces", false},
          {"face_restoration_model", nullptr},
          {"sd_model_name", job.spec.model},
          {"sd_model_hash", nullptr},
          {"sd_vae_name", nullptr},
          {"sd_vae_hash", nullptr},
          {"seed_resize_from_w", -1},
          {"seed_resize_from_h", -1},
          {"denoising_strength", img2img ? json(p.strength.value_or(0)) : json(nullptr)},
          {"extra_generation_params", json::object()},
          {"index_of_first_image", 0},
          {"infotexts", texts},
          {"styles", json::array()},
          {"job_timestamp", job_timestamp(job.created_ms)},
          {"clip_skip", p.clip_skip.value_or(1)},
          {"is_using_inpainting_conditioning", false},
          {"version", "diffusiond"}};
}

void generate(Api& api, const httplib::Request& request, httplib::Response& response,
              bool img2img) {
  const JsonBody body(request.body);
  auto a1111 = a1111_request(api, request, body, img2img);
  const auto images = generate_now(api, a1111.job);
  const auto job = api.service.jobs().get(images.at(0).record.job_id, a1111.job.account_id);
  if (!job) throw ApiError(500, "internal_error", "the finished job is missing");
  json encoded = json::array();
  if (a1111.send_images)
    for (const auto& image : images) encoded.push_back(io::base64_encode(image.bytes));
  send_json(response, {{"images", encoded},
                       {"parameters", a1111.parameters},
                       {"info", info(a1111.parameters, *job, images, img2img).dump()}});
}

}  // namespace

void add_a1111_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Post("/sdapi/v1/txt2img", guarded([&api](const auto& request, auto& response) {
                generate(api, request, response, false);
              }));
  server.Post("/sdapi/v1/img2img", guarded([&api](const auto& request, auto& response) {
                generate(api, request, response, true);
              }));
  add_a1111_info_api(http, api);
}

}  // namespace dd::http
