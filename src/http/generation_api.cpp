// The OpenAI-style generation API (seed 002, API.md section 3): POST /api/v1/images/generation
// answers with base64 images and per-image inference timings; `image` (+ `mask`) turn it into
// img2img (inpainting).
#include "http/api.h"
#include "http/json_body.h"
#include "http/micro_conditioning_fields.h"
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
  spec.prompt = body.required_string("prompt");
  spec.model = body.string("model", 200).value_or("");
  spec.negative_prompt = body.string("negative_prompt").value_or("");
  spec.steps = static_cast<int>(body.integer("num_steps", 1, 150).value_or(0));
  spec.cfg = body.number("guidance_scale", 0, 30).value_or(-1);
  spec.width = body.image_side("width");
  spec.height = body.image_side("height");
  spec.seed = body.integer("seed", -1, 4294967295LL).value_or(-1);
  read_micro_conditioning(body, FieldCase::Snake, spec);
  spec.samples = static_cast<int>(body.integer("n", 1, 4).value_or(1));
  spec.sampler = body.string("sampler", 100).value_or("");
  if (auto image = body.string("image", api.options.max_body_bytes)) {
    spec.init_image_path = save_input_image_base64(api, *image, "image");
    spec.strength = body.number("strength", 0.01, 1).value_or(body.has("mask") ? 1.0 : 0.75);
    spec.width = spec.height = 0;  // the picture's size decides
  } else if (body.has("strength")) {
    throw bad_parameter("strength", "strength needs an image");
  }
  if (auto mask = body.string("mask", api.options.max_body_bytes)) {
    if (spec.init_image_path.empty()) throw bad_parameter("mask", "a mask needs an image");
    spec.mask_path = save_input_image_base64(api, *mask, "mask");
  }
  const auto images = generate_now(api, job);
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = 0; i < images.size(); ++i)
    data.push_back({{"timings", {{"inference", images[i].inference_seconds}}},
                    {"index", i},
                    {"b64_json", io::base64_encode(images[i].bytes)}});
  send_json(response,
            {{"model", body.string("model", 200)
                           .value_or(spec.model.empty() ? api.service.models().default_model_id()
                                                        : spec.model)},
             {"object", "list"},
             {"data", data},
             {"message", "Image generated successfully"},
             {"status", "success"}});
}

}  // namespace

void add_generation_api(httplib::Server& server, Api& api) {
  // The seed's own text-to-image example sends its JSON body with GET: GetBodyServer serves a
  // GET with a body as this POST; a GET without one is answered like an empty POST.
  auto handler = guarded([&api](const auto& req, auto& res) { generate_base64(api, req, res); });
  server.Post("/api/v1/images/generation", handler);
  server.Get("/api/v1/images/generation", handler);
}

}  // namespace dd::http
