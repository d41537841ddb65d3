#pragma once
// The compute thread: claims queued jobs one at a time (JobStore decides the order), turns each
// JobSpec into a pipeline::GenerationRequest with the model's defaults for unset fields, runs
// the engine with progress and cancellation, stores every image (PNG with the A1111
// `parameters` chunk, or JPEG/WebP on request) and records the outputs. Any failure is recorded
// on the job (FAILED with the reason); the thread itself never dies of one.
//
// stop() interrupts a running job at its next step and leaves it IN_PROGRESS, exactly as a
// crash would: JobStore::requeue_interrupted() at the next start-up queues it again.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pipeline/model.h"
#include "pipeline/request.h"
#include "service/background_loop.h"
#include "service/image_store.h"
#include "service/job_events.h"
#include "service/job_progress.h"
#include "service/job_store.h"
#include "service/model_registry.h"
#include "service/worker_stats.h"

namespace dd::service {

// Who a worker is on a shared (PostgreSQL) queue. The defaults are the single-machine worker's:
// no lease, no model preference.
struct WorkerIdentity {
  std::string worker_id;  // recorded on the jobs it claims
  int64_t lease_ms = 0;   // 0: no lease; else the LeaseKeeper renews it every lease_ms / 3
};

struct BatchMember;  // worker_batch.cpp

class Worker {
 public:
  // on_finished gets every job that ended (SUCCESS, FAILED or CANCELLED), e.g. to enqueue its
  // webhook; it runs on the worker thread and must not block for long. A running job's status,
  // progress and previews (every `preview_every` steps, pipeline::wants_preview) go to `events`.
  Worker(JobStore& jobs, ImageStore& images, ModelRegistry& models, JobEvents& events,
         std::function<void(const Job&)> on_finished = {}, int preview_every = 0,
         WorkerIdentity identity = {});
  ~Worker();  // stops
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void stop();  // interrupts the running job (left IN_PROGRESS) and joins the thread
  void wake();  // a job was queued

  // Runs one queued job on the calling thread; false when none was queued (for tests/tools).
  bool run_one();

  const WorkerStats& stats() const { return stats_; }
  const WorkerIdentity& identity() const { return identity_; }
  // Up to this many images of queued jobs that can share a pass run as one batch (1: none).
  void batch_up_to(int images) { max_batch_ = std::max(images, 1); }
  // The jobs running now (several in a batch; none when idle) and the models held in memory,
  // for leases and heartbeats.
  std::vector<std::string> running_jobs() const;
  std::vector<std::string> loaded_models() const;
  // The lease on `job_id` could not be renewed (it ran out and the job went back to the queue):
  // the job stops at its next step and its work is dropped, since another worker now owns it.
  void lease_lost(const std::string& job_id);
  bool running() const { return loop_.running(); }

 private:
  // Runs one queued job; returns how long to sleep when none was queued.
  std::chrono::milliseconds step();
  void run_job(const Job& job);
  std::vector<OutputFile> generate_outputs(const Job& job);
  void finish(const std::string& job_id);
  bool owns(const std::string& job_id) const;  // false once its lease was lost
  // What a failed job records: the message, engine errors without their C++ backtrace.
  static std::string failure_reason(const std::exception& e);
  ClaimOptions claim_options() const;
  void set_batch(std::vector<std::string> job_ids);
  // The batch path: false when `first` cannot be batched or nothing queued can join it (the
  // caller then runs it alone).
  bool run_batch(const Job& first);
  void run_members(std::vector<BatchMember>& batch, const ModelInfo& info,
                   pipeline::DiffusionModel& model);
  int batch_limit(const pipeline::GenerationRequest& request) const;
  std::vector<OutputFile> store_outputs(const Job& job, const JobSpec& spec,
                                        const pipeline::GenerationRequest& request,
                                        const ModelInfo& info,
                                        const pipeline::DiffusionModel& model,
                                        const pipeline::GenerationResult& result, double per_image);

  JobStore& jobs_;
  ImageStore& images_;
  ModelRegistry& models_;
  JobEvents& events_;
  std::function<void(const Job&)> on_finished_;
  int preview_every_;
  WorkerIdentity identity_;
  int max_batch_ = 1;
  mutable std::mutex lost_mutex_;
  std::set<std::string> lost_jobs_;  // jobs whose lease was lost, guarded by lost_mutex_
  std::vector<std::string> batch_;   // the jobs of the running batch, guarded by lost_mutex_
  PreviewDecoders preview_decoders_;
  WorkerStats stats_;
  std::atomic<bool> stopping_{false};  // set by stop(): the running job ends at its next step
  BackgroundLoop loop_;                // last: stopped before the members its steps use go away
};

}  // namespace dd::service
