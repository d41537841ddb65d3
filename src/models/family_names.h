#pragma once
// Which `family` names of an architecture JSON the engine builds (sd1, sd2, sdxl and their
// inpainting variants). config.cpp parses them; this asks the same parser, so the list lives there.
#include <string>

namespace dd::models {

bool is_supported_family(const std::string& name);

}  // namespace dd::models
