#pragma once
// The playground's files (src/http/playground/: index.html, *.js, style.css), carried in the
// binary: the build turns them into a generated source (cmake/embed.cmake), so the server needs
// no file beside it and no build step for the page.
#include <string_view>
#include <vector>

namespace dd::http {

struct EmbeddedFile {
  const char* name;  // the file name, e.g. "app.js"
  std::string_view bytes;
};

// Defined in the generated playground_assets.cpp.
std::vector<EmbeddedFile> playground_files();

}  // namespace dd::http
