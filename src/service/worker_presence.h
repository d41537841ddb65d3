#pragma once
// Which workers are alive, for API nodes that run none themselves: every worker records a
// heartbeat (with the models it has loaded) in the shared database, and `/ready` of an API node
// asks whether any beat recently.
#include <cstdint>
#include <string>
#include <vector>

#include "service/database.h"

namespace dd::service {

class WorkerPresence {
 public:
  explicit WorkerPresence(Database& db);  // creates its table if needed

  void beat(const std::string& worker_id, const std::vector<std::string>& loaded_models);
  // A worker stopping gracefully is gone at once, not after its heartbeats age out.
  void leave(const std::string& worker_id);
  // Workers whose last heartbeat is at most `within_ms` old.
  int64_t alive(int64_t within_ms) const;

 private:
  Database& db_;
};

}  // namespace dd::service
