#include "http/api_error.h"

namespace dd::http {

ApiError bad_parameter(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_parameter", message, param);
}

ApiError not_found(const std::string& what) {
  return ApiError(404, "not_found", what + " not found");
}

ApiError unauthorized(const std::string& message) { return ApiError(401, "unauthorized", message); }

nlohmann::json error_body(const ApiError& error) {
  nlohmann::json detail = {{"code", error.code}, {"message", error.what()}};
  if (!error.param.empty()) detail["param"] = error.param;
  return {{"success", false}, {"error", detail}};
}

nlohmann::json openai_error_body(const ApiError& error) {
  const char* type = error.status == 401   ? "authentication_error"
                     : error.status == 404 ? "not_found_error"
                     : error.status == 429 ? "rate_limit_error"
                     : error.status >= 500 ? "server_error"
                                           : "invalid_request_error";
  return {{"error",
           {{"message", error.what()},
            {"type", type},
            {"param", error.param.empty() ? nlohmann::json() : nlohmann::json(error.param)},
            {"code", error.code}}}};
}

}  // namespace dd::http
