#pragma once
// Wakes a worker when jobs are queued on another node: a thread with its own PostgreSQL
// connection LISTENs on a channel (job_store.h kQueueChannel) and calls `on_notify` with the
// payload of each NOTIFY. A lost connection is re-opened every second; `on_notify` is also
// called (with "") after each reconnect, since notifications sent meanwhile are gone.
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace dd::service {

class PgListener {
 public:
  PgListener(std::string url, std::string channel,
             std::function<void(const std::string& payload)> on_notify);
  ~PgListener();  // stops the thread
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

 private:
  void run();

  std::string url_;
  std::string channel_;
  std::function<void(const std::string&)> on_notify_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace dd::service
