#include "service/job.h"

#include <chrono>
#include <limits>

#include "util/error.h"

namespace dd::service {

namespace {

constexpr std::pair<JobStatus, const char*> kStatusNames[] = {
    {JobStatus::Created, "CREATED"},     {JobStatus::InProgress, "IN_PROGRESS"},
    {JobStatus::Success, "SUCCESS"},     {JobStatus::Failed, "FAILED"},
    {JobStatus::Cancelled, "CANCELLED"},
};

// Reads an optional field of a stored spec: absent or null keeps the default, so specs
// written by an older build still load; a present value of the wrong type is an error.
class SpecReader {
 public:
  explicit SpecReader(const nlohmann::json& json) : json_(json) {}

  void text(const char* key, std::string& out) const {
    if (const auto* value = find(key)) {
      if (!value->is_string()) wrong_type(key, "a string");
      out = value->get<std::string>();
    }
  }
  template <typename Int>
  void integer(const char* key, Int& out) const {
    if (const auto* value = find(key)) {
      if (!value->is_number_integer()) wrong_type(key, "an integer");
      const auto wide = value->get<int64_t>();
      const bool too_big_unsigned =
          value->is_number_unsigned() &&
          value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      if (too_big_unsigned || wide < std::numeric_limits<Int>::min() ||
          wide > std::numeric_limits<Int>::max())
        throw Error(std::string("job spec: '") + key + "' is out of range");
      out = static_cast<Int>(wide);
    }
  }
  void number(const char* key, double& out) const {
    if (const auto* value = find(key)) {
      if (!value->is_number()) wrong_type(key, "a number");
      out = value->get<double>();
    }
  }
  const nlohmann::json* find(const char* key) const {
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] static void wrong_type(const std::string& key, const char* expected) {
    throw Error("job spec: '" + key + "' must be " + expected);
  }

 private:
  const nlohmann::json& json_;
};

nlohmann::json lora_to_json(const LoraRef& lora) {
  return {{"name", lora.name}, {"path", lora.path}, {"weight", lora.weight}, {"meta", lora.meta}};
}

LoraRef lora_from_json(const nlohmann::json& json, size_t index) {
  const std::string where = "loras[" + std::to_string(index) + "]";
  if (!json.is_object()) SpecReader::wrong_type(where, "an object");
  LoraRef lora;
  try {
    SpecReader reader(json);
    reader.text("name", lora.name);
    reader.text("path", lora.path);
    reader.number("weight", lora.weight);
    if (const auto* meta = reader.find("meta")) {
      if (!meta->is_object()) SpecReader::wrong_type("meta", "an object");
      lora.meta = *meta;
    }
  } catch (const Error& e) {
    // Name the element: "job spec: 'loras[1].weight' must be a number".
    std::string message = e.what();
    const auto quote = message.find('\'');
    if (quote != std::string::npos) message.insert(quote + 1, where + ".");
    throw Error(message);
  }
  return lora;
}

using Pair = std::optional<std::array<int, 2>>;

nlohmann::json pair_to_json(const Pair& pair) {
  return pair ? nlohmann::json::array({(*pair)[0], (*pair)[1]}) : nlohmann::json();
}

nlohmann::json micro_to_json(const pipeline::MicroConditioning& micro) {
  return {{"original_size", pair_to_json(micro.original_size)},
          {"crop_top_left", pair_to_json(micro.crop_top_left)},
          {"target_size", pair_to_json(micro.target_size)}};
}

pipeline::MicroConditioning micro_from_json(const nlohmann::json* json, const std::string& where) {
  pipeline::MicroConditioning micro;
  if (!json) return micro;
  if (!json->is_object()) SpecReader::wrong_type(where, "an object");
  auto read = [&](const char* key, Pair& out) {
    auto it = json->find(key);
    if (it == json->end() || it->is_null()) return;
    auto small_int = [](const nlohmann::json& v) {
      return v.is_number_integer() && v.get<int64_t>() >= -1000000 && v.get<int64_t>() <= 1000000;
    };
    if (!it->is_array() || it->size() != 2 || !small_int((*it)[0]) || !small_int((*it)[1]))
      SpecReader::wrong_type(where + "." + key, "two integers");
    out = std::array<int, 2>{(*it)[0].get<int>(), (*it)[1].get<int>()};
  };
  read("original_size", micro.original_size);
  read("crop_top_left", micro.crop_top_left);
  read("target_size", micro.target_size);
  return micro;
}

}  // namespace

const char* status_name(JobStatus status) {
  for (const auto& [value, name] : kStatusNames)
    if (value == status) return name;
  return "UNKNOWN";
}

std::optional<JobStatus> parse_status(const std::string& name) {
  for (const auto& [value, text] : kStatusNames)
    if (name == text) return value;
  return std::nullopt;
}

bool is_final(JobStatus status) {
  return status == JobStatus::Success || status == JobStatus::Failed ||
         status == JobStatus::Cancelled;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

nlohmann::json JobSpec::to_json() const {
  nlohmann::json loras_json = nlohmann::json::array();
  for (const auto& lora : loras) loras_json.push_back(lora_to_json(lora));
  return {{"model", model},
          {"prompt", prompt},
          {"negative_prompt", negative_prompt},
          {"conditioned_prompt", conditioned_prompt},
          {"width", width},
          {"height", height},
          {"steps", steps},
          {"cfg", cfg},
          {"sampler", sampler},
          {"spacing", spacing},
          {"seed", seed},
          {"samples", samples},
          {"loras", loras_json},
          {"init_image_path", init_image_path},
          {"mask_path", mask_path},
          {"strength", strength},
          {"format", format},
          {"quality", quality},
          {"image_name", image_name},
          {"micro", micro_to_json(micro)},
          {"negative_micro", micro_to_json(negative_micro)}};
}

JobSpec JobSpec::from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error("job spec must be a JSON object");
  JobSpec spec;
  SpecReader reader(json);
  reader.text("model", spec.model);
  reader.text("prompt", spec.prompt);
  reader.text("negative_prompt", spec.negative_prompt);
  reader.text("conditioned_prompt", spec.conditioned_prompt);
  reader.integer("width", spec.width);
  reader.integer("height", spec.height);
  reader.integer("steps", spec.steps);
  reader.number("cfg", spec.cfg);
  reader.text("sampler", spec.sampler);
  reader.text("spacing", spec.spacing);
  reader.integer("seed", spec.seed);
  reader.integer("samples", spec.samples);
  if (const auto* loras = reader.find("loras")) {
    if (!loras->is_array()) SpecReader::wrong_type("loras", "an array");
    for (size_t i = 0; i < loras->size(); ++i) spec.loras.push_back(lora_from_json((*loras)[i], i));
  }
  reader.text("init_image_path", spec.init_image_path);
  reader.text("mask_path", spec.mask_path);
  reader.number("strength", spec.strength);
  reader.text("format", spec.format);
  reader.integer("quality", spec.quality);
  reader.text("image_name", spec.image_name);
  spec.micro = micro_from_json(reader.find("micro"), "micro");
  spec.negative_micro = micro_from_json(reader.find("negative_micro"), "negative_micro");
  return spec;
}

}  // namespace dd::service
