#pragma once
// Errors as every dialect reports them: an HTTP status, a machine code, a message for people
// and the parameter at fault. Rendered as API.md's shape
//   {"success": false, "error": {"code", "message", "param"}}
// or, in the OpenAI dialects, as {"error": {"message", "type", "param", "code"}}.
#include <nlohmann/json.hpp>
#include <string>

#include "util/error.h"

namespace dd::http {

struct ApiError : Error {
  ApiError(int status, std::string code, const std::string& message, std::string param = "")
      : Error(message), status(status), code(std::move(code)), param(std::move(param)) {}
  int status;
  std::string code;
  std::string param;
};

ApiError bad_parameter(const std::string& param, const std::string& message);
ApiError not_found(const std::string& what);
ApiError unauthorized(const std::string& message);

nlohmann::json error_body(const ApiError& error);
nlohmann::json openai_error_body(const ApiError& error);

}  // namespace dd::http
