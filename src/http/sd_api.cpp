// The synchronous bytes API (seed 001, API.md section 2): POST /sd answers with the image bytes;
// GET /models, /samplers and /loras list what a request may name.
#include "http/api.h"
#include "http/dialect_fields.h"
#include "http/json_body.h"
#include "http/sync_generation.h"
#include "pipeline/sampler_names.h"

namespace dd::http {

namespace {

constexpr int kMaxLoras = 5;
constexpr int kMaxToken = 200;
// Seed 001's own defaults: 30 steps (below a model's own), CFG scale 7 (the engine's too).
constexpr int kSeedDocumentSteps = 30;

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
  job.account_id = api.account(request, body.string("token", kMaxToken).value_or(""));
  job.dialect = "sd";
  read_fields(body, sd_fields(), job.spec);
  job.spec.loras = sd_loras(body);
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

const Fields& sd_fields() {
  static const Fields fields = [] {
    Fields f = {
        {.name = "token",
         .type = FieldType::String,
         .target = {},
         .doc = "The API key, when not sent as a header",
         .max = kMaxToken},
        model_field("model"),
        prompt_field("prompt"),
        negative_prompt_field("negative_prompt"),
        sampler_field("sampler"),
        steps_field("steps", 30, kSeedDocumentSteps),
        side_field("width"),
        side_field("height"),
        cfg_field("cfg_scale", 1, 30),
        {.name = "loras",
         .type = FieldType::Object,
         .target = {},
         .doc = "{\"name\": weight}, at most 5, names from GET /loras"},
        seed_field("seed"),
        format_field("format"),
        clip_skip_field("clip_skip"),
    };
    add_micro_fields(f, FieldCase::Snake);
    add_flux_fields(f, FieldCase::Snake);
    return f;
  }();
  return fields;
}

void add_sd_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Post("/sd",
              guarded([&api](const auto& req, auto& res) { generate_bytes(api, req, res); }));
  server.Get("/models", guarded([&api](const auto& req, auto& res) {
               api.account(req);
               send_json(res, model_names(api));
             }));
  server.Get("/samplers", guarded([&api](const auto& req, auto& res) {
               api.account(req);
               nlohmann::json names = nlohmann::json::array();
               for (const auto& row : sampling::sampler_catalogue())
                 names.push_back(row.display_name);
               send_json(res, names);
             }));
  server.Get("/loras", guarded([&api](const auto& req, auto& res) {
               api.account(req);
               send_json(res, api.service.models().lora_names());
             }));
}

}  // namespace dd::http
