#include "service/pg_listener.h"

#include <chrono>
#include <iostream>
#include <memory>

#include "service/pg_connection.h"

namespace dd::service {

namespace {

// How often the thread looks at its stop flag while no notification comes.
constexpr int kWaitSliceMs = 500;

}  // namespace

PgListener::PgListener(std::string url, std::string channel,
                       std::function<void(const std::string&)> on_notify)
    : url_(std::move(url)), channel_(std::move(channel)), on_notify_(std::move(on_notify)) {
  thread_ = std::thread([this] { run(); });
}

PgListener::~PgListener() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void PgListener::run() {
  std::unique_ptr<PgConnection> connection;
  bool reported = false;
  while (!stopping_) {
    try {
      if (!connection || !connection->alive()) {
        connection = std::make_unique<PgConnection>(url_);
        // The channel name is ours (a constant), never input: LISTEN takes no parameters.
        connection->run_script("LISTEN " + channel_);
        if (reported) std::cerr << "listener: listening on " << channel_ << " again\n";
        reported = false;
        on_notify_("");
      }
      for (const auto& payload : connection->wait_for_notifications(kWaitSliceMs))
        on_notify_(payload);
    } catch (const std::exception& e) {
      if (!reported) std::cerr << "listener: " << e.what() << "; retrying every second\n";
      reported = true;
      connection.reset();
      for (int i = 0; i < 1000 / kWaitSliceMs * 2 && !stopping_; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(kWaitSliceMs / 2));
    }
  }
}

}  // namespace dd::service
