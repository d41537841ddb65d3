#pragma once
// The core job record every HTTP dialect renders from, and the persisted specification of the
// work (so a job accepted before a crash runs again after a restart).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/generation_params.h"

namespace dd::service {

enum class JobStatus { Created, InProgress, Success, Failed, Cancelled };

// "CREATED", "IN_PROGRESS", "SUCCESS", "FAILED", "CANCELLED" (the jobs API's names).
const char* status_name(JobStatus status);
std::optional<JobStatus> parse_status(const std::string& name);
bool is_final(JobStatus status);

struct LoraRef {
  std::string name;  // as the request named it (LoRA file id or character id)
  std::string path;  // resolved .safetensors file
  double weight = 1.0;
  nlohmann::json meta = nlohmann::json::object();  // e.g. {"class": "person"} for characters
};

// Everything the worker needs to run a job; stored as JSON.
struct JobSpec {
  std::string model;  // model id or alias; "" = the server's default model
  // As the request gave them; once the job runs, resolved (every field set, the seed chosen),
  // so the stored job says exactly what ran and runs the same again after a restart.
  pipeline::GenerationParams params;
  // The dialect's own defaults where its seed document fixes one (below the model's).
  pipeline::GenerationParams dialect_defaults;
  std::string conditioned_prompt;  // prompt after character references were replaced
  std::vector<LoraRef> loras;
  std::string init_image_path;  // img2img / inpainting input files (under the data dir)
  std::string mask_path;
  std::string format = "png";  // png | jpeg | webp
  int quality = 90;            // jpeg / webp
  std::string image_name;      // name of the image records; "" = the output file's name

  nlohmann::json to_json() const;
  static JobSpec from_json(const nlohmann::json& json);
};

struct OutputFile {
  std::string name;  // "<uuid>.png"
  std::string path;  // "<job-id>/<name>", fetched as GET /files/<path>
  int64_t created_ms = 0;
  int64_t size = 0;
  std::string image_id;  // the ImageStore record holding the bytes
  int64_t seed = 0;
  double inference_seconds = 0;
};

// A job's output records as stored (a JSON array), and back; a malformed array is a dd::Error
// naming the job.
nlohmann::json outputs_to_json(const std::vector<OutputFile>& outputs);
std::vector<OutputFile> outputs_from_json(const nlohmann::json& json, const std::string& job_id);

struct StatusChange {
  std::string id;
  JobStatus status = JobStatus::Created;
  int64_t created_ms = 0;
};

struct Job {
  std::string id;
  std::string account_id;
  std::string transaction_id;
  std::string type = "IMAGE_INFERENCE";
  std::string dialect;  // which API created it (jobs, sd, generation, images, openai)
  int64_t created_ms = 0;
  JobSpec spec;
  JobStatus status = JobStatus::Created;
  std::vector<StatusChange> statuses;  // newest first
  std::vector<OutputFile> outputs;
  std::string error;  // why a FAILED job failed
  std::string webhook_url;
  std::string webhook_id;
  int progress_step = 0;  // of the running job
  int progress_total = 0;
};

int64_t now_ms();

}  // namespace dd::service
