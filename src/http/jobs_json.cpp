#include "http/jobs_json.h"

namespace dd::http {

namespace {

nlohmann::json payload(const service::Job& job) {
  const auto& s = job.spec;
  nlohmann::json loras = nlohmann::json::array();
  for (const auto& lora : s.loras)
    loras.push_back({{"name", lora.name}, {"weight", lora.weight}, {"meta", lora.meta}});
  return {{"seed", s.seed},
          {"loras", loras},
          {"width", s.width},
          {"height", s.height},
          {"prompt", s.prompt},
          {"negative_prompt", s.negative_prompt},
          {"conditionedPrompt", s.conditioned_prompt.empty() ? s.prompt : s.conditioned_prompt},
          {"num_outputs", s.samples},
          {"guidance_scale", s.cfg},
          {"num_inference_steps", s.steps},
          {"sampler", s.sampler},
          {"model", s.model}};
}

}  // namespace

nlohmann::json jobs_api_job(const service::Job& job, const std::string& base_url) {
  nlohmann::json outputs = nlohmann::json::array();
  for (const auto& file : job.outputs)
    outputs.push_back({{"name", file.name},
                       {"path", file.path},
                       {"created", file.created_ms},
                       {"size", file.size},
                       {"url", base_url + "/files/" + file.path}});
  nlohmann::json statuses = nlohmann::json::array();
  for (const auto& change : job.statuses)
    statuses.push_back({{"id", change.id},
                        {"status", service::status_name(change.status)},
                        {"created", change.created_ms}});
  nlohmann::json out = {{"id", job.id},
                        {"accountId", job.account_id},
                        {"created", job.created_ms},
                        {"type", job.type},
                        {"payload", payload(job)},
                        {"outputFiles", outputs},
                        {"status", service::status_name(job.status)},
                        {"statuses", statuses}};
  if (!job.error.empty()) out["error"] = job.error;
  if (job.status == service::JobStatus::InProgress && job.progress_total > 0)
    out["progress"] = {{"step", job.progress_step}, {"total", job.progress_total}};
  return out;
}

}  // namespace dd::http
