#include "io/base64.h"

#include <array>

#include "util/error.h"

namespace dd::io {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int8_t kNotBase64 = -1;

std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> table{};
  table.fill(kNotBase64);
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Drops a `data:<media type>;base64,` prefix; a data URL that is not base64 is refused.
std::string_view strip_data_url(std::string_view text, const std::string& what) {
  size_t start = 0;
  while (start < text.size() && is_space(text[start])) ++start;
  text.remove_prefix(start);
  if (text.substr(0, 5) != "data:") return text;
  const size_t comma = text.find(',');
  if (comma == std::string_view::npos) throw Error(what + ": data URL without a ',' separator");
  const std::string_view header = text.substr(0, comma);
  const std::string_view marker = ";base64";
  if (header.size() < marker.size() || header.substr(header.size() - marker.size()) != marker)
    throw Error(what + ": data URL is not base64-encoded (expected ';base64,')");
  return text.substr(comma + 1);
}

std::string describe_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 15];
}

}  // namespace

std::string base64_encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t group = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += kAlphabet[(group >> 6) & 63];
    out += kAlphabet[group & 63];
  }
  const size_t rest = size - i;
  if (rest > 0) {
    const uint32_t group = (uint32_t(data[i]) << 16) | (rest == 2 ? uint32_t(data[i + 1]) << 8 : 0);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += rest == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_encode(const std::vector<uint8_t>& bytes) {
  return base64_encode(bytes.data(), bytes.size());
}

std::string base64_encode(std::string_view bytes) {
  return base64_encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::vector<uint8_t> base64_decode(std::string_view text, const std::string& what) {
  static const std::array<int8_t, 256> kTable = make_decode_table();
  const std::string_view body = strip_data_url(text, what);
  std::vector<uint8_t> out;
  out.reserve(body.size() / 4 * 3 + 3);
  uint32_t group = 0;
  int filled = 0;   // sextets in `group`
  int padding = 0;  // '=' seen so far
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int8_t value = kTable[static_cast<unsigned char>(c)];
    if (value == kNotBase64)
      throw Error(what + ": invalid base64 (" + describe_char(c) + " at offset " +
                  std::to_string(i) + ")");
    if (padding > 0) throw Error(what + ": invalid base64 (data after '=' padding)");
    group = (group << 6) | static_cast<uint32_t>(value);
    if (++filled == 4) {
      out.push_back(static_cast<uint8_t>(group >> 16));
      out.push_back(static_cast<uint8_t>(group >> 8));
      out.push_back(static_cast<uint8_t>(group));
      group = 0;
      filled = 0;
    }
  }
  // A final group of 1 sextet cannot encode a byte; padding must complete the last quantum.
  if (filled == 1) throw Error(what + ": invalid base64 (truncated: length is not valid)");
  if (padding > 0 && (filled < 2 || filled + padding != 4))
    throw Error(what + ": invalid base64 (wrong amount of '=' padding)");
  if (filled == 2) out.push_back(static_cast<uint8_t>(group >> 4));
  if (filled == 3) {
    out.push_back(static_cast<uint8_t>(group >> 10));
    out.push_back(static_cast<uint8_t>(group >> 2));
  }
  return out;
}

}  // namespace dd::io
