// JSON request bodies: parsing (JsonBody) and the typed accessors every endpoint uses, on each
// field of the body and on the names the API reads; an error must be an ApiError whose body
// renders (as both dialects send it).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/api_error.h"
#include "http/json_body.h"

namespace {

void probe(const dd::http::JsonBody& body, const std::string& name) {
  using dd::http::ApiError;
  auto guarded = [&](auto&& access) {
    try {
      access();
    } catch (const ApiError& e) {
      if (e.status != 400 || e.param != name) std::abort();
      (void)dd::http::error_body(e).dump();
      (void)dd::http::openai_error_body(e).dump();
    }
  };
  guarded([&] { (void)body.has(name); });
  guarded([&] { (void)body.string(name); });
  guarded([&] { (void)body.string(name, 8); });
  guarded([&] { (void)body.required_string(name); });
  guarded([&] {
    const auto v = body.integer(name, 1, 150);
    if (v && (*v < 1 || *v > 150)) std::abort();
  });
  guarded([&] {
    // The seed's range (pipeline/limits.h: kMaxSeed = 2^53 - 1, with -1 for "random").
    const auto v = body.integer(name, -1, (int64_t(1) << 53) - 1);
    if (v && (*v < -1 || *v > (int64_t(1) << 53) - 1)) std::abort();
  });
  guarded([&] {
    const auto v = body.number(name, 0.0, 30.0);
    if (v && (*v < 0.0 || *v > 30.0)) std::abort();
  });
  guarded([&] { (void)body.boolean(name); });
  guarded([&] {
    if (const auto* o = body.object(name)) (void)o->dump();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const dd::http::JsonBody body(text);
    std::vector<std::string> names = {"prompt", "steps", "cfg_scale", "seed", "width", "n",
                                      "stream", "override_settings", "strength"};
    for (const auto& item : body.json().items()) names.push_back(item.key());
    for (const auto& name : names) probe(body, name);
    (void)body.json().dump();
  } catch (const dd::http::ApiError& e) {
    if (e.status != 400 || e.code != "invalid_json") std::abort();
    (void)dd::http::error_body(e).dump();
  }
  return 0;
}
