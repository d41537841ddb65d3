// The OpenAI Images API (API.md section 5), the dialect most existing clients speak:
// POST /v1/images/generations (JSON), POST /v1/images/edits (multipart/form-data) and
// GET /v1/models. Errors use OpenAI's shape. Images returned by URL are published, because
// OpenAI clients fetch those URLs without our key.
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <regex>

#include "http/api.h"
#include "http/json_body.h"
#include "http/micro_conditioning_fields.h"
#include "http/openai_edit_mask.h"
#include "http/sync_generation.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "io/image_resize.h"

namespace dd::http {

namespace {

constexpr int64_t kMaxSeed = (int64_t(1) << 53) - 1;
constexpr int kMinSide = 64;
constexpr int kMaxSide = 1024;
constexpr int kMaxImages = 4;
constexpr size_t kMaxPromptLength = 32000;

struct Size {
  int width = 0;  // 0 = the model's default
  int height = 0;
};

bool valid_side(int side) { return side >= kMinSide && side <= kMaxSide && side % 8 == 0; }

// "WxH", digits only, each side a multiple of 8 within the limits.
Size parse_size(const std::string& text) {
  static const std::regex pattern(R"(([0-9]{1,5})x([0-9]{1,5}))");
  std::smatch match;
  const std::string message =
      "size must be \"WIDTHxHEIGHT\" with sides that are multiples of 8 "
      "between " +
      std::to_string(kMinSide) + " and " + std::to_string(kMaxSide) + ", e.g. \"512x512\"";
  if (!std::regex_match(text, match, pattern)) throw bad_parameter("size", message);
  const Size size{std::stoi(match[1]), std::stoi(match[2])};
  if (!valid_side(size.width) || !valid_side(size.height)) throw bad_parameter("size", message);
  return size;
}

enum class ResponseFormat { Url, Base64 };

ResponseFormat parse_response_format(const std::optional<std::string>& text) {
  if (!text || *text == "url") return ResponseFormat::Url;
  if (*text == "b64_json") return ResponseFormat::Base64;
  throw bad_parameter("response_format", "response_format must be \"url\" or \"b64_json\"");
}

std::string parse_output_format(const std::optional<std::string>& text) {
  if (!text) return "png";
  try {
    return io::canonical_image_format(*text, "output_format");
  } catch (const Error& e) {
    throw bad_parameter("output_format", e.what());
  }
}

// OpenAI clients often name OpenAI's own models (some send one by default); those mean "the
// server's default model". Any other name must be one of ours.
std::string model_for(Api& api, const std::optional<std::string>& requested) {
  if (!requested) return "";
  const std::string& name = *requested;
  const bool openai_name = name.rfind("dall-e", 0) == 0 || name.rfind("gpt-image", 0) == 0;
  if (openai_name && !api.service.models().find(name)) return "";
  return name;
}

nlohmann::json images_response(Api& api, const httplib::Request& request,
                               const std::vector<GeneratedImage>& images, ResponseFormat format,
                               const std::string& prompt) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& image : images) {
    nlohmann::json item = {{"revised_prompt", prompt}};
    if (format == ResponseFormat::Base64) {
      item["b64_json"] = io::base64_encode(image.bytes);
    } else {
      const auto published = api.service.images().publish(image.image_id, image.record.account_id);
      if (!published || !published->public_token)
        throw ApiError(500, "internal_error", "could not publish image " + image.image_id);
      item["url"] = api.base_url(request) + "/public/images/" + *published->public_token;
    }
    data.push_back(std::move(item));
  }
  return {{"created", service::now_ms() / 1000}, {"data", std::move(data)}};
}

void generations(Api& api, const httplib::Request& request, httplib::Response& response) {
  service::NewJob job;
  job.account_id = api.account(request);
  job.dialect = "openai";
  const JsonBody body(request.body);
  auto& spec = job.spec;
  spec.prompt = body.required_string("prompt", kMaxPromptLength);
  spec.model = model_for(api, body.string("model", 200));
  spec.samples = static_cast<int>(body.integer("n", 1, kMaxImages).value_or(1));
  if (const auto size = body.string("size", 20)) {
    const auto parsed = parse_size(*size);
    spec.width = parsed.width;
    spec.height = parsed.height;
  }
  const auto format = parse_response_format(body.string("response_format", 20));
  spec.format = parse_output_format(body.string("output_format", 20));
  body.string("user", 500);  // accepted for compatibility; only its type is checked
  spec.negative_prompt = body.string("negative_prompt").value_or("");
  spec.seed = body.integer("seed", -1, kMaxSeed).value_or(-1);
  read_micro_conditioning(body, FieldCase::Snake, spec);
  spec.steps = static_cast<int>(body.integer("steps", 1, 150).value_or(0));
  spec.cfg = body.number("guidance_scale", 0, 50).value_or(-1);
  spec.sampler = body.string("sampler", 100).value_or("");
  const auto images = generate_now(api, job);
  send_json(response, images_response(api, request, images, format, spec.prompt));
}

// Text fields of a multipart form (cpp-httplib keeps every part, text or file, in `files`).
std::optional<std::string> form_text(const httplib::Request& request, const std::string& name,
                                     size_t max_length) {
  if (!request.has_file(name.c_str())) return std::nullopt;
  const auto part = request.get_file_value(name.c_str());
  if (!part.filename.empty()) throw bad_parameter(name, name + " must be a text field, not a file");
  if (part.content.size() > max_length)
    throw bad_parameter(name,
                        name + " is longer than " + std::to_string(max_length) + " characters");
  return part.content;
}

std::optional<int64_t> form_integer(const httplib::Request& request, const std::string& name,
                                    int64_t min, int64_t max) {
  const auto text = form_text(request, name, 30);
  if (!text) return std::nullopt;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < min || value > max)
    throw bad_parameter(name, name + " must be a whole number between " + std::to_string(min) +
                                  " and " + std::to_string(max));
  return value;
}

std::optional<double> form_number(const httplib::Request& request, const std::string& name,
                                  double min, double max) {
  const auto text = form_text(request, name, 30);
  if (!text) return std::nullopt;
  const JsonBody parsed(nlohmann::json{{name, nlohmann::json::parse(*text, nullptr, false)}});
  return parsed.number(name, min, max);
}

// The uploaded picture of a form field ("image" or, as newer clients send it, "image[]"), with
// its alpha channel: transparency marks where to edit.
std::optional<io::ImageWithAlpha> form_image(const httplib::Request& request,
                                             const std::string& name) {
  std::string field = name;
  if (!request.has_file(field.c_str())) field = name + "[]";
  if (!request.has_file(field.c_str())) return std::nullopt;
  const auto part = request.get_file_value(field.c_str());
  try {
    return io::decode_image_with_alpha(
        std::vector<uint8_t>(part.content.begin(), part.content.end()), name);
  } catch (const Error& e) {
    throw bad_parameter(name, e.what());
  }
}

// Without `size`, an edit keeps the picture's size, snapped to what the models accept.
int snapped_side(int side) { return std::clamp((side + 4) / 8 * 8, kMinSide, kMaxSide); }

// The worker runs img2img at the input's own size, so inputs are resized to the requested one.
std::string save_sized_input(Api& api, const io::Image& image, const Size& size,
                             const std::string& param) {
  const io::Image sized = image.width == size.width && image.height == size.height
                              ? image
                              : io::resize_image(image, size.width, size.height);
  return save_input_image(api, io::encode_png(sized), param);
}

void edits(Api& api, const httplib::Request& request, httplib::Response& response) {
  service::NewJob job;
  job.account_id = api.account(request);
  job.dialect = "openai";
  if (!request.is_multipart_form_data())
    throw ApiError(400, "invalid_request", "the body must be multipart/form-data");
  auto& spec = job.spec;
  spec.prompt = form_text(request, "prompt", kMaxPromptLength).value_or("");
  if (spec.prompt.empty()) throw bad_parameter("prompt", "prompt is required");
  const auto image = form_image(request, "image");
  if (!image) throw bad_parameter("image", "image is required (a PNG, JPEG or WebP file)");
  const auto mask_upload = form_image(request, "mask");
  Size size{snapped_side(image->image.width), snapped_side(image->image.height)};
  if (const auto text = form_text(request, "size", 20)) size = parse_size(*text);
  spec.model = model_for(api, form_text(request, "model", 200));
  spec.samples = static_cast<int>(form_integer(request, "n", 1, kMaxImages).value_or(1));
  const auto format = parse_response_format(form_text(request, "response_format", 20));
  spec.format = parse_output_format(form_text(request, "output_format", 20));
  spec.negative_prompt = form_text(request, "negative_prompt", kMaxPromptLength).value_or("");
  spec.seed = form_integer(request, "seed", -1, kMaxSeed).value_or(-1);
  spec.steps = static_cast<int>(form_integer(request, "steps", 1, 150).value_or(0));
  spec.cfg = form_number(request, "guidance_scale", 0, 50).value_or(-1);
  spec.sampler = form_text(request, "sampler", 100).value_or("");
  // Inpainting repaints the masked area from scratch unless asked to keep some of it.
  spec.strength = form_number(request, "strength", 0.01, 1).value_or(1.0);
  const io::Image mask = openai_edit_mask(*image, mask_upload);
  spec.width = size.width;
  spec.height = size.height;
  spec.init_image_path = save_sized_input(api, image->image, size, "image");
  spec.mask_path = save_sized_input(api, mask, size, "mask");
  const auto images = generate_now(api, job);
  send_json(response, images_response(api, request, images, format, spec.prompt));
}

int64_t modified_seconds(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_mtime) : 0;
}

nlohmann::json model_object(const service::ModelInfo& model) {
  return {{"id", model.id},
          {"object", "model"},
          {"created", modified_seconds(model.path)},
          {"owned_by", "diffusiond"}};
}

}  // namespace

void add_openai_api(httplib::Server& server, Api& api) {
  constexpr auto openai = ErrorStyle::OpenAI;
  server.Post(
      "/v1/images/generations",
      guarded([&api](const auto& request, auto& response) { generations(api, request, response); },
              openai));
  server.Post("/v1/images/edits", guarded([&api](const auto& request,
                                                 auto& response) { edits(api, request, response); },
                                          openai));
  server.Get("/v1/models", guarded(
                               [&api](const auto& request, auto& response) {
                                 api.account(request);
                                 nlohmann::json data = nlohmann::json::array();
                                 for (const auto& model : api.service.models().list())
                                   if (model.available()) data.push_back(model_object(model));
                                 send_json(response, {{"object", "list"}, {"data", data}});
                               },
                               openai));
  server.Get(R"(/v1/models/(.+))", guarded(
                                       [&api](const auto& request, auto& response) {
                                         api.account(request);
                                         const std::string name = request.matches[1];
                                         const auto model = api.service.models().find(name);
                                         if (!model || !model->available())
                                           throw not_found("model " + name);
                                         send_json(response, model_object(*model));
                                       },
                                       openai));
}

}  // namespace dd::http
