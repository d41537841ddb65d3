#include "service/lease_keeper.h"

#include <iostream>

namespace dd::service {

LeaseKeeper::LeaseKeeper(JobStore& jobs, WorkerPresence& presence, Worker* worker, int64_t lease_ms)
    : jobs_(jobs), presence_(presence), worker_(worker), lease_ms_(lease_ms), loop_([this] {
        return step();
      }) {}

LeaseKeeper::~LeaseKeeper() { stop(); }

void LeaseKeeper::stop() {
  if (!loop_.running()) return;
  loop_.stop();
  if (!worker_) return;
  try {
    presence_.leave(worker_->identity().worker_id);
  } catch (const std::exception& e) {  // the database is down: the row ages out instead
    std::cerr << "leases: " << e.what() << "\n";
  }
}

std::chrono::milliseconds LeaseKeeper::step() {
  try {
    if (worker_ && worker_->running()) {
      const auto& me = worker_->identity().worker_id;
      presence_.beat(me, worker_->loaded_models());
      for (const auto& job : worker_->running_jobs())
        if (!jobs_.renew_lease(job, me, lease_ms_)) worker_->lease_lost(job);
    }
    jobs_.requeue_expired(now_ms());
    if (failing_) std::cerr << "leases: the database answers again\n";
    failing_ = false;
  } catch (const std::exception& e) {  // e.g. the database is restarting: try again next round
    if (!failing_) std::cerr << "leases: " << e.what() << " (retrying quietly)\n";
    failing_ = true;
  }
  return std::chrono::milliseconds(std::max<int64_t>(lease_ms_ / 3, 100));
}

}  // namespace dd::service
