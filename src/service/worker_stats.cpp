#include "service/worker_stats.h"

namespace dd::service {

namespace {

const std::vector<double> kStepBuckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const std::vector<double> kImageBuckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), counts(bounds.size(), 0) {}

void Histogram::observe(double value) {
  for (size_t i = 0; i < bounds.size(); ++i)
    if (value <= bounds[i]) ++counts[i];
  sum += value;
  ++count;
}

WorkerStats::WorkerStats() {
  stats_.step_seconds = Histogram(kStepBuckets);
  stats_.image_seconds = Histogram(kImageBuckets);
}

WorkerStatsSnapshot WorkerStats::snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void WorkerStats::job_finished(JobStatus status) {
  std::lock_guard lock(mutex_);
  if (status == JobStatus::Success) ++stats_.jobs_succeeded;
  if (status == JobStatus::Failed) ++stats_.jobs_failed;
  if (status == JobStatus::Cancelled) ++stats_.jobs_cancelled;
}

void WorkerStats::image_done(double seconds) {
  std::lock_guard lock(mutex_);
  ++stats_.images_generated;
  stats_.image_seconds.observe(seconds);
}

void WorkerStats::step_done(double seconds) {
  std::lock_guard lock(mutex_);
  stats_.step_seconds.observe(seconds);
}

void WorkerStats::set_running(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  stats_.running_job = job_id;
}

}  // namespace dd::service
