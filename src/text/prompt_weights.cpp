// The parser of A1111's attention syntax (see prompt_weights.h). It follows A1111's scanner:
// the prompt is cut into escapes, brackets, ":number)" closers, runs of plain text and lone
// colons, and each bracket multiplies the weights of every chunk produced since it opened.
#include "text/prompt_weights.h"

#include <cmath>
#include <cstdlib>

#include "text/unicode.h"
#include "util/error.h"

namespace dd::text {
namespace {

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1 / 1.1;

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_special(char c) {
  return c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':';
}

// Matches ":\s*([+-]?[.\d]+)\s*\)" at `at`; on success sets the number text and the end.
bool match_weight_closer(const std::string& s, size_t at, std::string& number, size_t& end) {
  if (s[at] != ':') return false;
  size_t i = at + 1;
  while (i < s.size() && is_ascii_space(s[i])) ++i;
  const size_t start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  const size_t digits = i;
  while (i < s.size() && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9'))) ++i;
  if (i == digits) return false;
  number = s.substr(start, i - start);
  while (i < s.size() && is_ascii_space(s[i])) ++i;
  if (i >= s.size() || s[i] != ')') return false;
  end = i + 1;
  return true;
}

double parse_weight(const std::string& number) {
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value))
    throw Error("prompt: invalid attention weight '" + number + "'");
  return value;
}

bool is_word_char(char32_t c) { return c == U'_' || is_letter(c) || is_number(c); }

// A1111 splits plain text at \s*\bBREAK\b\s*; each split adds a break chunk.
void append_text(const std::string& text, std::vector<WeightedChunk>& chunks) {
  const std::u32string s = utf8_to_utf32(text, "prompt");
  static const std::u32string kBreak = U"BREAK";
  size_t part_start = 0;
  for (size_t i = 0; i + kBreak.size() <= s.size(); ++i) {
    const bool bounded = (i == 0 || !is_word_char(s[i - 1])) &&
                         (i + kBreak.size() == s.size() || !is_word_char(s[i + kBreak.size()]));
    if (s.compare(i, kBreak.size(), kBreak) != 0 || !bounded) continue;
    size_t before = i;
    while (before > part_start && is_python_space(s[before - 1])) --before;
    size_t after = i + kBreak.size();
    while (after < s.size() && is_python_space(s[after])) ++after;
    chunks.push_back({utf32_to_utf8(s.substr(part_start, before - part_start)), 1.0, false});
    chunks.push_back({"", 1.0, true});
    part_start = after;
    i = after - 1;
  }
  chunks.push_back({utf32_to_utf8(s.substr(part_start)), 1.0, false});
}

void multiply_from(std::vector<WeightedChunk>& chunks, size_t start, double multiplier) {
  for (size_t i = start; i < chunks.size(); ++i)
    if (!chunks[i].is_break) chunks[i].weight *= multiplier;  // a break has no weight
}

std::vector<WeightedChunk> merge_equal_weights(std::vector<WeightedChunk> chunks) {
  std::vector<WeightedChunk> merged;
  for (auto& chunk : chunks) {
    if (!merged.empty() && !chunk.is_break && !merged.back().is_break &&
        merged.back().weight == chunk.weight)
      merged.back().text += chunk.text;
    else
      merged.push_back(std::move(chunk));
  }
  return merged;
}

}  // namespace

std::vector<WeightedChunk> parse_prompt_weights(const std::string& prompt) {
  std::vector<WeightedChunk> chunks;
  std::vector<size_t> round_open, square_open;
  size_t i = 0;
  while (i < prompt.size()) {
    const char c = prompt[i];
    std::string number;
    size_t end = 0;
    if (c == '\\') {
      // "\(" etc. give the character; a lone backslash gives an empty chunk, as in A1111.
      const bool escape =
          i + 1 < prompt.size() && std::string("()[]\\").find(prompt[i + 1]) != std::string::npos;
      chunks.push_back({escape ? std::string(1, prompt[i + 1]) : "", 1.0, false});
      i += escape ? 2 : 1;
    } else if (c == '(') {
      round_open.push_back(chunks.size());
      ++i;
    } else if (c == '[') {
      square_open.push_back(chunks.size());
      ++i;
    } else if (match_weight_closer(prompt, i, number, end) && !round_open.empty()) {
      multiply_from(chunks, round_open.back(), parse_weight(number));
      round_open.pop_back();
      i = end;
    } else if (c == ')' && !round_open.empty()) {
      multiply_from(chunks, round_open.back(), kRoundMultiplier);
      round_open.pop_back();
      ++i;
    } else if (c == ']' && !square_open.empty()) {
      multiply_from(chunks, square_open.back(), kSquareMultiplier);
      square_open.pop_back();
      ++i;
    } else {
      // Plain text: a run of ordinary characters, or one special character taken literally
      // (a whole ":number)" closer when no '(' is open).
      size_t stop = i + 1;
      if (end != 0)
        stop = end;
      else if (!is_special(c))
        while (stop < prompt.size() && !is_special(prompt[stop])) ++stop;
      append_text(prompt.substr(i, stop - i), chunks);
      i = stop;
    }
  }
  for (size_t start : round_open) multiply_from(chunks, start, kRoundMultiplier);
  for (size_t start : square_open) multiply_from(chunks, start, kSquareMultiplier);
  if (chunks.empty()) chunks.push_back({"", 1.0, false});
  return merge_equal_weights(std::move(chunks));
}

}  // namespace dd::text
