#pragma once
// Prompt clean-up before CLIP tokenization, reproducing what transformers' CLIPTokenizer does
// with the ftfy package installed: `whitespace_clean(ftfy.fix_text(text)).lower()`.
//
// fix_text applies ftfy 6's default fixes, repeated until the text stops changing:
//  - HTML references unescaped (`&amp;amp;` -> `&`), unless a line with `<` has been seen
//    (ftfy then assumes real HTML and leaves the rest of the text alone);
//  - UTF-8 mojibake read as Windows-1252 / Latin-1 repaired (`cafÃ©` -> `café`);
//  - C1 controls read as Windows-1252, Latin ligatures spelled out (`ﬁ` -> `fi`),
//    fullwidth / halfwidth forms to their normal width (`ｈｉ` -> `hi`), curly quotes to
//    straight ones, line breaks unified, terminal escapes and control characters removed;
//  - NFC normalisation.
// It works line by line (as ftfy does). ftfy's statistical mojibake detector is reduced to
// its core rule: a run of characters that are the Windows-1252 reading of a well-formed
// multi-byte UTF-8 sequence is decoded.
#include <string>

namespace dd::text {

std::u32string fix_text(const std::u32string& text);

// Runs of whitespace (Python's str.isspace) to one space, stripped at both ends.
std::u32string clean_whitespace(const std::u32string& text);

// The full CLIP normalisation: clean_whitespace(fix_text(text)), lowercased.
std::u32string normalize_for_clip(const std::u32string& text);

}  // namespace dd::text
