#pragma once
// The jobs API's job object (seed 000's sample shape), used by GET /v0/api/jobs/:id, the cancel
// answer and webhook bodies.
#include <nlohmann/json.hpp>
#include <string>

#include "service/job.h"

namespace dd::http {

// base_url prefixes each output file's `url` (GET /files/<path>).
nlohmann::json jobs_api_job(const service::Job& job, const std::string& base_url);

}  // namespace dd::http
