#pragma once
// What the worker has done, for the /metrics endpoint: jobs by outcome, images, and histograms
// of step and per-image seconds, read while the worker thread updates them.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "service/job.h"

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

}  // namespace dd::service
