#pragma once
// AUTOMATIC1111's request fields (/sdapi/v1/txt2img and /img2img), declared once. Each row is a
// request field row (http/request_fields.h) plus what A1111 itself does with it: its default
// (the `parameters` object of an answer is A1111's defaults overlaid by the request, as A1111
// answers) and, for a feature we do not have, the values that ask for nothing of it (the ones
// clients send by default). Any other value is refused with a 422 naming the field, never
// silently ignored.
#include <nlohmann/json.hpp>
#include <vector>

#include "http/json_body.h"
#include "http/request_fields.h"

namespace dd::http {

struct A1111Field {
  Field field;
  nlohmann::json a1111_default;  // null: A1111's is None
  // Empty: every valid value is honoured. Otherwise the only values accepted (null and absence
  // always are); they leave the feature off.
  std::vector<nlohmann::json> neutral;
};

using A1111Fields = std::vector<A1111Field>;

const A1111Fields& a1111_txt2img_rows();
const A1111Fields& a1111_img2img_rows();

// The plain request rows of a table (what parsing and /openapi.json use).
Fields plain_fields(const A1111Fields& rows);

// A 422 `unsupported` error for the first row given a value outside its neutral ones.
void refuse_unsupported(const JsonBody& body, const A1111Fields& rows);

// A1111's `parameters` answer: every row's A1111 default, overlaid by the request's values.
nlohmann::json a1111_parameters(const JsonBody& body, const A1111Fields& rows);

}  // namespace dd::http
