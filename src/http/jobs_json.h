#pragma once
// The jobs API's job object (seed 000's sample shape), used by GET /v0/api/jobs/:id, the cancel
// answer and webhook bodies.
#include <nlohmann/json.hpp>
#include <string>

#include "service/job.h"
#include "service/job_events.h"

namespace dd::http {

// base_url prefixes each output file's `url` (GET /files/<path>). With the job's live progress
// (service::JobEvents), `progress` carries the time taken and left and the latest preview's URL
// too; without it (webhooks, or after a restart) only the stored step count.
nlohmann::json jobs_api_job(const service::Job& job, const std::string& base_url,
                            const std::optional<service::LiveProgress>& live = std::nullopt);

}  // namespace dd::http
