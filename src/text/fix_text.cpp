#include "text/fix_text.h"

#include <unicode/uchar.h>

#include <unordered_map>

#include "text/html_entities.h"
#include "text/unicode.h"
#include "text/windows_1252.h"

namespace dd::text {
namespace {

// ftfy's iteration normally settles in two rounds; the cap only guards against a cycle.
constexpr int kMaxFixRounds = 32;

// Length of a UTF-8 sequence starting with `lead`, and the allowed range of its second byte
// (narrower than 0x80..0xBF for leads whose short forms would be overlong or surrogates).
int utf8_sequence_length(int lead, int& second_min, int& second_max) {
  second_min = 0x80;
  second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
    return 4;
  }
  return 0;
}

// Decodes the UTF-8 sequence whose bytes are the Windows-1252 encodings of text[at..];
// returns the number of characters consumed (0 when they are not such a sequence).
size_t decode_mojibake_at(const std::u32string& text, size_t at, char32_t& decoded) {
  const int lead = unicode_to_windows_1252(text[at]);
  int second_min, second_max;
  const int length = lead < 0 ? 0 : utf8_sequence_length(lead, second_min, second_max);
  if (length == 0 || at + length > text.size()) return 0;
  uint32_t value = static_cast<uint32_t>(lead) & (0xFF >> (length + 1));
  for (int k = 1; k < length; ++k) {
    const int byte = unicode_to_windows_1252(text[at + k]);
    const int low = k == 1 ? second_min : 0x80;
    const int high = k == 1 ? second_max : 0xBF;
    if (byte < low || byte > high) return 0;
    value = (value << 6) | (static_cast<uint32_t>(byte) & 0x3F);
  }
  decoded = static_cast<char32_t>(value);
  return static_cast<size_t>(length);
}

std::u32string fix_mojibake(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t decoded;
    if (const size_t used = text[i] >= 0x80 ? decode_mojibake_at(text, i, decoded) : 0) {
      out.push_back(decoded);
      i += used;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

std::u32string fix_c1_controls(std::u32string text) {
  for (char32_t& c : text)
    if (c >= 0x80 && c <= 0x9F) c = windows_1252_to_unicode(static_cast<uint8_t>(c));
  return text;
}

std::u32string fix_latin_ligatures(const std::u32string& text) {
  static const std::unordered_map<char32_t, std::u32string> ligatures = {
      {U'Ĳ', U"IJ"},  {U'ĳ', U"ij"},  {U'ŉ', U"ʼn"}, {U'Ǳ', U"DZ"}, {U'ǲ', U"Dz"}, {U'ǳ', U"dz"},
      {U'Ǆ', U"DŽ"},  {U'ǅ', U"Dž"},  {U'ǆ', U"dž"}, {U'Ǉ', U"LJ"}, {U'ǈ', U"Lj"}, {U'ǉ', U"lj"},
      {U'Ǌ', U"NJ"},  {U'ǋ', U"Nj"},  {U'ǌ', U"nj"}, {U'ﬀ', U"ff"}, {U'ﬁ', U"fi"}, {U'ﬂ', U"fl"},
      {U'ﬃ', U"ffi"}, {U'ﬄ', U"ffl"}, {U'ﬅ', U"ſt"}, {U'ﬆ', U"st"}};
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    auto it = ligatures.find(c);
    if (it != ligatures.end())
      out += it->second;
    else
      out.push_back(c);
  }
  return out;
}

// Fullwidth and halfwidth forms (U+FF01..U+FFEF) become their compatibility equivalents;
// the ideographic space becomes a plain space.
std::u32string fix_character_width(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0x3000)
      out.push_back(U' ');
    else if (c >= 0xFF01 && c <= 0xFFEF)
      out += to_nfkc(std::u32string(1, c));
    else
      out.push_back(c);
  }
  return out;
}

std::u32string uncurl_quotes(std::u32string text) {
  for (char32_t& c : text) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    if (c >= 0x201C && c <= 0x201F) c = U'"';
  }
  return text;
}

std::u32string fix_line_breaks(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\r' && i + 1 < text.size() && text[i + 1] == U'\n') continue;  // CRLF -> LF
    const bool line_break = c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85;
    out.push_back(line_break ? U'\n' : c);
  }
  return out;
}

// ESC [ (digits or ;)* letter, the ANSI colour / cursor sequences.
std::u32string remove_terminal_escapes(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == U'[') {
      size_t j = i + 2;
      while (j < text.size() && (text[j] == U';' || u_charType(text[j]) == U_DECIMAL_DIGIT_NUMBER))
        ++j;
      const bool letter = j < text.size() && ((text[j] >= U'a' && text[j] <= U'z') ||
                                              (text[j] >= U'A' && text[j] <= U'Z'));
      if (letter) {
        i = j;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

std::u32string remove_control_chars(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text)
    if (!is_removed_control(c)) out.push_back(c);
  return out;
}

bool is_ascii(const std::u32string& text) {
  for (char32_t c : text)
    if (c >= 0x80) return false;
  return true;
}

std::u32string fix_line(std::u32string text, bool unescape_html) {
  for (int round = 0; round < kMaxFixRounds; ++round) {
    const std::u32string before = text;
    if (unescape_html) text = unescape_html_entities(text);
    if (!is_ascii(text)) text = fix_mojibake(text);
    text = fix_c1_controls(std::move(text));
    text = fix_latin_ligatures(text);
    text = fix_character_width(text);
    text = uncurl_quotes(std::move(text));
    text = fix_line_breaks(text);
    text = remove_terminal_escapes(text);
    text = remove_control_chars(text);
    if (!is_ascii(text)) text = to_nfc(text);
    if (text == before) break;
  }
  return text;
}

}  // namespace

std::u32string fix_text(const std::u32string& text) {
  std::u32string out;
  bool unescape_html = true;
  for (size_t start = 0; start < text.size();) {
    const size_t newline = text.find(U'\n', start);
    const size_t end = newline == std::u32string::npos ? text.size() : newline + 1;
    const std::u32string line = text.substr(start, end - start);
    // As ftfy: once a line contains '<' the text is taken to be HTML, whose entities are
    // meant literally, and unescaping stays off for the rest of the text.
    if (line.find(U'<') != std::u32string::npos) unescape_html = false;
    out += fix_line(line, unescape_html);
    start = end;
  }
  return out;
}

std::u32string clean_whitespace(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char32_t c : text) {
    if (is_python_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::u32string normalize_for_clip(const std::u32string& text) {
  return to_lower(clean_whitespace(fix_text(text)));
}

}  // namespace dd::text
