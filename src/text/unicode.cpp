#include "text/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "util/error.h"

namespace dd::text {
namespace {

icu::UnicodeString to_icu(const std::u32string& text) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                       static_cast<int32_t>(text.size()));
}

std::u32string from_icu(const icu::UnicodeString& text) {
  std::u32string out;
  out.reserve(text.length());
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

std::u32string normalize(const icu::Normalizer2* normalizer, UErrorCode status,
                         const std::u32string& text) {
  if (U_FAILURE(status))
    throw Error(std::string("ICU normaliser unavailable: ") + u_errorName(status));
  const icu::UnicodeString result = normalizer->normalize(to_icu(text), status);
  if (U_FAILURE(status))
    throw Error(std::string("ICU normalisation failed: ") + u_errorName(status));
  return from_icu(result);
}

}  // namespace

std::u32string utf8_to_utf32(const std::string& utf8, const std::string& what) {
  std::u32string out;
  out.reserve(utf8.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const int32_t length = static_cast<int32_t>(utf8.size());
  for (int32_t i = 0; i < length;) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c < 0)
      throw Error(what + ": not valid UTF-8 (bad byte sequence at offset " + std::to_string(start) +
                  ")");
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

std::string utf32_to_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) out += utf32_to_utf8(c);
  return out;
}

std::string utf32_to_utf8(char32_t c) {
  uint8_t buffer[U8_MAX_LENGTH];
  int32_t length = 0;
  UBool error = false;
  U8_APPEND(buffer, length, U8_MAX_LENGTH, static_cast<UChar32>(c), error);
  if (error) return "\xEF\xBF\xBD";  // U+FFFD for values that are not code points
  return std::string(reinterpret_cast<const char*>(buffer), length);
}

bool is_letter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }

bool is_number(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }

bool is_unicode_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool is_python_space(char32_t c) { return is_unicode_space(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string to_nfc(const std::u32string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  return normalize(nfc, status, text);
}

std::u32string to_nfkc(const std::u32string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
  return normalize(nfkc, status, text);
}

std::u32string to_lower(const std::u32string& text) {
  icu::UnicodeString icu_text = to_icu(text);
  // The root locale gives the language-neutral mappings Python uses (no Turkish dotless i).
  icu_text.toLower(icu::Locale::getRoot());
  return from_icu(icu_text);
}

std::u32string to_upper(const std::u32string& text) {
  icu::UnicodeString icu_text = to_icu(text);
  icu_text.toUpper(icu::Locale::getRoot());
  return from_icu(icu_text);
}

}  // namespace dd::text
