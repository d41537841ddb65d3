// The models directory, for an operator: POST /v0/api/models/rescan reads it again (a model
// added, replaced or removed since the start is seen without a restart; loaded models still
// listed stay loaded) and answers every model with its state and the default model.
#include "http/api.h"

namespace dd::http {

namespace {

nlohmann::json model_json(const service::ModelInfo& model) {
  nlohmann::json item = {{"id", model.id},
                         {"aliases", model.aliases},
                         {"family", model.family},
                         {"fast", model.fast},
                         {"loaded", model.loaded},
                         {"available", model.available()},
                         {"textToImage", model.serves_text_to_image()},
                         {"description", model.description}};
  if (!model.available()) item["error"] = model.error;
  return item;
}

}  // namespace

void add_models_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Post("/v0/api/models/rescan", guarded([&api](const auto& request, auto& response) {
                api.account(request);
                auto& models = api.service.models();
                models.rescan();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& model : models.list()) list.push_back(model_json(model));
                send_json(response, {{"success", true},
                                     {"defaultModel", models.default_model_id()},
                                     {"models", list}});
              }));
}

}  // namespace dd::http
