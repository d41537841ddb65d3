#pragma once
// HTML character references in prompts (`&amp;`, `&eacute;`, `&#39;`, `&#x2019;`), unescaped the
// way ftfy's fix_text does: only complete references `&name;` / `&#num;` are replaced;
// anything else stays as written.
#include <string>

namespace dd::text {

// One pass over the text (ftfy repeats it until nothing changes, see fix_text.h).
std::u32string unescape_html_entities(const std::u32string& text);

}  // namespace dd::text
