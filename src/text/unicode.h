#pragma once
// Small Unicode helpers for the text layer, on top of ICU: UTF-8 <-> code points, the
// character classes the CLIP tokenizer's split regex uses, and normalisation / case mapping.
// Text is handled as std::u32string (one element per code point) while it is being cleaned.
#include <string>

namespace dd::text {

// Decodes UTF-8; throws dd::Error naming `what` and the byte offset of the first bad sequence.
std::u32string utf8_to_utf32(const std::string& utf8, const std::string& what);
std::string utf32_to_utf8(const std::u32string& text);
std::string utf32_to_utf8(char32_t c);

bool is_letter(char32_t c);  // \p{L}
bool is_number(char32_t c);  // \p{N}
// Unicode White_Space (what \s means in the split regex).
bool is_unicode_space(char32_t c);
// Python's str.isspace(): White_Space plus the separators U+001C..U+001F.
bool is_python_space(char32_t c);

std::u32string to_nfc(const std::u32string& text);
std::u32string to_nfkc(const std::u32string& text);
// Full (context-sensitive, locale-independent) lowercase mapping, as Python's str.lower().
std::u32string to_lower(const std::u32string& text);
std::u32string to_upper(const std::u32string& text);

}  // namespace dd::text
