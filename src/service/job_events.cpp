#include "service/job_events.h"

#include <algorithm>
#include <chrono>

namespace dd::service {

namespace {

// The progress a job's latest events add up to.
void fold_into(LiveProgress& progress, const JobEvent& event) {
  if (event.type == "progress") {
    progress.step = event.data.value("step", 0);
    progress.steps = event.data.value("steps", 0);
    progress.elapsed = event.data.value("elapsed", 0.0);
    progress.eta = event.data.value("eta", -1.0);
  } else if (event.type == "preview" && event.image) {
    progress.preview = event.image;
    progress.preview_step = event.data.value("step", 0);
  }
}

}  // namespace

uint64_t JobEvents::publish(const std::string& job_id, const std::string& type, nlohmann::json data,
                            std::shared_ptr<const std::string> image) {
  uint64_t id = 0;
  // A copy for the observer (small: the image is not in it).
  const nlohmann::json observed = observer_ ? data : nlohmann::json();
  {
    const std::lock_guard lock(mutex_);
    auto& log = logs_[job_id];
    JobEvent event;
    event.id = log.events.size() + 1;
    event.type = type;
    event.data = std::move(data);
    event.image = std::move(image);
    fold_into(log.progress, event);
    if (event.image) {
      ++log.images;
      log.image_bytes += event.image->size();
    }
    if (log.images > kMaxPreviewImages) {
      // Only the latest previews keep their bytes: a long job with frequent previews must not
      // hold every one of them.
      for (auto& old : log.events)
        if (old.image) {
          log.image_bytes -= old.image->size();
          old.image.reset();
          --log.images;
          break;
        }
    }
    id = event.id;
    log.events.push_back(std::move(event));
  }
  changed_.notify_all();
  if (observer_) observer_(job_id, type, observed);
  return id;
}

void JobEvents::end(const std::string& job_id) {
  {
    const std::lock_guard lock(mutex_);
    auto& log = logs_[job_id];
    if (log.progress.ended) return;
    log.progress.ended = true;
    finished_.push_back(job_id);
    finished_image_bytes_ += log.image_bytes;
    forget_old_finished();
  }
  changed_.notify_all();
  if (observer_) observer_(job_id, "end", nlohmann::json::object());
}

void JobEvents::forget_old_finished() {
  // The newest finished job is kept whatever its size, for the readers still following it.
  while (finished_.size() > kKeptFinished ||
         (finished_.size() > 1 && finished_image_bytes_ > kFinishedImageBytes)) {
    const auto oldest = logs_.find(finished_.front());
    finished_image_bytes_ -= oldest->second.image_bytes;
    logs_.erase(oldest);
    finished_.pop_front();
  }
}

JobEvents::Batch JobEvents::after(const std::string& job_id, uint64_t after, int timeout_ms) const {
  std::unique_lock lock(mutex_);
  const auto has_news = [&] {
    const auto found = logs_.find(job_id);
    return found != logs_.end() &&
           (found->second.events.size() > after || found->second.progress.ended);
  };
  if (timeout_ms > 0) changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), has_news);
  Batch batch;
  const auto found = logs_.find(job_id);
  if (found == logs_.end()) return batch;
  const auto& log = found->second;
  batch.known = true;
  batch.ended = log.progress.ended;
  for (size_t i = std::min<size_t>(after, log.events.size()); i < log.events.size(); ++i)
    batch.events.push_back(log.events[i]);
  return batch;
}

std::optional<LiveProgress> JobEvents::progress(const std::string& job_id) const {
  const std::lock_guard lock(mutex_);
  const auto found = logs_.find(job_id);
  if (found == logs_.end()) return std::nullopt;
  return found->second.progress;
}

}  // namespace dd::service
