#pragma once
// Live events across nodes on a shared database: a node running jobs sends each status and
// progress event of them as a NOTIFY (previews stay on the worker: a notification carries at
// most 8000 bytes), and every node LISTENs and republishes the other nodes' events into its own
// JobEvents. So an API node's event streams, job objects and AUTOMATIC1111 /progress follow
// jobs that run on workers elsewhere (event ids are that node's own numbering).
#include <memory>
#include <string>

#include "service/database.h"
#include "service/job_events.h"
#include "service/pg_listener.h"

namespace dd::service {

class EventRelay {
 public:
  // The channel's notifications carry {"node", "job", "type", "data"}.
  static constexpr const char* kChannel = "diffusiond_events";

  // Listens at once; `node_id` tells this node's own notifications apart.
  EventRelay(Database& db, const std::string& url, JobEvents& events, std::string node_id);

  // For JobEvents::observe on a node that runs jobs: sends status, progress and end events.
  void send(const std::string& job_id, const std::string& type, const nlohmann::json& data);

 private:
  void receive(const std::string& payload);

  Database& db_;
  JobEvents& events_;
  std::string node_id_;
  std::unique_ptr<PgListener> listener_;  // last: stopped first
};

}  // namespace dd::service
