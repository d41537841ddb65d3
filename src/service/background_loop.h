#pragma once
// A background thread that runs one step function over and over: after each step it sleeps for
// as long as the step asked, or until wake() or stop(). stop() lets a step in progress finish
// (steps that can end early check stopping()) and joins the thread. The worker and the webhook
// sender each run on one.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace dd::service {

class BackgroundLoop {
 public:
  // Returns how long to sleep before the next step (zero or less: run it again at once). It runs
  // on the loop's thread; what it throws is its own business (catch inside).
  using Step = std::function<std::chrono::milliseconds()>;

  explicit BackgroundLoop(Step step);
  ~BackgroundLoop();  // stops
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;

  void start();  // does nothing while running
  void stop();   // wakes the thread, lets the current step finish and joins
  // Cuts the current sleep short; a wake during a step makes the next sleep return at once.
  void wake();

  bool running() const { return thread_.joinable(); }
  bool stopping() const { return stopping_; }

 private:
  void run();

  Step step_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  std::atomic<bool> stopping_{false};
};

}  // namespace dd::service
