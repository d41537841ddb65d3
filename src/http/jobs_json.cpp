#include "http/jobs_json.h"

namespace dd::http {

namespace {

nlohmann::json payload(const service::Job& job) {
  const auto& s = job.spec;
  const auto& p = s.params;  // resolved once the job has started
  nlohmann::json loras = nlohmann::json::array();
  for (const auto& lora : s.loras)
    loras.push_back({{"name", lora.name}, {"weight", lora.weight}, {"meta", lora.meta}});
  // Unset fields (a job not started yet) show as null, a random seed as -1.
  auto value = [](const auto& field) {
    return field ? nlohmann::json(*field) : nlohmann::json(nullptr);
  };
  const std::string prompt = p.prompt.value_or("");
  return {{"seed", p.seed.value_or(-1)},
          {"loras", loras},
          {"width", value(p.width)},
          {"height", value(p.height)},
          {"prompt", prompt},
          {"negative_prompt", p.negative_prompt.value_or("")},
          {"conditionedPrompt", s.conditioned_prompt.empty() ? prompt : s.conditioned_prompt},
          {"num_outputs", p.samples.value_or(1)},
          {"guidance_scale", value(p.cfg)},
          {"num_inference_steps", value(p.steps)},
          {"sampler", value(p.sampler)},
          {"clipSkip", value(p.clip_skip)},
          {"model", s.model}};
}

}  // namespace

nlohmann::json jobs_api_job(const service::Job& job, const std::string& base_url,
                            const std::optional<service::LiveProgress>& live) {
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
  if (live && live->steps > 0) {
    // `total` is the older name of `steps`, kept for clients that read it.
    out["progress"] = {{"step", live->step},
                       {"steps", live->steps},
                       {"total", live->steps},
                       {"elapsed", live->elapsed},
                       {"eta", live->eta < 0 ? nlohmann::json(nullptr) : nlohmann::json(live->eta)},
                       {"preview_url", live->preview ? nlohmann::json(base_url + "/v0/api/jobs/" +
                                                                      job.id + "/preview")
                                                     : nlohmann::json(nullptr)}};
  } else if (job.status == service::JobStatus::InProgress && job.progress_total > 0) {
    out["progress"] = {
        {"step", job.progress_step}, {"steps", job.progress_total}, {"total", job.progress_total}};
  }
  return out;
}

}  // namespace dd::http
