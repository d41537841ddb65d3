// The OpenAI Images API (API.md section 5), the dialect most existing clients speak:
// POST /v1/images/generations (JSON), POST /v1/images/edits (multipart/form-data) and
// GET /v1/models. Errors use OpenAI's shape. Images returned by URL are published, because
// OpenAI clients fetch those URLs without our key. With `stream: true` both image endpoints
// answer with OpenAI's event stream (http/openai_stream.h).
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <regex>

#include "http/api.h"
#include "http/dialect_fields.h"
#include "http/json_body.h"
#include "http/openai_edit_mask.h"
#include "http/openai_stream.h"
#include "http/sync_generation.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "io/image_resize.h"

namespace dd::http {

namespace {

using field_limits::kMaxSide;
using field_limits::kMinSide;
constexpr int kMaxSizeText = 20;

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

// A stream carries one image: OpenAI's events have no image index. Images are always sent as
// b64_json in it (as OpenAI streams them), whatever response_format says.
OpenAiStreamOptions stream_options(service::JobSpec& spec, const char* event_prefix,
                                   std::optional<int64_t> partial_images) {
  if (spec.params.samples.value_or(1) != 1)
    throw bad_parameter("n", "n must be 1 with stream: true (a stream carries one image)");
  spec.params.samples = 1;
  return {.event_prefix = event_prefix,
          .partial_images = static_cast<int>(partial_images.value_or(0))};
}

void generations(Api& api, const httplib::Request& request, httplib::Response& response) {
  service::NewJob job;
  job.account_id = api.account(request);
  job.dialect = "openai";
  const JsonBody body(request.body);
  auto& spec = job.spec;
  read_fields(body, openai_generation_fields(), spec);
  spec.model = model_for(api, body.string("model", field_limits::kMaxModelName));
  if (const auto size = body.string("size", kMaxSizeText)) {
    const auto parsed = parse_size(*size);
    spec.params.width = parsed.width;
    spec.params.height = parsed.height;
  }
  const auto format = parse_response_format(body.string("response_format", 20));
  if (body.boolean("stream").value_or(false)) {
    const auto options = stream_options(spec, "image_generation",
                                        body.integer("partial_images", 0, kMaxPartialImages));
    return stream_openai_images(api, job, options, response);
  }
  const auto images = generate_now(api, job);
  send_json(response, images_response(api, request, images, format, *spec.params.prompt));
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
  read_form_fields(request, openai_edit_fields(), spec);
  const auto image = form_image(request, "image");
  if (!image) throw bad_parameter("image", "image is required (a PNG, JPEG or WebP file)");
  const auto mask_upload = form_image(request, "mask");
  Size size{snapped_side(image->image.width), snapped_side(image->image.height)};
  if (const auto text = form_text(request, "size", kMaxSizeText)) size = parse_size(*text);
  spec.model = model_for(api, form_text(request, "model", field_limits::kMaxModelName));
  const auto format = parse_response_format(form_text(request, "response_format", 20));
  const io::Image mask = openai_edit_mask(*image, mask_upload);
  spec.params.width = size.width;
  spec.params.height = size.height;
  spec.init_image_path = save_sized_input(api, image->image, size, "image");
  spec.mask_path = save_sized_input(api, mask, size, "mask");
  // read_form_fields has checked both: "true"/"false" and a whole number within range.
  if (form_text(request, "stream", 10) == "true") {
    const auto partial = form_text(request, "partial_images", 10);
    const auto options = stream_options(
        spec, "image_edit", partial ? std::optional<int64_t>(std::stoll(*partial)) : std::nullopt);
    return stream_openai_images(api, job, options, response);
  }
  const auto images = generate_now(api, job);
  send_json(response, images_response(api, request, images, format, *spec.params.prompt));
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

// The rows both OpenAI endpoints share; `model`, `size` and `response_format` are read by the
// handlers (OpenAI's own model names and "WxH" sizes need translating).
Fields openai_common_fields() {
  Fields f = {
      prompt_field("prompt"),
      {.name = "model",
       .type = FieldType::String,
       .target = {},
       .doc = "Model id or alias; OpenAI's own model names mean the server's default model",
       .max = field_limits::kMaxModelName},
      samples_field("n"),
      {.name = "size",
       .type = FieldType::String,
       .target = {},
       .doc = "\"WIDTHxHEIGHT\", sides multiples of 8 within 64..1024 (default: the model's)",
       .max = kMaxSizeText},
      {.name = "response_format",
       .type = FieldType::String,
       .target = {},
       .doc = "url (default; the image is published) or b64_json",
       .max = 20},
      format_field("output_format"),
      {.name = "stream",
       .type = FieldType::Boolean,
       .target = {},
       .doc = "true: answer with OpenAI's event stream (partial images, then the image, always "
              "as b64_json); n must then be 1"},
      {.name = "partial_images",
       .type = FieldType::Integer,
       .target = {},
       .doc = "With stream: how many previews of the running image to send before it (fewer "
              "when the job makes fewer previews)",
       .min = 0,
       .max = kMaxPartialImages,
       .dialect_default = 0},
      negative_prompt_field("negative_prompt"),
      seed_field("seed"),
      steps_field("steps", 150),
      cfg_field("guidance_scale", 0, pipeline::limits::kMaxCfg),
      sampler_field("sampler"),
      clip_skip_field("clip_skip"),
  };
  add_flux_fields(f, FieldCase::Snake);
  return f;
}

}  // namespace

const Fields& openai_generation_fields() {
  static const Fields fields = [] {
    Fields f = openai_common_fields();
    f.push_back({.name = "user",
                 .type = FieldType::String,
                 .target = {},
                 .doc = "Accepted for compatibility (only its type is checked)",
                 .max = 500});
    add_micro_fields(f, FieldCase::Snake);
    return f;
  }();
  return fields;
}

const Fields& openai_edit_fields() {
  static const Fields fields = [] {
    Fields f = {{.name = "image",
                 .type = FieldType::File,
                 .target = {},
                 .doc = "The picture to edit (PNG, JPEG or WebP); transparent = repaint",
                 .required = true},
                {.name = "mask",
                 .type = FieldType::File,
                 .target = {},
                 .doc = "PNG whose transparent pixels mark where to edit"}};
    for (auto& field : openai_common_fields()) f.push_back(std::move(field));
    auto strength = strength_field("strength");
    strength.dialect_default = 1.0;  // an edit repaints the masked area from scratch by default
    f.push_back(strength);
    return f;
  }();
  return fields;
}

void add_openai_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
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
