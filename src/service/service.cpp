#include "service/service.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "pipeline/limits.h"
#include "pipeline/resolve.h"
#include "pipeline/sampler_names.h"
#include "service/crypto.h"
#include "service/webhook_url.h"

namespace dd::service {

namespace fs = std::filesystem;

namespace {

// Unique among the nodes of one database: the host, the process and a random suffix (a
// restarted process may reuse a pid).
std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "worker");
  std::string id = host;  // appended piecewise: GCC 12 misreads a + chain here
  id += '-';
  id += std::to_string(getpid());
  id += '-';
  id += random_hex(3);
  return id;
}

}  // namespace

void CompletionBoard::finished() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

bool CompletionBoard::wait(int timeout_ms, const std::function<bool()>& done) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    // The database is the truth; the board only wakes waiters when some job ends, so they
    // need not poll it often. The periodic wake-up covers a job ending between the check and
    // the wait.
    std::unique_lock lock(mutex_);
    const uint64_t seen = generation_;
    lock.unlock();
    if (done()) return true;
    lock.lock();
    const auto until = std::min(deadline, clock::now() + std::chrono::milliseconds(250));
    changed_.wait_until(lock, until, [&] { return generation_ != seen; });
    if (clock::now() >= deadline) {
      lock.unlock();
      return done();
    }
  }
}

Service::Service(const ServiceOptions& options, WebhookBody webhook_body)
    : options_(options), webhook_body_(std::move(webhook_body)) {
  fs::create_directories(options_.data_dir);
  db_ = std::make_unique<Database>(shared_database()
                                       ? options_.database
                                       : (fs::path(options_.data_dir) / "diffusiond.db").string());
  jobs_ = std::make_unique<JobStore>(*db_);
  images_ = std::make_unique<ImageStore>(*db_, options_.data_dir);
  accounts_ = std::make_unique<Accounts>(*db_);
  characters_ = std::make_unique<Characters>(*db_, options_.data_dir);
  models_ =
      std::make_unique<ModelRegistry>(options_.models_dir, options_.memory_budget_bytes,
                                      options_.dtype, options_.default_model, options_.device);
  webhooks_ = std::make_unique<WebhookSender>(
      *db_, [this](const std::string& account) { return accounts_->webhook_secret(account); },
      options_.allow_private_webhooks, options_.webhooks);
  WorkerIdentity identity;
  if (shared_database()) {
    identity = {options_.worker_id.empty() ? default_worker_id() : options_.worker_id,
                int64_t{options_.lease_seconds} * 1000};
    presence_ = std::make_unique<WorkerPresence>(*db_);
  }
  worker_ = std::make_unique<Worker>(
      *jobs_, *images_, *models_, events_, [this](const Job& job) { on_job_finished(job); },
      options_.preview_every, identity);
  worker_->batch_up_to(options_.max_batch);
  if (shared_database())
    leases_ = std::make_unique<LeaseKeeper>(
        *jobs_, *presence_, options_.run_worker ? worker_.get() : nullptr, identity.lease_ms);
}

Service::~Service() { stop(); }

void Service::start() {
  // On a shared database other nodes' running jobs are alive; only expired leases are orphans.
  if (shared_database())
    jobs_->requeue_expired(now_ms());
  else
    jobs_->requeue_interrupted();
  enqueue_missing_webhooks();
  webhooks_->start();
  // Before the worker starts: it publishes from its own thread from then on.
  if (shared_database()) {
    relay_ = std::make_unique<EventRelay>(*db_, options_.database, events_,
                                          worker_->identity().worker_id);
    if (options_.run_worker)
      events_.observe(
          [relay = relay_.get()](const std::string& job, const std::string& type,
                                 const nlohmann::json& data) { relay->send(job, type, data); });
  }
  if (options_.run_worker) {
    worker_->start();
    if (shared_database())
      listener_ = std::make_unique<PgListener>(options_.database, kQueueChannel,
                                               [this](const std::string&) { worker_->wake(); });
  }
  if (leases_) leases_->start();
}

int64_t Service::live_workers() {
  if (!shared_database()) return worker_->running() ? 1 : 0;
  // Three missed heartbeats (each lease / 3) and a worker counts as gone.
  return presence_->alive(int64_t{options_.lease_seconds} * 1000);
}

// A crash between a job's end and its webhook's enqueue must not lose the webhook: every ended
// job with a webhookUrl and no delivery gets one now.
void Service::enqueue_missing_webhooks() {
  if (!webhook_body_) return;
  std::vector<std::string> ids;
  {
    auto lock = db_->lock();
    auto query = db_->prepare(
        "SELECT id FROM jobs WHERE webhook_url <> '' AND status IN ('SUCCESS', 'FAILED', "
        "'CANCELLED') AND id NOT IN (SELECT job_id FROM webhook_deliveries)");
    while (query.step()) ids.push_back(query.text(0));
  }
  for (const auto& id : ids)
    if (auto job = jobs_->get_any(id))
      webhooks_->enqueue(job->id, job->account_id, job->webhook_url, webhook_body_(*job));
}

void Service::stop() {
  listener_.reset();
  if (worker_) worker_->stop();
  events_.observe({});  // the worker has stopped: nothing more to relay
  relay_.reset();
  if (leases_) leases_->stop();
  if (webhooks_) webhooks_->stop();
}

void Service::on_job_finished(const Job& job) {
  if (!job.webhook_url.empty() && webhook_body_) {
    try {
      webhooks_->enqueue(job.id, job.account_id, job.webhook_url, webhook_body_(job));
    } catch (const std::exception&) {
      // The URL was checked when the job was accepted; a failure here must not stop the worker.
    }
  }
  completions_.finished();
}

void Service::validate(JobSpec& spec) {
  if (spec.model.empty()) spec.model = models_->default_model_id();
  const auto model = models_->find(spec.model);
  if (!model) throw InvalidParameter("model", "unknown model '" + spec.model + "'");
  if (!model->error.empty())
    throw InvalidParameter("model", "model '" + spec.model + "' is unavailable: " + model->error);
  spec.model = model->id;
  if (spec.params.sampler) {
    try {
      spec.params.sampler = pipeline::canonical_sampler_name(*spec.params.sampler);
    } catch (const Error& e) {
      throw InvalidParameter("sampler", e.what());
    }
  }
  pipeline::validate_params(spec.params);
  for (auto& lora : spec.loras) {
    if (!lora.path.empty()) continue;  // characters come resolved
    const auto path = models_->lora_path(lora.name);
    if (!path) throw InvalidParameter("loras", "unknown LoRA '" + lora.name + "'");
    lora.path = *path;
  }
  if (spec.loras.size() > pipeline::limits::kMaxLoras)
    throw InvalidParameter("loras",
                           "at most " + std::to_string(pipeline::limits::kMaxLoras) + " LoRAs");
}

Job Service::submit(NewJob job) {
  validate(job.spec);
  if (!job.webhook_url.empty()) {
    try {
      validate_webhook_url(job.webhook_url, options_.allow_private_webhooks);
    } catch (const Error& e) {
      throw InvalidParameter("webhookUrl", e.what());
    }
  }
  if (jobs_->queued_count() >= options_.max_queue) throw QueueFull();
  Job created = jobs_->create(job);
  if (options_.run_worker) worker_->wake();
  return created;
}

Job Service::wait(const std::string& job_id, const std::string& account_id, int timeout_ms) {
  auto done = [&] {
    auto job = jobs_->get(job_id, account_id);
    return !job || is_final(job->status);
  };
  completions_.wait(timeout_ms, done);
  auto job = jobs_->get(job_id, account_id);
  if (!job) throw Error("job " + job_id + " vanished");
  return *job;
}

}  // namespace dd::service
