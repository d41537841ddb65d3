// AUTOMATIC1111's endpoints around generation: options, what can be named, the caller's
// progress (with a preview), interrupting it, and reading a picture's parameters.
#include "http/a1111_options.h"
#include "http/a1111_request.h"
#include "io/base64.h"
#include "io/image.h"
#include "io/image_codec.h"
#include "sampling/sampler_catalogue.h"

namespace dd::http {

namespace {

using nlohmann::json;

json sd_models(Api& api) {
  json list = json::array();
  for (const auto& model : api.service.models().list()) {
    if (!model.available()) continue;
    // The title is what clients send back as sd_model_checkpoint: the model's id.
    list.push_back({{"title", model.id},
                    {"model_name", model.id},
                    {"hash", nullptr},
                    {"sha256", nullptr},
                    {"filename", model.path},  // made relative to the models directory
                    {"config", nullptr}});
  }
  return list;
}

json samplers() {
  json list = json::array();
  for (const auto& row : sampling::sampler_catalogue()) {
    json aliases = json::array({row.name});
    for (const auto& alias : row.aliases) aliases.push_back(alias);
    list.push_back({{"name", row.display_name}, {"aliases", aliases}, {"options", json::object()}});
  }
  return list;
}

json loras(Api& api) {
  json list = json::array();
  for (const auto& name : api.service.models().lora_names())
    list.push_back({{"name", name},
                    {"alias", name},
                    {"path", api.service.models().lora_path(name).value_or("")},
                    {"metadata", json::object()}});
  return list;
}

// A1111's shared.state.dict() of the caller's current job (all zero without one).
json progress(Api& api, const std::string& account, bool skip_image) {
  json state = {{"skipped", false}, {"interrupted", false}, {"stopping_generation", false},
                {"job", ""},        {"job_count", 0},       {"job_timestamp", "0"},
                {"job_no", 0},      {"sampling_step", 0},   {"sampling_steps", 0}};
  json answer = {{"progress", 0.0},
                 {"eta_relative", 0.0},
                 {"state", state},
                 {"current_image", nullptr},
                 {"textinfo", nullptr}};
  const auto job = api.service.jobs().current(account);
  if (!job) return answer;
  answer["state"]["job"] = job->id;
  answer["state"]["job_count"] = 1;
  answer["state"]["job_timestamp"] = std::to_string(job->created_ms / 1000);
  if (job->status == service::JobStatus::Created) {
    answer["textinfo"] = "Queued";
    return answer;
  }
  answer["textinfo"] = "Sampling";
  const auto live = api.service.events().progress(job->id);
  if (!live) return answer;
  answer["state"]["sampling_step"] = live->step;
  answer["state"]["sampling_steps"] = live->steps;
  if (live->steps > 0) answer["progress"] = static_cast<double>(live->step) / live->steps;
  answer["eta_relative"] = std::max(0.0, live->eta);
  if (live->preview && !skip_image) answer["current_image"] = io::base64_encode(*live->preview);
  return answer;
}

// A1111's parse of a parameters text: "Prompt", "Negative prompt" and each "Key: value" of its
// last line (Size also as Size-1 and Size-2).
json parse_parameters(const std::string& text) {
  json out = json::object();
  if (text.empty()) return out;
  std::vector<std::string> lines;
  for (size_t start = 0; start <= text.size();) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::string settings;
  if (lines.size() > 1 && lines.back().find("Steps: ") != std::string::npos) {
    settings = lines.back();
    lines.pop_back();
  }
  std::string prompt, negative;
  bool in_negative = false;
  for (const auto& line : lines) {
    std::string& target = in_negative ? negative : prompt;
    if (!in_negative && line.rfind("Negative prompt: ", 0) == 0) {
      in_negative = true;
      negative = line.substr(17);
      continue;
    }
    target += (target.empty() ? "" : "\n") + line;
  }
  out["Prompt"] = prompt;
  out["Negative prompt"] = negative;
  for (size_t start = 0; start < settings.size();) {
    size_t end = settings.find(", ", start);
    if (end == std::string::npos) end = settings.size();
    const std::string item = settings.substr(start, end - start);
    const size_t colon = item.find(": ");
    if (colon != std::string::npos) {
      const std::string key = item.substr(0, colon), value = item.substr(colon + 2);
      out[key] = value;
      const size_t x = value.find('x');
      if (key == "Size" && x != std::string::npos) {
        out["Size-1"] = value.substr(0, x);
        out["Size-2"] = value.substr(x + 1);
      }
    }
    start = end + 2;
  }
  return out;
}

json png_info(Api& api, const std::string& body_text) {
  const JsonBody body(body_text);
  const auto image = body.required_string("image", api.options.max_body_bytes);
  std::vector<uint8_t> bytes;
  try {
    bytes = io::base64_decode(image, "image");
  } catch (const Error& e) {
    throw bad_parameter("image", e.what());
  }
  json items = json::object();
  std::string parameters;
  const std::string format = io::sniff_image_format(bytes);
  if (format.empty()) throw bad_parameter("image", "image is not a PNG, JPEG or WebP picture");
  if (format == "png") {
    try {
      for (const auto& [key, value] : io::decode_png_text(bytes, "image")) {
        if (key == "parameters")
          parameters = value;
        else
          items[key] = value;
      }
    } catch (const Error& e) {
      throw bad_parameter("image", e.what());
    }
  }
  return {{"info", parameters}, {"items", items}, {"parameters", parse_parameters(parameters)}};
}

}  // namespace

void add_a1111_info_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Get("/sdapi/v1/options", guarded([&api](const auto& request, auto& response) {
               send_json(response, a1111_options(api, api.account(request)));
             }));
  server.Post("/sdapi/v1/options", guarded([&api](const auto& request, auto& response) {
                const std::string account = api.account(request);
                set_a1111_options(api, account, JsonBody(request.body).json());
                send_json(response, nullptr);
              }));
  server.Get("/sdapi/v1/sd-models", guarded([&api](const auto& request, auto& response) {
               api.account(request);
               send_json(response, sd_models(api));
             }));
  server.Get("/sdapi/v1/samplers", guarded([&api](const auto& request, auto& response) {
               api.account(request);
               send_json(response, samplers());
             }));
  server.Get("/sdapi/v1/schedulers", guarded([&api](const auto& request, auto& response) {
               api.account(request);
               send_json(response, a1111_schedulers());
             }));
  server.Get("/sdapi/v1/loras", guarded([&api](const auto& request, auto& response) {
               api.account(request);
               send_json(response, loras(api));
             }));
  server.Get("/sdapi/v1/progress", guarded([&api](const auto& request, auto& response) {
               const bool skip = request.get_param_value("skip_current_image") == "true";
               send_json(response, progress(api, api.account(request), skip));
             }));
  server.Post("/sdapi/v1/interrupt", guarded([&api](const auto& request, auto& response) {
                const std::string account = api.account(request);
                const auto job = api.service.jobs().current(account);
                if (job && job->status == service::JobStatus::InProgress)
                  api.service.jobs().cancel(job->id, account);
                send_json(response, json::object());
              }));
  server.Post("/sdapi/v1/png-info", guarded([&api](const auto& request, auto& response) {
                api.account(request);
                send_json(response, png_info(api, request.body));
              }));
}

}  // namespace dd::http
