#pragma once
// AUTOMATIC1111's extra-network prompt tags: `<lora:NAME>` and `<lora:NAME:WEIGHT>` apply the
// LoRA NAME (GET /sdapi/v1/loras) at WEIGHT (default 1) and are taken out of the prompt, as
// A1111 takes them out before encoding it. Other angle-bracket text is left alone.
#include <string>
#include <vector>

#include "service/job.h"

namespace dd::http {

struct PromptLoras {
  std::string prompt;                   // without the tags
  std::vector<service::LoraRef> loras;  // in prompt order; the service resolves the names
};

// A malformed tag (no name, a weight that is not a number within -10..10, or several weights
// as A1111's per-part syntax gives them) is a 400 naming `param`. With `apply` false the tags
// are only taken out (A1111's disable_extra_networks).
PromptLoras take_lora_tags(const std::string& prompt, bool apply, const std::string& param);

}  // namespace dd::http
