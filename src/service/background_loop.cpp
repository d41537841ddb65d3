#include "service/background_loop.h"

namespace dd::service {

BackgroundLoop::BackgroundLoop(Step step) : step_(std::move(step)) {}

BackgroundLoop::~BackgroundLoop() { stop(); }

void BackgroundLoop::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void BackgroundLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundLoop::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_cv_.notify_all();
}

void BackgroundLoop::run() {
  while (!stopping_) {
    const std::chrono::milliseconds sleep = step_();
    if (sleep.count() <= 0) continue;
    std::unique_lock lock(mutex_);
    wake_cv_.wait_for(lock, sleep, [&] { return woken_ || stopping_.load(); });
    woken_ = false;
  }
}

}  // namespace dd::service
