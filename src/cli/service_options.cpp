#include "cli/service_options.h"

#include "cli/model_choice.h"
#include "service/pg_connection.h"

namespace dd::cli {

namespace {

// The URL is checked when parsed, so a typo fails at once, naming no password.
std::string check_database_url(const std::string& url) {
  try {
    service::validate_pg_url(url);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

void add_database_option(CLI::App* cmd, std::string& database) {
  cmd->add_option("--database", database,
                  "A postgresql:// URL: the queue, accounts and image records shared by API nodes "
                  "and workers on several machines (default: SQLite in --data-dir)")
      ->check(check_database_url, "postgresql:// URL");
}

void add_service_options(CLI::App* cmd, ServiceArgs& args) {
  auto& service = args.service;
  cmd->add_option("--models-dir", service.models_dir,
                  "Checkpoints (.safetensors) and diffusers folders, with optional NAME.json "
                  "sidecars; loras/ for LoRAs")
      ->capture_default_str();
  cmd->add_option("--data-dir", service.data_dir,
                  "Database, images and uploads (with --database: images and uploads, in a "
                  "folder every node shares)")
      ->capture_default_str();
  cmd->add_option("--default-model", service.default_model,
                  "Model id or alias used when a request names none (default: diffusiond-scenes "
                  "when present, else the first model that can make images from text)");
  cmd->add_option("--preview-every", service.preview_every,
                  "Steps between a running job's previews in its progress events (0: about four "
                  "per job; -1: none)")
      ->capture_default_str()
      ->check(CLI::Range(-1, 1000));
  cmd->add_option("--memory-budget-gb", args.memory_budget_gb,
                  "Loaded models are unloaded least-recently-used above this")
      ->capture_default_str();
  add_compute_options(cmd, args.compute);
  cmd->add_flag("--allow-private-webhooks", service.allow_private_webhooks,
                "Allow webhook URLs on loopback/private addresses (tests)");
  cmd->add_option("--max-batch", service.max_batch,
                  "Images of queued jobs (same model, size, sampler and steps) run as one batch, "
                  "fewer when the memory budget leaves less room; 1 runs each job alone")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  add_database_option(cmd, service.database);
  cmd->add_option("--worker-id", service.worker_id,
                  "With --database: this worker's name in logs and heartbeats (default: host "
                  "name, process id and a random suffix)");
  cmd->add_option("--lease-seconds", service.lease_seconds,
                  "With --database: how long a worker's claim on a running job holds without "
                  "renewal (renewed every third of it); a dead worker's job runs elsewhere after "
                  "it")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
}

void finish_service_options(ServiceArgs& args) {
  args.service.memory_budget_bytes = static_cast<size_t>(args.memory_budget_gb * (1ull << 30));
  const ComputeTarget target = resolve_compute(args.compute);
  args.service.dtype = target.dtype;
  args.service.device = target.device;
  // The built-in model, when present, answers requests that name no model.
  if (args.service.default_model.empty() && has_builtin_model(args.service.models_dir))
    args.service.default_model = kBuiltinModelId;
}

}  // namespace dd::cli
