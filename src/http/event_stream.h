#pragma once
// Server-Sent Events on a chunked httplib answer: what the progress stream
// (GET /v0/api/jobs/:id/events) and OpenAI's image stream share. Each stream is pumped by its
// connection's own thread; a pump waits up to kEventWaitMs for news from service::JobEvents, so
// a stream also notices a stored change (a queued job cancelled) within that time.
#include <httplib.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace dd::http {

constexpr int kEventWaitMs = 1000;

// One event: `id: <id>` (when id > 0), `event: <name>`, `data: <json>` and the blank line.
std::string sse_frame(const std::string& event, const nlohmann::json& data, uint64_t id = 0);

// The writing side of one stream: remembers when it last wrote (for keep-alives) and whether
// it has ended.
class EventStream {
 public:
  // False when the client has gone away.
  bool write(httplib::DataSink& sink, const std::string& text);
  // Writes the last frame and ends the answer.
  bool end(httplib::DataSink& sink, const std::string& last_frame);
  // A comment line after 15 s without a write, so that proxies keep the connection.
  bool keep_alive(httplib::DataSink& sink);
  bool ended() const { return ended_; }

 private:
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
  bool ended_ = false;
};

// Answers `response` with an event stream: `pump` is called again and again (each call may
// wait) until it returns false or ends the stream. An exception from `pump` goes to
// `on_error`, which may still write to the sink and returns whether to go on.
void serve_event_stream(httplib::Response& response, std::function<bool(httplib::DataSink&)> pump,
                        std::function<bool(httplib::DataSink&, const std::exception&)> on_error);

}  // namespace dd::http
