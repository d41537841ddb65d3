// The image-object API (API.md section 4, seed 003): images are objects of an account with a
// name; `imagine` generates one, the rest lists, fetches, deletes, publishes and transforms
// them. Publishing gives an unguessable public address, GET /public/images/<token>, that serves
// the bytes without a key until the image is unpublished or deleted.
#include <charconv>

#include "http/api.h"
#include "http/dialect_fields.h"
#include "http/json_body.h"
#include "http/sync_generation.h"
#include "io/image_codec.h"
#include "io/image_resize.h"

namespace dd::http {

namespace {

constexpr int kMaxTransformSide = 4096;
constexpr int kMaxNameLength = 200;

nlohmann::json image_object(const service::ImageRecord& record, const std::string& base_url) {
  return {{"id", record.id},
          {"name", record.name},
          {"url", record.public_token
                      ? nlohmann::json(base_url + "/public/images/" + *record.public_token)
                      : nlohmann::json()},
          {"width", record.width},
          {"height", record.height},
          {"format", record.format},
          {"size", record.size},
          {"created_at", iso8601(record.created_ms)}};
}

service::ImageRecord image_of(Api& api, const std::string& id, const std::string& account) {
  auto record = api.service.images().get(id, account);
  if (!record) throw not_found("image " + id);
  return *record;
}

// A whole-number query parameter within [min, max]; absent = nullopt.
std::optional<int64_t> query_integer(const httplib::Request& request, const std::string& name,
                                     int64_t min, int64_t max) {
  if (!request.has_param(name.c_str())) return std::nullopt;
  const std::string text = request.get_param_value(name.c_str());
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw bad_parameter(name, name + " must be a whole number between " + std::to_string(min) +
                                  " and " + std::to_string(max));
  return value;
}

std::string requested_format(const JsonBody& body, const std::string& fallback) {
  const auto format = body.string("format", 20);
  if (!format) return fallback;
  try {
    return io::canonical_image_format(*format, "format");
  } catch (const Error& e) {
    throw bad_parameter("format", e.what());
  }
}

void imagine(Api& api, const httplib::Request& request, httplib::Response& response) {
  const std::string account = api.account(request);
  const JsonBody body(request.body);
  service::NewJob job;
  job.account_id = account;
  job.dialect = "images";
  read_fields(body, imagine_fields(), job.spec);
  job.spec.image_name = *body.string("name", kMaxNameLength);
  if (job.spec.model.empty()) job.spec.model = api.service.models().fast_model_id();
  const auto images = generate_now(api, job);
  if (images.empty()) throw ApiError(500, "internal_error", "the job produced no image");
  send_json(response, image_object(images.front().record, api.base_url(request)));
}

void list_images(Api& api, const httplib::Request& request, httplib::Response& response) {
  const std::string account = api.account(request);
  const int64_t limit = query_integer(request, "limit", 1, 100).value_or(20);
  int64_t offset = query_integer(request, "offset", 0, 1'000'000'000).value_or(0);
  if (const auto page = query_integer(request, "page", 1, 1'000'000)) {
    if (request.has_param("offset"))
      throw bad_parameter("page", "give either page or offset, not both");
    offset = (*page - 1) * limit;
  }
  const std::string name = request.get_param_value("name");
  if (name.size() > kMaxNameLength) throw bad_parameter("name", "name is too long");
  const auto& store = api.service.images();
  nlohmann::json data = nlohmann::json::array();
  const std::string base_url = api.base_url(request);
  for (const auto& record :
       store.list(account, name, static_cast<int>(limit), static_cast<int>(offset)))
    data.push_back(image_object(record, base_url));
  send_json(response, {{"object", "list"},
                       {"data", data},
                       {"total", store.count(account, name)},
                       {"limit", limit},
                       {"offset", offset}});
}

void send_image_bytes(Api& api, const service::ImageRecord& record, httplib::Response& response) {
  response.status = 200;
  response.set_content(api.service.images().read_bytes(record),
                       service::ImageStore::content_type(record.format).c_str());
}

// A requested side for `transform`: absent keeps the aspect ratio of the other side when one
// is given, else the original size.
int transform_side(std::optional<int64_t> wanted, std::optional<int64_t> other, int original,
                   int original_other) {
  if (wanted) return static_cast<int>(*wanted);
  if (!other) return original;
  const double scaled = static_cast<double>(*other) * original / original_other;
  return std::max(1, static_cast<int>(scaled + 0.5));
}

void transform(Api& api, const httplib::Request& request, httplib::Response& response) {
  const std::string account = api.account(request);
  const auto source = image_of(api, request.matches[1], account);
  // No body at all means "no change": a copy in the same format and size.
  const JsonBody body =
      request.body.empty() ? JsonBody(nlohmann::json::object()) : JsonBody(request.body);
  const std::string format = requested_format(body, source.format);
  const auto width = body.integer("width", 1, kMaxTransformSide);
  const auto height = body.integer("height", 1, kMaxTransformSide);
  const int quality = static_cast<int>(body.integer("quality", 1, 100).value_or(90));

  io::Image image = io::decode_image(
      [&] {
        const std::string bytes = api.service.images().read_bytes(source);
        return std::vector<uint8_t>(bytes.begin(), bytes.end());
      }(),
      "image " + source.id);
  const int out_width = transform_side(width, height, image.width, image.height);
  const int out_height = transform_side(height, width, image.height, image.width);
  if (out_width > kMaxTransformSide || out_height > kMaxTransformSide)
    throw bad_parameter(width ? "height" : "width", "the transformed image would be larger than " +
                                                        std::to_string(kMaxTransformSide) +
                                                        " pixels on a side");
  if (out_width != image.width || out_height != image.height)
    image = io::resize_image(image, out_width, out_height);
  const auto bytes = io::encode_image(image, format, quality);
  const auto created =
      api.service.images().store(account, source.name, std::string(bytes.begin(), bytes.end()),
                                 format, image.width, image.height);
  send_json(response, image_object(created, api.base_url(request)), 201);
}

void add_image_object_routes(Routes& server, Api& api) {
  const std::string image = R"(/v1/images/([^/]+))";
  server.Get(image, guarded([&api](const auto& request, auto& response) {
               const auto record = image_of(api, request.matches[1], api.account(request));
               send_json(response, image_object(record, api.base_url(request)));
             }));
  server.Get(image + "/content", guarded([&api](const auto& request, auto& response) {
               send_image_bytes(api, image_of(api, request.matches[1], api.account(request)),
                                response);
             }));
  server.Delete(image, guarded([&api](const auto& request, auto& response) {
                  const std::string id = request.matches[1];
                  if (!api.service.images().remove(id, api.account(request)))
                    throw not_found("image " + id);
                  send_json(response, {{"id", id}, {"object", "image"}, {"deleted", true}});
                }));
  // Publishing twice keeps the first address, so links already shared stay valid.
  server.Post(image + "/publish", guarded([&api](const auto& request, auto& response) {
                const std::string id = request.matches[1];
                const auto record = api.service.images().publish(id, api.account(request));
                if (!record) throw not_found("image " + id);
                send_json(response, image_object(*record, api.base_url(request)));
              }));
  server.Post(image + "/unpublish", guarded([&api](const auto& request, auto& response) {
                const std::string id = request.matches[1];
                const auto record = api.service.images().unpublish(id, api.account(request));
                if (!record) throw not_found("image " + id);
                send_json(response, image_object(*record, api.base_url(request)));
              }));
  server.Post(image + "/transform", guarded([&api](const auto& request, auto& response) {
                transform(api, request, response);
              }));
}

}  // namespace

const Fields& imagine_fields() {
  static const Fields fields = [] {
    Fields f = {
        {.name = "name",
         .type = FieldType::String,
         .target = {},
         .doc = "The image object's name",
         .max = kMaxNameLength,
         .required = true},
        prompt_field("prompt"),
        negative_prompt_field("negative_prompt"),
        seed_field("seed"),
        model_field("model"),
        format_field("format"),
        side_field("width"),
        side_field("height"),
        steps_field("steps", 150),
        cfg_field("guidance_scale", 0, pipeline::limits::kMaxCfg),
        sampler_field("sampler"),
        clip_skip_field("clip_skip"),
    };
    f[4].doc = "Model id or alias (default: the server's fast model)";
    add_micro_fields(f, FieldCase::Snake);
    add_flux_fields(f, FieldCase::Snake);
    return f;
  }();
  return fields;
}

const Fields& transform_fields() {
  static const Fields fields = [] {
    Fields f = {
        format_field("format"),
        {.name = "width",
         .type = FieldType::Integer,
         .target = {},
         .doc = "New width (default: keeps the aspect ratio of a given height, else the same)",
         .min = 1,
         .max = kMaxTransformSide},
        {.name = "height",
         .type = FieldType::Integer,
         .target = {},
         .doc = "New height (default: as width)",
         .min = 1,
         .max = kMaxTransformSide},
        {.name = "quality",
         .type = FieldType::Integer,
         .target = {},
         .doc = "JPEG / WebP quality (default 90)",
         .min = 1,
         .max = 100},
    };
    f[0].target = {};  // read by the handler: the default is the source's format
    f[0].doc = "png, jpeg or webp (default: the source's format)";
    return f;
  }();
  return fields;
}

void add_images_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Post("/v1/images/imagine", guarded([&api](const auto& request, auto& response) {
                imagine(api, request, response);
              }));
  server.Get("/v1/images", guarded([&api](const auto& request, auto& response) {
               list_images(api, request, response);
             }));
  add_image_object_routes(server, api);
  // No key here: the unguessable token is the permission, until unpublish or delete.
  server.Get(R"(/public/images/([A-Za-z0-9_-]{1,128}))",
             guarded([&api](const auto& request, auto& response) {
               const auto record = api.service.images().by_public_token(request.matches[1]);
               if (!record) throw not_found("image");
               send_image_bytes(api, *record, response);
             }));
}

}  // namespace dd::http
