#include "http/connection_threads.h"

#include <thread>

namespace dd::http {

ConnectionThreads::ConnectionThreads(size_t max_threads) : max_threads_(max_threads) {}

ConnectionThreads::~ConnectionThreads() { shutdown(); }

void ConnectionThreads::enqueue(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  if (running_ >= max_threads_) {
    waiting_.push_back(std::move(task));
    return;
  }
  ++running_;
  std::thread([this, task = std::move(task)]() mutable { run(std::move(task)); }).detach();
}

void ConnectionThreads::run(std::function<void()> task) {
  for (;;) {
    try {
      task();
    } catch (...) {
      // A connection's failure ends that connection only.
    }
    std::lock_guard lock(mutex_);
    if (waiting_.empty()) {
      --running_;
      all_done_.notify_all();
      return;
    }
    task = std::move(waiting_.front());
    waiting_.pop_front();
  }
}

void ConnectionThreads::shutdown() {
  std::unique_lock lock(mutex_);
  all_done_.wait(lock, [&] { return running_ == 0; });
}

}  // namespace dd::http
