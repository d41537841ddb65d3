#include "http/event_stream.h"

#include <memory>

namespace dd::http {

std::string sse_frame(const std::string& event, const nlohmann::json& data, uint64_t id) {
  std::string out;
  if (id > 0) out += "id: " + std::to_string(id) + "\n";
  out += "event: " + event + "\ndata: " + data.dump() + "\n\n";
  return out;
}

bool EventStream::write(httplib::DataSink& sink, const std::string& text) {
  last_write_ = std::chrono::steady_clock::now();
  return sink.write(text.data(), text.size());
}

bool EventStream::end(httplib::DataSink& sink, const std::string& last_frame) {
  ended_ = true;
  if (!last_frame.empty() && !write(sink, last_frame)) return false;
  sink.done();
  return true;
}

bool EventStream::keep_alive(httplib::DataSink& sink) {
  if (std::chrono::steady_clock::now() - last_write_ < std::chrono::seconds(15)) return true;
  return write(sink, ": keep-alive\n\n");
}

void serve_event_stream(httplib::Response& response, std::function<bool(httplib::DataSink&)> pump,
                        std::function<bool(httplib::DataSink&, const std::exception&)> on_error) {
  response.set_header("Cache-Control", "no-store");
  response.set_header("X-Accel-Buffering", "no");  // proxies: pass each event on at once
  response.set_chunked_content_provider(
      "text/event-stream",
      [pump = std::move(pump), on_error = std::move(on_error)](size_t, httplib::DataSink& sink) {
        try {
          return pump(sink);
        } catch (const std::exception& e) {
          return on_error(sink, e);
        }
      });
}

}  // namespace dd::http
