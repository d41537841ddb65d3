#pragma once
// The background duty of every node on a shared (PostgreSQL) queue, every lease / 3: a worker
// renews the lease on its running job (one it can no longer renew is stopped: another worker
// has it) and records its heartbeat; every node, API nodes included, queues again the jobs
// whose worker stopped renewing (kill -9, machine gone), so such a job runs elsewhere.
#include <chrono>
#include <cstdint>

#include "service/background_loop.h"
#include "service/job_store.h"
#include "service/worker.h"
#include "service/worker_presence.h"

namespace dd::service {

class LeaseKeeper {
 public:
  // `worker` is null on a node that runs none (serve --no-worker).
  LeaseKeeper(JobStore& jobs, WorkerPresence& presence, Worker* worker, int64_t lease_ms);
  ~LeaseKeeper();  // stops
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void start() { loop_.start(); }
  void stop();  // a worker's heartbeat row goes at once

 private:
  std::chrono::milliseconds step();

  JobStore& jobs_;
  WorkerPresence& presence_;
  Worker* worker_;
  int64_t lease_ms_;
  bool failing_ = false;  // the last round failed: the next failure is not logged again
  BackgroundLoop loop_;   // last: stopped before the members its steps use go away
};

}  // namespace dd::service
