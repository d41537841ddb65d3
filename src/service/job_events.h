#pragma once
// Live progress of jobs, in memory: the worker publishes what happens to a running job (it
// started, step k of n with the time taken and the time left, a preview image), and readers
// (the SSE stream, the job object's `progress`, AUTOMATIC1111's /progress, OpenAI's streamed
// partial images) follow it. Publishing only appends under a short lock: a reader, however
// slow, never holds up the worker. Each job's events are numbered from 1, so a reader that
// reconnects with the last number it saw (SSE's Last-Event-ID) gets the rest with no gap.
//
// What is kept is bounded: every event of a job while it runs (the image bytes of its last
// kMaxPreviewImages previews only) and, after it ends, the events of the last kKeptFinished
// finished jobs, fewer when their previews would hold more than kFinishedImageBytes. After a
// restart nothing is kept: readers fall back on the stored job.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dd::service {

struct JobEvent {
  uint64_t id = 0;   // 1, 2, 3, ... within the job
  std::string type;  // "status" | "progress" | "preview"
  // status: {"status": "IN_PROGRESS"|"SUCCESS"|...}
  // progress: {"step": k (1-based, done), "steps": n, "elapsed": s, "eta": s}
  // preview: {"step", "steps", "width", "height"}; the PNG is in `image` (null once dropped)
  nlohmann::json data;
  std::shared_ptr<const std::string> image;  // preview PNG bytes
};

// The latest progress of a job, for polling.
struct LiveProgress {
  int step = 0;  // steps done
  int steps = 0;
  double elapsed = 0;                          // seconds since the job started running
  double eta = -1;                             // seconds left (-1: not known yet)
  std::shared_ptr<const std::string> preview;  // latest preview PNG, or null
  int preview_step = 0;
  bool ended = false;
};

class JobEvents {
 public:
  static constexpr size_t kMaxPreviewImages = 16;
  static constexpr size_t kKeptFinished = 64;
  static constexpr size_t kFinishedImageBytes = size_t(64) << 20;

  // Appends an event to the job's list (created on first use) and wakes its readers; returns
  // its id.
  uint64_t publish(const std::string& job_id, const std::string& type, nlohmann::json data,
                   std::shared_ptr<const std::string> image = nullptr);
  // The job has ended (after its last status event): readers stop waiting for more.
  void end(const std::string& job_id);

  struct Batch {
    std::vector<JobEvent> events;  // ids above `after`, in order
    bool known = false;            // any event of the job is kept
    bool ended = false;            // end() was called: no more will come
  };
  // The job's events with ids above `after`. When there are none yet and the job has not
  // ended, waits up to timeout_ms for one (0: does not wait).
  Batch after(const std::string& job_id, uint64_t after, int timeout_ms) const;

  std::optional<LiveProgress> progress(const std::string& job_id) const;

  // Called after each publish (with its type and data, not the image) and after end() (type
  // "end"), on the publishing thread and outside the lock: e.g. to relay events to other nodes.
  // Set it before events flow.
  using Observer = std::function<void(const std::string& job_id, const std::string& type,
                                      const nlohmann::json& data)>;
  void observe(Observer observer) { observer_ = std::move(observer); }

 private:
  struct Log {
    std::vector<JobEvent> events;
    LiveProgress progress;
    size_t images = 0;       // previews that still hold their bytes
    size_t image_bytes = 0;  // and those bytes
  };
  void forget_old_finished();  // caller holds mutex_

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, Log> logs_;
  std::deque<std::string> finished_;  // oldest first
  size_t finished_image_bytes_ = 0;   // held by the finished jobs' previews
  Observer observer_;
};

}  // namespace dd::service
