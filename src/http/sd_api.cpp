// The synchronous bytes API (seed 001, API.md section 2): POST /sd answers with the image bytes;
// GET /models, /samplers and /loras list what a request may name.
#include "http/api.h"
#include "http/json_body.h"
#include "http/micro_conditioning_fields.h"
#include "http/sync_generation.h"
#include "io/image_codec.h"
#include "pipeline/sampler_names.h"

namespace dd::http {

namespace {

constexpr int kMaxLoras = 5;

std::vector<service::LoraRef> sd_loras(const JsonBody& body) {
  std::vector<service::LoraRef> loras;
  const auto* dict = body.object("loras");
  if (!dict) return loras;
  if (dict->size() > kMaxLoras) throw bad_parameter("loras", "at most 5 LoRAs");
  for (auto it = dict->begin(); it != dict->end(); ++it) {
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>()) ||
        std::abs(it.value().get<double>()) > 10)
      throw bad_parameter(
          "loras", "the weight of LoRA '" + it.key() + "' must be a number between -10 and 10");
    loras.push_back({it.key(), "", it.value().get<double>(), nlohmann::json::object()});
  }
  return loras;
}

void generate_bytes(Api& api, const httplib::Request& request, httplib::Response& response) {
  const JsonBody body(request.body);
  service::NewJob job;
  job.account_id = api.account(request, body.string("token", 200).value_or(""));
  job.dialect = "sd";
  auto& spec = job.spec;
  spec.prompt = body.required_string("prompt");
  spec.model = body.string("model", 200).value_or("");
  spec.negative_prompt = body.string("negative_prompt").value_or("");
  spec.sampler = body.string("sampler", 100).value_or("");
  spec.steps = static_cast<int>(body.integer("steps", 1, 30).value_or(0));
  spec.width = body.image_side("width");
  spec.height = body.image_side("height");
  spec.cfg = body.number("cfg_scale", 1, 30).value_or(-1);
  spec.seed = body.integer("seed", -1, 4294967295LL).value_or(-1);
  if (auto format = body.string("format", 20)) {
    try {
      spec.format = io::canonical_image_format(*format, "format");
    } catch (const Error& e) {
      throw bad_parameter("format", e.what());
    }
  }
  spec.loras = sd_loras(body);
  read_micro_conditioning(body, FieldCase::Snake, spec);
  const auto images = generate_now(api, job);
  const auto& image = images.at(0);
  response.set_header("X-Seed", std::to_string(image.seed));
  response.set_content(image.bytes, service::ImageStore::content_type(image.format).c_str());
}

nlohmann::json model_names(Api& api) {
  nlohmann::json names = nlohmann::json::array();
  for (const auto& model : api.service.models().list()) {
    if (!model.error.empty()) continue;
    names.push_back(model.id);
    for (const auto& alias : model.aliases) names.push_back(alias);
  }
  return names;
}

}  // namespace

void add_sd_api(httplib::Server& server, Api& api) {
  server.Post("/sd",
              guarded([&api](const auto& req, auto& res) { generate_bytes(api, req, res); }));
  server.Get("/models", guarded([&api](const auto& req, auto& res) {
               api.account(req);
               send_json(res, model_names(api));
             }));
  server.Get("/samplers", guarded([&api](const auto& req, auto& res) {
               api.account(req);
               nlohmann::json names = nlohmann::json::array();
               for (const auto& name : pipeline::accepted_sampler_names())
                 if (pipeline::canonical_sampler_name(name) != name)
                   names.push_back(name);  // display names
               send_json(res, names);
             }));
  server.Get("/loras", guarded([&api](const auto& req, auto& res) {
               api.account(req);
               send_json(res, api.service.models().lora_names());
             }));
}

}  // namespace dd::http
