#pragma once
// SDXL micro-conditioning as request fields, an extension every generation dialect accepts.
// Snake-case dialects use diffusers' names and order:
//   original_size [height, width], crops_coords_top_left [top, left], target_size [height, width]
//   and the same with a negative_ prefix for the unconditional pass;
// the jobs API spells them in camelCase (originalSize, cropsCoordsTopLeft, targetSize,
// negativeOriginalSize, ...). Absent or null = the reference's default.
#include "http/json_body.h"
#include "service/job.h"

namespace dd::http {

enum class FieldCase { Snake, Camel };

// Sets spec.micro and spec.negative_micro; a malformed value is a 400 naming the field.
void read_micro_conditioning(const JsonBody& body, FieldCase field_case, service::JobSpec& spec);

}  // namespace dd::http
