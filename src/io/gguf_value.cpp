// GGUF metadata values: the typed accessors, each a dd::Error for a value of another kind.
#include <limits>
#include <string>

#include "io/gguf.h"
#include "util/error.h"

namespace dd::io {

namespace {

[[noreturn]] void wrong_kind(const GgufValue& value, const char* wanted) {
  throw Error("GGUF metadata value of type " + std::to_string(static_cast<uint32_t>(value.type)) +
              " is not " + wanted);
}

}  // namespace

uint64_t GgufValue::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data); i && *i >= 0) return static_cast<uint64_t>(*i);
  wrong_kind(*this, "a non-negative integer");
}

int64_t GgufValue::as_int() const {
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data);
      u && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(*u);
  wrong_kind(*this, "an integer that fits int64");
}

double GgufValue::as_float() const {
  if (const auto* f = std::get_if<double>(&data)) return *f;
  wrong_kind(*this, "a float");
}

bool GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  wrong_kind(*this, "a bool");
}

const std::string& GgufValue::as_string() const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  wrong_kind(*this, "a string");
}

const GgufArray& GgufValue::as_array() const {
  if (const auto* a = std::get_if<GgufArray>(&data)) return *a;
  wrong_kind(*this, "an array");
}

}  // namespace dd::io
