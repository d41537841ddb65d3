#pragma once
// The compute thread: claims queued jobs one at a time (JobStore decides the order), turns each
// JobSpec into a pipeline::GenerationRequest with the model's defaults for unset fields, runs
// the engine with progress and cancellation, stores every image (PNG with the A1111
// `parameters` chunk, or JPEG/WebP on request) and records the outputs. Any failure is recorded
// on the job (FAILED with the reason); the thread itself never dies of one.
//
// stop() interrupts a running job at its next step and leaves it IN_PROGRESS, exactly as a
// crash would: JobStore::requeue_interrupted() at the next start-up queues it again.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "service/image_store.h"
#include "service/job_store.h"
#include "service/model_registry.h"

namespace dd::service {

// A Prometheus-style histogram: counts[i] = observations <= bounds[i] (cumulative); the +Inf
// bucket is `count`.
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
  uint64_t count = 0;

  explicit Histogram(std::vector<double> upper_bounds = {});
  void observe(double value);
};

struct WorkerStatsSnapshot {
  uint64_t jobs_succeeded = 0;
  uint64_t jobs_failed = 0;
  uint64_t jobs_cancelled = 0;
  uint64_t images_generated = 0;
  Histogram step_seconds;   // one sampler step (UNet passes of all images of a job)
  Histogram image_seconds;  // a job's generation time divided by its image count
  std::string running_job;  // "" when idle
};

// Counters the /metrics endpoint reads while the worker updates them.
class WorkerStats {
 public:
  WorkerStats();
  WorkerStatsSnapshot snapshot() const;

  void job_finished(JobStatus status);
  void image_done(double seconds);
  void step_done(double seconds);
  void set_running(const std::string& job_id);

 private:
  mutable std::mutex mutex_;
  WorkerStatsSnapshot stats_;
};

class Worker {
 public:
  // on_finished gets every job that ended (SUCCESS, FAILED or CANCELLED), e.g. to enqueue its
  // webhook; it runs on the worker thread and must not block for long.
  Worker(JobStore& jobs, ImageStore& images, ModelRegistry& models,
         std::function<void(const Job&)> on_finished = {});
  ~Worker();  // stops
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void stop();  // interrupts the running job (left IN_PROGRESS) and joins the thread
  void wake();  // a job was queued

  // Runs one queued job on the calling thread; false when none was queued (for tests/tools).
  bool run_one();

  const WorkerStats& stats() const { return stats_; }
  bool running() const { return thread_.joinable(); }

 private:
  void loop();
  void run_job(const Job& job);
  std::vector<OutputFile> generate_outputs(const Job& job);
  void finish(const std::string& job_id);

  JobStore& jobs_;
  ImageStore& images_;
  ModelRegistry& models_;
  std::function<void(const Job&)> on_finished_;
  WorkerStats stats_;

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  std::atomic<bool> stopping_{false};
};

}  // namespace dd::service
