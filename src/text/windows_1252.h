#pragma once
// The Windows-1252 code page, "sloppy" as ftfy uses it: the five bytes 1252 leaves undefined
// (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 code points of the same value, so every byte
// has a meaning. Used to undo mojibake and to reinterpret stray C1 control characters.
#include <cstdint>

namespace dd::text {

char32_t windows_1252_to_unicode(uint8_t byte);
// The byte that encodes `c`, or -1 when the code page has no such character.
int unicode_to_windows_1252(char32_t c);

}  // namespace dd::text
