#pragma once
// How the server runs its connections: each on a thread of its own, up to a cap. cpp-httplib's
// default pool has a handful of threads, so a few idle clients, or a few synchronous requests
// waiting for their images, left none for the next request (/health included). A thread that
// waits on a socket or on a job costs only its (virtual) stack, so the cap is generous; past it,
// connections wait in line for a free thread. Connections per client address are bounded
// separately (GetBodyServer), so one client cannot take all the threads.
#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace dd::http {

class ConnectionThreads final : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(size_t max_threads);
  ~ConnectionThreads() override;

  void enqueue(std::function<void()> task) override;
  // Runs what is queued, then returns once every thread has ended.
  void shutdown() override;

 private:
  void run(std::function<void()> task);

  const size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable all_done_;
  std::deque<std::function<void()>> waiting_;
  size_t running_ = 0;
};

}  // namespace dd::http
