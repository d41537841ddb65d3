#pragma once
// Each dialect's request field tables (http/request_fields.h), defined beside its handlers;
// /openapi.json describes the routes with them.
#include "http/request_fields.h"

namespace dd::http {

const Fields& jobs_image_fields();         // POST /v0/api/images
const Fields& jobs_character_fields();     // POST /v0/api/characters
const Fields& sd_fields();                 // POST /sd
const Fields& generation_fields();         // POST /api/v1/images/generation
const Fields& imagine_fields();            // POST /v1/images/imagine
const Fields& transform_fields();          // POST /v1/images/:id/transform
const Fields& openai_generation_fields();  // POST /v1/images/generations
const Fields& openai_edit_fields();        // POST /v1/images/edits
const Fields& a1111_txt2img_fields();      // POST /sdapi/v1/txt2img
const Fields& a1111_img2img_fields();      // POST /sdapi/v1/img2img

}  // namespace dd::http
