#include "io/fixtures.h"

#include <fstream>

#include "io/tensor_file.h"
#include "util/error.h"

namespace dd::io {

namespace {

const nlohmann::json& null_json() {
  static const nlohmann::json value;
  return value;
}

// Python's json module writes Infinity, -Infinity and NaN (e.g. a scheduler's
// lambda_min_clipped), which strict JSON parsers reject. Outside strings they become the largest
// finite doubles (no value in a fixture comes near them) and null.
std::string python_json_to_strict(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (text.compare(i, 8, "Infinity") == 0) {
      out += "1.7976931348623157e308";
      i += 7;
    } else if (text.compare(i, 3, "NaN") == 0) {
      out += "null";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  const std::string text(std::istreambuf_iterator<char>(in), {});
  try {
    return nlohmann::json::parse(python_json_to_strict(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON (" + e.what() + ")");
  }
}

}  // namespace

FixtureCase::FixtureCase(std::string root, nlohmann::json spec)
    : root_(std::move(root)), spec_(std::move(spec)) {
  for (const char* field : {"name", "kind", "file"})
    if (!spec_.contains(field) || !spec_[field].is_string())
      throw Error("fixture case without a string '" + std::string(field) + "'");
}

const std::string& FixtureCase::name() const { return spec_["name"].get_ref<const std::string&>(); }
const std::string& FixtureCase::kind() const { return spec_["kind"].get_ref<const std::string&>(); }
const std::string& FixtureCase::model() const {
  static const std::string none;
  return spec_.contains("model") ? spec_["model"].get_ref<const std::string&>() : none;
}

bool FixtureCase::has_input(const std::string& input) const {
  return spec_.contains("inputs") && spec_["inputs"].contains(input);
}

bool FixtureCase::has_expected(const std::string& output) const {
  return spec_.contains("expected") && spec_["expected"].contains(output);
}

const nlohmann::json& FixtureCase::input_value(const std::string& input) const {
  if (!has_input(input)) return null_json();
  const auto& entry = spec_["inputs"][input];
  return entry.contains("value") ? entry["value"] : null_json();
}

const SafetensorsFile& FixtureCase::file() const {
  if (!file_)
    file_ = std::make_shared<SafetensorsFile>(root_ + "/" + spec_["file"].get<std::string>());
  return *file_;
}

torch::Tensor FixtureCase::tensor(const char* section, const std::string& name) const {
  if (!spec_.contains(section) || !spec_[section].contains(name) ||
      !spec_[section][name].contains("key"))
    throw Error("fixture case '" + this->name() + "' has no " + section + " tensor '" + name + "'");
  return load_tensor(file(), spec_[section][name]["key"].get<std::string>());
}

torch::Tensor FixtureCase::input(const std::string& input) const { return tensor("inputs", input); }
torch::Tensor FixtureCase::expected(const std::string& output) const {
  return tensor("expected", output);
}
torch::Tensor FixtureCase::debug(const std::string& name) const { return tensor("debug", name); }

double FixtureCase::tolerance(const std::string& output) const {
  if (!has_expected(output))
    throw Error("fixture case '" + name() + "' has no output '" + output + "'");
  const auto& entry = spec_["expected"][output];
  if (!entry.contains("tolerance")) return 0.0;
  return entry["tolerance"].value("recommended_atol", 0.0);
}

std::vector<std::string> FixtureCase::expected_names() const {
  std::vector<std::string> names;
  if (spec_.contains("expected"))
    for (auto it = spec_["expected"].begin(); it != spec_["expected"].end(); ++it)
      names.push_back(it.key());
  return names;
}

FixtureSet::FixtureSet(const std::string& dir) : root_(dir) {
  manifest_ = read_json(dir + "/manifest.json");
  if (!manifest_.contains("cases") || !manifest_["cases"].is_array())
    throw Error(dir + "/manifest.json: no 'cases' array");
  for (const auto& spec : manifest_["cases"]) cases_.emplace_back(root_, spec);
}

const FixtureCase& FixtureSet::at(const std::string& name) const {
  for (const auto& c : cases_)
    if (c.name() == name) return c;
  throw Error(root_ + ": no fixture case '" + name + "'");
}

bool FixtureSet::contains(const std::string& name) const {
  for (const auto& c : cases_)
    if (c.name() == name) return true;
  return false;
}

std::string FixtureSet::resolve(const std::string& relative) const {
  return root_ + "/" + relative;
}

std::string FixtureSet::model_path(const std::string& model, const std::string& field) const {
  const auto& models = manifest_["models"];
  if (!models.contains(model) || !models[model].contains(field))
    throw Error(root_ + ": manifest has no models." + model + "." + field);
  return resolve(models[model][field].get<std::string>());
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes())
    throw Error("shape mismatch: " + c10::str(a.sizes()) + " vs " + c10::str(b.sizes()));
  if (a.numel() == 0) return 0.0;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace dd::io
