#include "http/a1111_lora_tags.h"

#include <cmath>
#include <cstdlib>

#include "http/api_error.h"

namespace dd::http {

namespace {

constexpr double kMaxWeight = 10;  // as /sd's `loras` (http/sd_api.cpp)

std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

double parse_weight(const std::string& text, const std::string& tag, const std::string& param) {
  const std::string value = trimmed(text);
  char* end = nullptr;
  const double weight = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(weight) ||
      std::fabs(weight) > kMaxWeight)
    throw bad_parameter(param, "the weight in " + tag + " must be a number between -10 and 10");
  return weight;
}

// "NAME" or "NAME:WEIGHT", the text between "<lora:" and ">".
service::LoraRef parse_tag(const std::string& body, const std::string& param) {
  const std::string tag = "<lora:" + body + ">";
  const size_t colon = body.find(':');
  service::LoraRef lora;
  lora.name = trimmed(body.substr(0, colon));
  if (lora.name.empty()) throw bad_parameter(param, tag + " names no LoRA");
  if (colon == std::string::npos) return lora;
  const std::string weights = body.substr(colon + 1);
  if (weights.find(':') != std::string::npos)
    throw bad_parameter(param, tag + ": only one weight is supported (<lora:NAME:WEIGHT>)");
  lora.weight = parse_weight(weights, tag, param);
  return lora;
}

}  // namespace

PromptLoras take_lora_tags(const std::string& prompt, bool apply, const std::string& param) {
  static const std::string open = "<lora:";
  PromptLoras out;
  size_t at = 0;
  while (at < prompt.size()) {
    const size_t start = prompt.find(open, at);
    const size_t close = start == std::string::npos ? start : prompt.find('>', start);
    if (close == std::string::npos) {
      out.prompt += prompt.substr(at);
      break;
    }
    out.prompt += prompt.substr(at, start - at);
    auto lora = parse_tag(prompt.substr(start + open.size(), close - start - open.size()), param);
    if (apply) out.loras.push_back(std::move(lora));
    at = close + 1;
  }
  return out;
}

}  // namespace dd::http
