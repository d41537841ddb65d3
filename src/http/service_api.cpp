// The endpoints about the service itself: liveness, readiness, Prometheus metrics, the OpenAPI
// description of every dialect, and GET /files/<job-id>/<name> (a job's output image).
#include <sstream>

#include "http/api.h"

namespace dd::http {

namespace {

// ---- /metrics -------------------------------------------------------------------------------

void metric_header(std::ostream& out, const std::string& name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

void write_histogram(std::ostream& out, const std::string& name, const char* help,
                     const service::Histogram& histogram) {
  metric_header(out, name, "histogram", help);
  for (size_t i = 0; i < histogram.bounds.size(); ++i)
    out << name << "_bucket{le=\"" << histogram.bounds[i] << "\"} " << histogram.counts[i] << '\n';
  out << name << "_bucket{le=\"+Inf\"} " << histogram.count << '\n';
  out << name << "_sum " << histogram.sum << '\n' << name << "_count " << histogram.count << '\n';
}

std::string metrics_text(service::Service& service) {
  std::ostringstream out;
  metric_header(out, "diffusiond_queue_depth", "gauge", "Jobs waiting to run.");
  out << "diffusiond_queue_depth " << service.jobs().queued_count() << '\n';
  metric_header(out, "diffusiond_queue_capacity", "gauge", "Queued jobs accepted at most.");
  out << "diffusiond_queue_capacity " << service.options().max_queue << '\n';

  metric_header(out, "diffusiond_jobs", "gauge", "Jobs in the database by status.");
  const auto counts = service.jobs().counts();
  for (auto status :
       {service::JobStatus::Created, service::JobStatus::InProgress, service::JobStatus::Success,
        service::JobStatus::Failed, service::JobStatus::Cancelled}) {
    const auto found = counts.find(status);
    out << "diffusiond_jobs{status=\"" << service::status_name(status) << "\"} "
        << (found == counts.end() ? 0 : found->second) << '\n';
  }

  const auto stats = service.worker().stats().snapshot();
  metric_header(out, "diffusiond_jobs_finished_total", "counter",
                "Jobs this process finished, by outcome.");
  out << "diffusiond_jobs_finished_total{status=\"SUCCESS\"} " << stats.jobs_succeeded << '\n'
      << "diffusiond_jobs_finished_total{status=\"FAILED\"} " << stats.jobs_failed << '\n'
      << "diffusiond_jobs_finished_total{status=\"CANCELLED\"} " << stats.jobs_cancelled << '\n';
  metric_header(out, "diffusiond_images_generated_total", "counter",
                "Images this process generated.");
  out << "diffusiond_images_generated_total " << stats.images_generated << '\n';
  metric_header(out, "diffusiond_worker_busy", "gauge", "1 while a job is running.");
  out << "diffusiond_worker_busy " << (stats.running_job.empty() ? 0 : 1) << '\n';
  write_histogram(out, "diffusiond_step_seconds", "Time of one sampler step.", stats.step_seconds);
  write_histogram(out, "diffusiond_image_seconds", "Generation time per image.",
                  stats.image_seconds);

  metric_header(out, "diffusiond_models_loaded", "gauge", "Models held in memory.");
  out << "diffusiond_models_loaded " << service.models().loaded_count() << '\n';
  metric_header(out, "diffusiond_model_bytes", "gauge", "Parameter bytes of the loaded models.");
  out << "diffusiond_model_bytes " << service.models().loaded_bytes() << '\n';
  return out.str();
}

// ---- /ready ---------------------------------------------------------------------------------

// Models load lazily on first use, so "ready" means the default model can be served (loaded,
// or available to load), the worker runs and the queue has room.
nlohmann::json readiness(service::Service& service) {
  nlohmann::json problems = nlohmann::json::array();
  const std::string model_id = service.models().default_model_id();
  const auto model = model_id.empty() ? std::nullopt : service.models().find(model_id);
  if (!model)
    problems.push_back("no model is available");
  else if (!model->available())
    problems.push_back("model " + model->id + " is unavailable: " + model->error);
  if (!service.worker().running()) problems.push_back("the worker is not running");
  const int64_t queued = service.jobs().queued_count();
  if (queued >= service.options().max_queue) problems.push_back("the queue is full");
  return {{"status", problems.empty() ? "ready" : "unavailable"},
          {"default_model", model_id},
          {"default_model_loaded", model && model->loaded},
          {"models_loaded", service.models().loaded_count()},
          {"queue_depth", queued},
          {"max_queue", service.options().max_queue},
          {"problems", problems}};
}

// ---- /openapi.json --------------------------------------------------------------------------

// One row per endpoint. `fields`: the request body's fields as "name:type", "*" marking the
// required ones; type "file" makes the body multipart/form-data. `returns`: json | image | text.
struct RouteDoc {
  const char* method;
  const char* path;  // OpenAPI template: {id} parameters
  const char* tag;
  const char* summary;
  const char* fields;
  const char* returns;
  bool needs_key;
};

// SDXL micro-conditioning extension fields (http/micro_conditioning_fields.h).
#define SDXL_MICRO_FIELDS                                                                       \
  " original_size:pair crops_coords_top_left:pair target_size:pair negative_original_size:pair" \
  " negative_crops_coords_top_left:pair negative_target_size:pair"

constexpr RouteDoc kRoutes[] = {
    {"post", "/v0/api/images", "jobs", "Queue an image job",
     "prompt*:string negativePrompt:string width:integer height:integer samples:integer "
     "seed:integer guidanceScale:number webhookUrl:string webhookId:string model:string "
     "steps:integer sampler:string"
     " originalSize:pair cropsCoordsTopLeft:pair targetSize:pair negativeOriginalSize:pair"
     " negativeCropsCoordsTopLeft:pair negativeTargetSize:pair",
     "json", true},
    {"get", "/v0/api/jobs/{id}", "jobs", "A job with its status history and output files", "",
     "json", true},
    {"post", "/v0/api/jobs/{id}/cancel", "jobs", "Cancel a queued or running job", "", "json",
     true},
    {"post", "/v0/api/characters", "jobs", "Register a LoRA as a character",
     "name*:string class*:string triggerWord*:string lora*:string", "json", true},
    {"get", "/v0/api/characters", "jobs", "List characters", "", "json", true},
    {"get", "/v0/api/characters/{id}", "jobs", "A character", "", "json", true},
    {"delete", "/v0/api/characters/{id}", "jobs", "Delete a character", "", "json", true},
    {"post", "/sd", "sd", "Generate and answer with the image bytes",
     "token:string model:string prompt*:string negative_prompt:string sampler:string "
     "steps:integer width:integer height:integer cfg_scale:number loras:object seed:integer "
     "format:string" SDXL_MICRO_FIELDS,
     "image", true},
    {"get", "/models", "sd", "Models that can be named", "", "json", true},
    {"get", "/samplers", "sd", "Samplers that can be named", "", "json", true},
    {"get", "/loras", "sd", "LoRAs that can be named", "", "json", true},
    {"post", "/api/v1/images/generation", "generation",
     "Generate base64 images (text-to-image, image-to-image, inpainting)",
     "model:string prompt*:string num_steps:integer guidance_scale:number width:integer "
     "height:integer negative_prompt:string seed:integer n:integer sampler:string image:string "
     "mask:string strength:number" SDXL_MICRO_FIELDS,
     "json", true},
    {"post", "/v1/images/imagine", "images", "Generate an image object",
     "name*:string prompt*:string negative_prompt:string seed:integer model:string "
     "format:string" SDXL_MICRO_FIELDS,
     "json", true},
    {"get", "/v1/images", "images", "List image objects, newest first (limit, offset|page, name)",
     "", "json", true},
    {"get", "/v1/images/{id}", "images", "An image object", "", "json", true},
    {"delete", "/v1/images/{id}", "images", "Delete an image", "", "json", true},
    {"get", "/v1/images/{id}/content", "images", "The image bytes", "", "image", true},
    {"post", "/v1/images/{id}/publish", "images", "Give the image a public address", "", "json",
     true},
    {"post", "/v1/images/{id}/unpublish", "images", "Withdraw the public address", "", "json",
     true},
    {"post", "/v1/images/{id}/transform", "images", "A new image: converted and/or resized",
     "format:string width:integer height:integer quality:integer", "json", true},
    {"get", "/public/images/{token}", "images", "A published image's bytes (no key)", "", "image",
     false},
    {"post", "/v1/images/generations", "openai", "OpenAI: create images",
     "prompt*:string model:string n:integer size:string response_format:string user:string "
     "output_format:string negative_prompt:string seed:integer steps:integer "
     "guidance_scale:number sampler:string" SDXL_MICRO_FIELDS,
     "json", true},
    {"post", "/v1/images/edits", "openai",
     "OpenAI: edit an image where the mask (or, without one, the image) is transparent",
     "image*:file mask:file prompt*:string model:string n:integer size:string "
     "response_format:string output_format:string negative_prompt:string seed:integer "
     "steps:integer guidance_scale:number sampler:string strength:number",
     "json", true},
    {"get", "/v1/models", "openai", "OpenAI: list models", "", "json", true},
    {"get", "/v1/models/{id}", "openai", "OpenAI: a model", "", "json", true},
    {"get", "/files/{jobId}/{name}", "service", "An output image of a job", "", "image", true},
    {"get", "/health", "service", "Liveness", "", "json", false},
    {"get", "/ready", "service", "Readiness: a model can serve and the queue has room", "", "json",
     false},
    {"get", "/metrics", "service", "Prometheus metrics", "", "text", false},
    {"get", "/openapi.json", "service", "This document", "", "json", false},
};

nlohmann::json path_parameters(const std::string& path) {
  nlohmann::json parameters = nlohmann::json::array();
  for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
    const size_t close = path.find('}', open);
    parameters.push_back({{"name", path.substr(open + 1, close - open - 1)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
  }
  return parameters;
}

nlohmann::json request_body(const std::string& fields) {
  nlohmann::json properties = nlohmann::json::object();
  nlohmann::json required = nlohmann::json::array();
  bool multipart = false;
  std::istringstream words(fields);
  for (std::string word; words >> word;) {
    const size_t colon = word.find(':');
    std::string name = word.substr(0, colon);
    const std::string type = word.substr(colon + 1);
    if (name.back() == '*') {
      name.pop_back();
      required.push_back(name);
    }
    multipart = multipart || type == "file";
    if (type == "file")
      properties[name] = {{"type", "string"}, {"format", "binary"}};
    else if (type == "pair")  // [height, width] or [top, left]
      properties[name] = {
          {"type", "array"}, {"items", {{"type", "integer"}}}, {"minItems", 2}, {"maxItems", 2}};
    else
      properties[name] = {{"type", type}};
  }
  nlohmann::json schema = {{"type", "object"}, {"properties", properties}};
  if (!required.empty()) schema["required"] = required;
  const char* media = multipart ? "multipart/form-data" : "application/json";
  return {{"required", true}, {"content", {{media, {{"schema", schema}}}}}};
}

nlohmann::json responses(const std::string& returns) {
  const char* media = returns == "image"  ? "image/png"
                      : returns == "text" ? "text/plain"
                                          : "application/json";
  nlohmann::json schema = returns == "image"
                              ? nlohmann::json{{"type", "string"}, {"format", "binary"}}
                          : returns == "text" ? nlohmann::json{{"type", "string"}}
                                              : nlohmann::json{{"type", "object"}};
  const nlohmann::json error = {
      {"description",
       "An error: {\"success\": false, \"error\": {code, message, param}}, or "
       "OpenAI's {\"error\": {message, type, param, code}} in the openai tag"},
      {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  return {{"200", {{"description", "OK"}, {"content", {{media, {{"schema", schema}}}}}}},
          {"4XX", error},
          {"5XX", error}};
}

nlohmann::json openapi_document() {
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& route : kRoutes) {
    nlohmann::json operation = {
        {"tags", {route.tag}}, {"summary", route.summary}, {"responses", responses(route.returns)}};
    const auto parameters = path_parameters(route.path);
    if (!parameters.empty()) operation["parameters"] = parameters;
    if (*route.fields) operation["requestBody"] = request_body(route.fields);
    if (!route.needs_key) operation["security"] = nlohmann::json::array();
    paths[route.path][route.method] = operation;
  }
  return {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "diffusiond"},
        {"version", "1.0.0"},
        {"description", "Self-hosted text-to-image service; see API.md for the contract."}}},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
          {"apiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "x-api-key"}}}}}}},
      {"security", {{{"bearer", nlohmann::json::array()}}, {{"apiKey", nlohmann::json::array()}}}},
      {"paths", paths}};
}

// ---- /files/<job-id>/<name> -----------------------------------------------------------------

// The ids in the address are looked up in the database, never used as file paths.
void send_output_file(Api& api, const httplib::Request& request, httplib::Response& response) {
  const std::string account = api.account(request);
  const std::string job_id = request.matches[1];
  const std::string name = request.matches[2];
  const auto job = api.service.jobs().get(job_id, account);
  if (!job) throw not_found("file");
  for (const auto& output : job->outputs) {
    if (output.name != name) continue;
    const auto record = api.service.images().get(output.image_id, account);
    if (!record) break;
    response.status = 200;
    response.set_content(api.service.images().read_bytes(*record),
                         service::ImageStore::content_type(record->format).c_str());
    return;
  }
  throw not_found("file");
}

}  // namespace

void add_service_endpoints(httplib::Server& server, Api& api) {
  server.Get("/health", guarded([](const auto&, auto& response) {
               send_json(response, {{"status", "ok"}});
             }));
  server.Get("/ready", guarded([&api](const auto&, auto& response) {
               const auto state = readiness(api.service);
               send_json(response, state, state["status"] == "ready" ? 200 : 503);
             }));
  server.Get("/metrics", guarded([&api](const auto&, auto& response) {
               response.set_content(metrics_text(api.service), "text/plain; version=0.0.4");
             }));
  server.Get("/openapi.json", guarded([](const auto&, auto& response) {
               static const std::string document = openapi_document().dump(2);
               response.set_content(document, "application/json");
             }));
  server.Get(R"(/files/([^/]+)/([^/]+))", guarded([&api](const auto& request, auto& response) {
               send_output_file(api, request, response);
             }));
}

}  // namespace dd::http
