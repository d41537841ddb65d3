#pragma once
// The whole service below HTTP: the stores, the model registry, the worker and the webhook
// sender, wired together. HTTP dialects translate requests into NewJob / queries on this and
// render the Job and ImageRecord they get back.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "service/accounts.h"
#include "service/characters.h"
#include "service/database.h"
#include "service/event_relay.h"
#include "service/image_store.h"
#include "service/job_events.h"
#include "service/job_store.h"
#include "service/lease_keeper.h"
#include "service/model_registry.h"
#include "service/pg_listener.h"
#include "service/webhooks.h"
#include "service/worker.h"
#include "service/worker_presence.h"
#include "util/error.h"

namespace dd::service {

struct ServiceOptions {
  std::string data_dir = "data";
  std::string models_dir = "models";
  std::string default_model;
  int max_queue = 100;
  size_t memory_budget_bytes = size_t(16) << 30;
  torch::ScalarType dtype = torch::kFloat32;  // models compute in this,
  torch::Device device = torch::kCPU;         // on this device (models/device.h)
  bool allow_private_webhooks = false;
  WebhookOptions webhooks;
  // Steps between a running job's previews (0: about four per job; negative: none).
  int preview_every = 0;
  // "": the queue, accounts and image records live in SQLite under data_dir (one machine). A
  // postgresql:// URL shares them with every node using the same database (and data_dir, which
  // must then be one shared folder).
  std::string database;
  // false: an API node that runs no worker and loads no model (serve --no-worker).
  bool run_worker = true;
  // On a shared database: this worker's name ("" makes one from the host name and process id)
  // and how long its claim on a running job holds without renewal.
  std::string worker_id;
  int lease_seconds = 30;
  // Images of queued jobs that may share one pass through the UNet (pipeline/generate_batch.h);
  // 1: every job runs alone.
  int max_batch = 1;
};

// The queue is at --max-queue: the HTTP layer answers 429 with Retry-After.
struct QueueFull : Error {
  QueueFull() : Error("the queue is full; try again later") {}
};

// Lets request threads wait for a job to end without polling the database in a tight loop.
class CompletionBoard {
 public:
  // Some job ended: wake every waiter to re-check its own job.
  void finished();
  // Waits until done() is true or the timeout passes; returns done().
  bool wait(int timeout_ms, const std::function<bool()>& done);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t generation_ = 0;
};

class Service {
 public:
  // Renders a finished job as its webhook's JSON body (the HTTP layer knows the shape).
  using WebhookBody = std::function<std::string(const Job&)>;

  // Without a webhook_body (tools), jobs' webhooks are not sent.
  Service(const ServiceOptions& options, WebhookBody webhook_body);
  ~Service();

  // Re-queues jobs interrupted by a crash (on a shared database: those whose lease ran out),
  // queues webhooks a crash kept from being queued, then starts the worker (unless run_worker
  // is false), the webhook sender and, on a shared database, the lease keeper.
  void start();
  void stop();

  // Checks the spec against the models, samplers, LoRAs and limits (InvalidParameter naming the
  // field), then queues it durably. QueueFull when --max-queue jobs are waiting.
  Job submit(NewJob job);
  // Waits until the job ends (or the timeout passes) and returns its record.
  Job wait(const std::string& job_id, const std::string& account_id, int timeout_ms);

  const ServiceOptions& options() const { return options_; }
  Database& database() { return *db_; }
  JobStore& jobs() { return *jobs_; }
  ImageStore& images() { return *images_; }
  Accounts& accounts() { return *accounts_; }
  Characters& characters() { return *characters_; }
  ModelRegistry& models() { return *models_; }
  Worker& worker() { return *worker_; }
  bool shared_database() const { return !options_.database.empty(); }
  // Workers alive: this node's (0 or 1) on one machine; on a shared database, those whose
  // heartbeat is recent.
  int64_t live_workers();
  // Live status, progress and previews of running jobs (in memory).
  JobEvents& events() { return events_; }

 private:
  void validate(JobSpec& spec);
  void on_job_finished(const Job& job);
  void enqueue_missing_webhooks();

  ServiceOptions options_;
  WebhookBody webhook_body_;
  JobEvents events_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<JobStore> jobs_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Characters> characters_;
  std::unique_ptr<ModelRegistry> models_;
  std::unique_ptr<WebhookSender> webhooks_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<WorkerPresence> presence_;  // shared database only
  std::unique_ptr<LeaseKeeper> leases_;       // shared database only
  std::unique_ptr<PgListener> listener_;      // shared database with a worker only
  std::unique_ptr<EventRelay> relay_;         // shared database only
  CompletionBoard completions_;
};

}  // namespace dd::service
