// The endpoints about the service itself: liveness, readiness, Prometheus metrics, the OpenAPI
// description of every dialect, and GET /files/<job-id>/<name> (a job's output image).
#include <algorithm>
#include <sstream>

#include "http/api.h"
#include "http/dialect_fields.h"

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

// Models load lazily on first use, so "ready" means some model can serve text-to-image (loaded,
// or available to load: not inpainting-only, not unreadable, not failed to load), the worker
// runs and the queue has room.
nlohmann::json readiness(service::Service& service) {
  nlohmann::json problems = nlohmann::json::array();
  const auto models = service.models().list();
  const std::string model_id = service.models().default_model_id();
  std::optional<service::ModelInfo> model;
  std::string unusable;
  for (const auto& info : models) {
    if (info.id == model_id) model = info;
    if (info.serves_text_to_image()) continue;
    unusable += (unusable.empty() ? "" : "; ") + info.id + ": " +
                (info.available() ? "inpainting only" : info.error);
  }
  if (std::none_of(models.begin(), models.end(),
                   [](const auto& info) { return info.serves_text_to_image(); }))
    problems.push_back("no model can serve text-to-image" +
                       (models.empty() ? std::string(" (the models directory holds none)")
                                       : " (" + unusable + ")"));
  const int64_t workers = service.live_workers();
  if (workers == 0)
    problems.push_back(service.shared_database() ? "no worker is alive (none has sent a heartbeat "
                                                   "within its lease)"
                                                 : "the worker is not running");
  const int64_t queued = service.jobs().queued_count();
  if (queued >= service.options().max_queue) problems.push_back("the queue is full");
  return {{"status", problems.empty() ? "ready" : "unavailable"},
          {"default_model", model_id},
          {"default_model_loaded", model && model->loaded},
          {"models_loaded", service.models().loaded_count()},
          {"queue_depth", queued},
          {"workers", workers},
          {"max_queue", service.options().max_queue},
          {"problems", problems}};
}

// ---- /openapi.json --------------------------------------------------------------------------

// One row per endpoint. `fields`: the dialect's field table (http/dialect_fields.h), or nullptr
// for a route without a body. `returns`: json | image | text | events (Server-Sent Events).
struct RouteDoc {
  const char* method;
  const char* path;  // OpenAPI template: {id} parameters
  const char* tag;
  const char* summary;
  const Fields& (*fields)();
  const char* returns;
  bool needs_key;
};

constexpr RouteDoc kRoutes[] = {
    {"post", "/v0/api/images", "jobs", "Queue an image job", jobs_image_fields, "json", true},
    {"get", "/v0/api/jobs/{id}", "jobs", "A job with its status history and output files", nullptr,
     "json", true},
    {"post", "/v0/api/jobs/{id}/cancel", "jobs", "Cancel a queued or running job", nullptr, "json",
     true},
    {"get", "/v0/api/jobs/{id}/events", "jobs",
     "The job's status, progress and previews as Server-Sent Events, ending with the job object; "
     "Last-Event-ID (or ?last_event_id=) resumes",
     nullptr, "events", true},
    {"get", "/v0/api/jobs/{id}/preview", "jobs", "The latest preview of a job (PNG)", nullptr,
     "image", true},
    {"post", "/v0/api/characters", "jobs", "Register a LoRA as a character", jobs_character_fields,
     "json", true},
    {"get", "/v0/api/characters", "jobs", "List characters", nullptr, "json", true},
    {"get", "/v0/api/characters/{id}", "jobs", "A character", nullptr, "json", true},
    {"delete", "/v0/api/characters/{id}", "jobs", "Delete a character", nullptr, "json", true},
    {"get", "/v0/api/webhook-secret", "jobs",
     "The webhook signing secret of the caller's account: {success, webhookSecret}", nullptr,
     "json", true},
    {"post", "/v0/api/webhook-secret/rotate", "jobs",
     "Replace the account's webhook secret with a new random one: {success, webhookSecret}",
     nullptr, "json", true},
    {"post", "/v0/api/models/rescan", "jobs",
     "Read the models directory again: {success, defaultModel, models}", nullptr, "json", true},
    {"post", "/sd", "sd", "Generate and answer with the image bytes", sd_fields, "image", true},
    {"get", "/models", "sd", "Models that can be named", nullptr, "json", true},
    {"get", "/samplers", "sd", "Samplers that can be named", nullptr, "json", true},
    {"get", "/loras", "sd", "LoRAs that can be named", nullptr, "json", true},
    {"post", "/api/v1/images/generation", "generation",
     "Generate base64 images (text-to-image, image-to-image, inpainting)", generation_fields,
     "json", true},
    {"post", "/v1/images/imagine", "images", "Generate an image object", imagine_fields, "json",
     true},
    {"get", "/v1/images", "images", "List image objects, newest first (limit, offset|page, name)",
     nullptr, "json", true},
    {"get", "/v1/images/{id}", "images", "An image object", nullptr, "json", true},
    {"delete", "/v1/images/{id}", "images", "Delete an image", nullptr, "json", true},
    {"get", "/v1/images/{id}/content", "images", "The image bytes", nullptr, "image", true},
    {"post", "/v1/images/{id}/publish", "images", "Give the image a public address", nullptr,
     "json", true},
    {"post", "/v1/images/{id}/unpublish", "images", "Withdraw the public address", nullptr, "json",
     true},
    {"post", "/v1/images/{id}/transform", "images", "A new image: converted and/or resized",
     transform_fields, "json", true},
    {"get", "/public/images/{token}", "images", "A published image's bytes (no key)", nullptr,
     "image", false},
    {"post", "/v1/images/generations", "openai", "OpenAI: create images", openai_generation_fields,
     "json", true},
    {"post", "/v1/images/edits", "openai",
     "OpenAI: edit an image where the mask (or, without one, the image) is transparent",
     openai_edit_fields, "json", true},
    {"get", "/v1/models", "openai", "OpenAI: list models", nullptr, "json", true},
    {"get", "/v1/models/{id}", "openai", "OpenAI: a model", nullptr, "json", true},
    {"post", "/sdapi/v1/txt2img", "a1111", "AUTOMATIC1111: text to image", a1111_txt2img_fields,
     "json", true},
    {"post", "/sdapi/v1/img2img", "a1111", "AUTOMATIC1111: image to image and inpainting",
     a1111_img2img_fields, "json", true},
    {"get", "/sdapi/v1/progress", "a1111",
     "AUTOMATIC1111: the caller's current job, with a preview", nullptr, "json", true},
    {"post", "/sdapi/v1/interrupt", "a1111", "AUTOMATIC1111: cancel the caller's running job",
     nullptr, "json", true},
    {"get", "/sdapi/v1/options", "a1111", "AUTOMATIC1111: options", nullptr, "json", true},
    {"post", "/sdapi/v1/options", "a1111",
     "AUTOMATIC1111: set sd_model_checkpoint, the caller's default model", nullptr, "json", true},
    {"get", "/sdapi/v1/sd-models", "a1111", "AUTOMATIC1111: models", nullptr, "json", true},
    {"get", "/sdapi/v1/samplers", "a1111", "AUTOMATIC1111: samplers", nullptr, "json", true},
    {"get", "/sdapi/v1/schedulers", "a1111", "AUTOMATIC1111: schedulers", nullptr, "json", true},
    {"get", "/sdapi/v1/loras", "a1111", "AUTOMATIC1111: LoRAs", nullptr, "json", true},
    {"post", "/sdapi/v1/png-info", "a1111",
     "AUTOMATIC1111: a picture's parameters text ({image: base64})", nullptr, "json", true},
    {"get", "/files/{jobId}/{name}", "service", "An output image of a job", nullptr, "image", true},
    {"get", "/health", "service", "Liveness", nullptr, "json", false},
    {"get", "/ready", "service", "Readiness: a model can serve and the queue has room", nullptr,
     "json", false},
    {"get", "/metrics", "service", "Prometheus metrics", nullptr, "text", false},
    {"get", "/openapi.json", "service", "This document", nullptr, "json", false},
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

nlohmann::json responses(const std::string& returns) {
  const char* media = returns == "image"    ? "image/png"
                      : returns == "text"   ? "text/plain"
                      : returns == "events" ? "text/event-stream"
                                            : "application/json";
  nlohmann::json schema = returns == "image"
                              ? nlohmann::json{{"type", "string"}, {"format", "binary"}}
                          : returns == "json" ? nlohmann::json{{"type", "object"}}
                                              : nlohmann::json{{"type", "string"}};
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
    if (route.fields) operation["requestBody"] = openapi_request_body(route.fields());
    if (!route.needs_key) operation["security"] = nlohmann::json::array();
    paths[route.path][route.method] = operation;
  }
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "diffusiond"},
            {"version", "1.0.0"},
            {"description", "Self-hosted text-to-image service; see API.md for the contract."}}},
          {"components",
           {{"securitySchemes",
             {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
              // AUTOMATIC1111 clients: user = the key's name, password = the key.
              {"basic", {{"type", "http"}, {"scheme", "basic"}}},
              {"apiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "x-api-key"}}}}}}},
          {"security",
           {{{"bearer", nlohmann::json::array()}},
            {{"apiKey", nlohmann::json::array()}},
            {{"basic", nlohmann::json::array()}}}},
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

void add_service_endpoints(httplib::Server& http, Api& api) {
  Routes server(http, api);
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
