// The OpenAI-style generation API (seed 002, API.md section 3): POST /api/v1/images/generation
// answers with base64 images and per-image inference timings; `image` (+ `mask`) turn it into
// img2img (inpainting).
#include "http/api.h"
#include "http/dialect_fields.h"
#include "http/json_body.h"
#include "http/sync_generation.h"
#include "io/base64.h"

namespace dd::http {

namespace {

void generate_base64(Api& api, const httplib::Request& request, httplib::Response& response) {
  const JsonBody body(request.body);
  service::NewJob job;
  job.account_id = api.account(request);
  job.dialect = "generation";
  auto& spec = job.spec;
  read_fields(body, generation_fields(), spec);
  InputImage init;
  if (auto image = body.string("image", api.options.max_body_bytes)) {
    init = save_input_image_base64(api, *image, "image");
    spec.init_image_path = init.path;
    // Inpainting repaints the masked area from scratch unless asked to keep some of it.
    if (body.has("mask")) spec.dialect_defaults.strength = 1.0;
  } else if (body.has("strength")) {
    throw bad_parameter("strength", "strength needs an image");
  }
  if (auto mask = body.string("mask", api.options.max_body_bytes)) {
    if (spec.init_image_path.empty()) throw bad_parameter("mask", "a mask needs an image");
    spec.mask_path = save_input_image_base64(api, *mask, "mask", &init).path;
  }
  const auto images = generate_now(api, job);
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = 0; i < images.size(); ++i)
    data.push_back({{"timings", {{"inference", images[i].inference_seconds}}},
                    {"index", i},
                    {"b64_json", io::base64_encode(images[i].bytes)}});
  send_json(response,
            {{"model", spec.model.empty() ? api.service.models().default_model_id() : spec.model},
             {"object", "list"},
             {"data", data},
             {"message", "Image generated successfully"},
             {"status", "success"}});
}

}  // namespace

const Fields& generation_fields() {
  static const Fields fields = [] {
    Fields f = {
        model_field("model"),
        prompt_field("prompt"),
        steps_field("num_steps", 150),
        cfg_field("guidance_scale", 0, 30),
        side_field("width"),
        side_field("height"),
        negative_prompt_field("negative_prompt"),
        seed_field("seed"),
        samples_field("n"),
        sampler_field("sampler"),
        {.name = "image",
         .type = FieldType::String,
         .target = {},
         .doc = "img2img: the starting picture, base64 PNG, JPEG or WebP (its size is kept)",
         .max = -1},
        {.name = "mask",
         .type = FieldType::String,
         .target = {},
         .doc = "Inpainting: base64 mask, white = repaint (strength then defaults to 1)",
         .max = -1},
        strength_field("strength"),
        clip_skip_field("clip_skip"),
    };
    add_micro_fields(f, FieldCase::Snake);
    add_flux_fields(f, FieldCase::Snake);
    return f;
  }();
  return fields;
}

void add_generation_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  // The seed's own text-to-image example sends its JSON body with GET: GetBodyServer serves a
  // GET with a body as this POST; a GET without one is answered like an empty POST.
  auto handler = guarded([&api](const auto& req, auto& res) { generate_base64(api, req, res); });
  server.Post("/api/v1/images/generation", handler);
  server.Get("/api/v1/images/generation", handler);
}

}  // namespace dd::http
