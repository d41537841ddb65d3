#include "http/jobs_inputs.h"

#include <cmath>
#include <filesystem>

#include "http/request_fields.h"
#include "http/sync_generation.h"

namespace dd::http {

namespace {

constexpr double kMaxLoraWeight = 10;  // as /sd's `loras` and A1111's <lora:NAME:WEIGHT>
constexpr size_t kMaxLoraName = 200;

service::LoraRef jobs_lora(const nlohmann::json& item, size_t index) {
  const std::string where = "loras[" + std::to_string(index) + "]";
  if (!item.is_object())
    throw bad_parameter("loras", where + " must be an object {\"name\", \"weight\"}");
  const auto name = item.find("name");
  if (name == item.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    throw bad_parameter("loras", where + ".name must be a LoRA's name (GET /loras)");
  if (name->get_ref<const std::string&>().size() > kMaxLoraName)
    throw bad_parameter(
        "loras", where + ".name is longer than " + std::to_string(kMaxLoraName) + " characters");
  service::LoraRef lora;
  lora.name = name->get<std::string>();
  if (const auto weight = item.find("weight"); weight != item.end() && !weight->is_null()) {
    if (!weight->is_number() || !std::isfinite(weight->get<double>()) ||
        std::abs(weight->get<double>()) > kMaxLoraWeight)
      throw bad_parameter("loras", where + ".weight must be a number between -10 and 10");
    lora.weight = weight->get<double>();
  }
  return lora;
}

// The job runs at the picture's size, so a size asked for beside it must be that size.
void check_size_matches(const service::JobSpec& spec, const InputImage& image) {
  auto check = [&](const char* name, const std::optional<int>& asked, int actual) {
    if (asked && *asked != actual)
      throw bad_parameter(
          name, std::string(name) + " " + std::to_string(*asked) + " differs from the image's " +
                    std::to_string(image.width) + "x" + std::to_string(image.height) +
                    "; img2img runs at the image's size (leave " + name + " out or give that)");
  };
  check("width", spec.params.width, image.width);
  check("height", spec.params.height, image.height);
}

InputImage stored_input(Api& api, const std::string& base64, const std::string& param,
                        StoredInputs& stored, const InputImage* same_size_as = nullptr) {
  const InputImage image = save_input_image_base64(api, base64, param, same_size_as);
  stored.add(image.path);
  if (image.width > field_limits::kMaxSide || image.height > field_limits::kMaxSide)
    throw bad_parameter(param, param + " is " + std::to_string(image.width) + "x" +
                                   std::to_string(image.height) + "; the jobs API makes images " +
                                   "of at most " + std::to_string(field_limits::kMaxSide) +
                                   " pixels on a side");
  return image;
}

}  // namespace

std::vector<service::LoraRef> jobs_loras(const JsonBody& body) {
  std::vector<service::LoraRef> loras;
  if (!body.has("loras")) return loras;
  const auto& list = body.json().at("loras");
  if (!list.is_array())
    throw bad_parameter("loras", "loras must be an array of {\"name\", \"weight\"}");
  if (list.size() > pipeline::limits::kMaxLoras)
    throw bad_parameter("loras",
                        "at most " + std::to_string(pipeline::limits::kMaxLoras) + " LoRAs");
  for (size_t i = 0; i < list.size(); ++i) loras.push_back(jobs_lora(list[i], i));
  return loras;
}

StoredInputs::~StoredInputs() {
  for (const auto& path : paths_) {
    std::error_code ignored;  // nothing more to do about a file that cannot be removed
    std::filesystem::remove(path, ignored);
  }
}

void read_jobs_image_inputs(Api& api, const JsonBody& body, service::JobSpec& spec,
                            StoredInputs& stored) {
  const auto image_text = body.string("image", api.options.max_body_bytes);
  const auto mask_text = body.string("mask", api.options.max_body_bytes);
  if (!image_text) {
    if (mask_text) throw bad_parameter("mask", "a mask needs an image");
    if (body.has("strength")) throw bad_parameter("strength", "strength needs an image");
    return;
  }
  const InputImage image = stored_input(api, *image_text, "image", stored);
  check_size_matches(spec, image);
  spec.init_image_path = image.path;
  if (mask_text) {
    spec.mask_path = stored_input(api, *mask_text, "mask", stored, &image).path;
    // Inpainting repaints the masked area from scratch unless asked to keep some of it.
    spec.dialect_defaults.strength = 1.0;
  }
}

}  // namespace dd::http
