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

// A spec stored before GenerationParams (flat fields, "unset" written as 0, -1 or ""): the
// fields it set, so jobs accepted by an older build still run after an upgrade.
pipeline::GenerationParams legacy_params(const nlohmann::json& json) {
  nlohmann::json fields = nlohmann::json::object();
  auto keep = [&](const char* key, auto&& is_set) {
    const auto it = json.find(key);
    if (it != json.end() && !it->is_null() && is_set(*it)) fields[key] = *it;
  };
  auto always = [](const nlohmann::json&) { return true; };
  auto positive = [](const nlohmann::json& v) { return !v.is_number() || v.get<double>() > 0; };
  auto non_negative = [](const nlohmann::json& v) {
    return !v.is_number() || v.get<double>() >= 0;
  };
  auto non_empty = [](const nlohmann::json& v) {
    return !v.is_string() || !v.get<std::string>().empty();
  };
  for (const char* key : {"prompt", "negative_prompt", "samples", "strength"}) keep(key, always);
  for (const char* key : {"width", "height", "steps"}) keep(key, positive);
  for (const char* key : {"cfg", "seed"}) keep(key, non_negative);
  for (const char* key : {"sampler", "spacing"}) keep(key, non_empty);
  for (const char* group : {"micro", "negative_micro"}) {
    const auto it = json.find(group);
    if (it == json.end() || it->is_null()) continue;
    if (!it->is_object()) SpecReader::wrong_type(group, "an object");
    const std::string prefix = std::string(group) == "micro" ? "" : "negative_";
    for (const char* key : {"original_size", "crop_top_left", "target_size"})
      if (it->contains(key) && !it->at(key).is_null()) fields[prefix + key] = it->at(key);
  }
  return pipeline::GenerationParams::from_json(fields, "job spec: ");
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
          {"params", params.to_json()},
          {"dialect_defaults", dialect_defaults.to_json()},
          {"conditioned_prompt", conditioned_prompt},
          {"loras", loras_json},
          {"init_image_path", init_image_path},
          {"mask_path", mask_path},
          {"format", format},
          {"quality", quality},
          {"image_name", image_name}};
}

JobSpec JobSpec::from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error("job spec must be a JSON object");
  JobSpec spec;
  SpecReader reader(json);
  reader.text("model", spec.model);
  if (const auto* params = reader.find("params"))
    spec.params = pipeline::GenerationParams::from_json(*params, "job spec: params: ");
  else
    spec.params = legacy_params(json);
  if (const auto* defaults = reader.find("dialect_defaults"))
    spec.dialect_defaults =
        pipeline::GenerationParams::from_json(*defaults, "job spec: dialect_defaults: ");
  reader.text("conditioned_prompt", spec.conditioned_prompt);
  if (const auto* loras = reader.find("loras")) {
    if (!loras->is_array()) SpecReader::wrong_type("loras", "an array");
    for (size_t i = 0; i < loras->size(); ++i) spec.loras.push_back(lora_from_json((*loras)[i], i));
  }
  reader.text("init_image_path", spec.init_image_path);
  reader.text("mask_path", spec.mask_path);
  reader.text("format", spec.format);
  reader.integer("quality", spec.quality);
  reader.text("image_name", spec.image_name);
  return spec;
}

nlohmann::json outputs_to_json(const std::vector<OutputFile>& outputs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& file : outputs)
    out.push_back({{"name", file.name},
                   {"path", file.path},
                   {"created_ms", file.created_ms},
                   {"size", file.size},
                   {"image_id", file.image_id},
                   {"seed", file.seed},
                   {"inference_seconds", file.inference_seconds}});
  return out;
}

std::vector<OutputFile> outputs_from_json(const nlohmann::json& json, const std::string& job_id) {
  std::vector<OutputFile> outputs;
  try {
    for (const auto& item : json) {
      OutputFile file;
      file.name = item.at("name").get<std::string>();
      file.path = item.at("path").get<std::string>();
      file.created_ms = item.at("created_ms").get<int64_t>();
      file.size = item.at("size").get<int64_t>();
      file.image_id = item.at("image_id").get<std::string>();
      file.seed = item.at("seed").get<int64_t>();
      file.inference_seconds = item.at("inference_seconds").get<double>();
      outputs.push_back(std::move(file));
    }
  } catch (const nlohmann::json::exception&) {
    throw Error("database: job " + job_id + " has corrupt output records");
  }
  return outputs;
}

}  // namespace dd::service
