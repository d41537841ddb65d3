#include "service/event_relay.h"

#include <iostream>

namespace dd::service {

EventRelay::EventRelay(Database& db, const std::string& url, JobEvents& events, std::string node_id)
    : db_(db), events_(events), node_id_(std::move(node_id)) {
  listener_ = std::make_unique<PgListener>(
      url, kChannel, [this](const std::string& payload) { receive(payload); });
}

void EventRelay::send(const std::string& job_id, const std::string& type,
                      const nlohmann::json& data) {
  if (type != "status" && type != "progress" && type != "end") return;
  const nlohmann::json message = {
      {"node", node_id_}, {"job", job_id}, {"type", type}, {"data", data}};
  try {
    db_.notify(kChannel, message.dump());
  } catch (const std::exception&) {
    // Live events are a courtesy: the job's outcome is in the database either way, and a job
    // must not fail because the relay could not send one.
  }
}

void EventRelay::receive(const std::string& payload) {
  if (payload.empty()) return;  // the listener (re)connected
  try {
    const auto message = nlohmann::json::parse(payload);
    if (message.at("node").get<std::string>() == node_id_) return;  // published here already
    const auto job = message.at("job").get<std::string>();
    const auto type = message.at("type").get<std::string>();
    if (type == "end")
      events_.end(job);
    else
      events_.publish(job, type, message.at("data"));
  } catch (const std::exception& e) {
    std::cerr << "events: ignored a malformed notification: " << e.what() << "\n";
  }
}

}  // namespace dd::service
