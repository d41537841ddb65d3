#include "http/get_body_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include "http/connection_stream.h"

namespace dd::http {

namespace {

using Clock = std::chrono::steady_clock;

// How often a connection waiting for its next request checks whether the server is stopping.
constexpr auto kStopCheckInterval = std::chrono::milliseconds(50);
// Chunk-size and trailer lines of a dropped chunked body.
constexpr size_t kMaxChunkLine = 1024;
// Reading what a client still sends before closing on it (see linger_before_close).
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kMaxLingerBytes = size_t(1) << 20;

// The methods httplib 0.11 reads a body for itself (its detail::expect_content).
bool httplib_reads_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" ||
         method == "PRI";
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// How a request says its body is delimited.
struct BodyFraming {
  enum Kind { None, Length, Chunked, Invalid } kind = None;
  uint64_t length = 0;
};

BodyFraming body_framing(const httplib::Request& request) {
  if (request.has_header("Transfer-Encoding")) {
    const auto coding = lowercase(request.get_header_value("Transfer-Encoding"));
    return {coding == "chunked" ? BodyFraming::Chunked : BodyFraming::Invalid};
  }
  if (!request.has_header("Content-Length")) return {};
  const std::string text = request.get_header_value("Content-Length");
  uint64_t length = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    return {BodyFraming::Invalid};
  if (length == 0) return {};
  return {BodyFraming::Length, length};
}

bool is_line_end(const std::string& line) { return line == "\r\n" || line == "\n"; }

// Reads and drops a chunked body: the chunks up to the last (size 0), then the trailer lines.
bool skip_chunked_body(ConnectionStream& stream, uint64_t max_bytes) {
  std::string line;
  uint64_t total = 0;
  for (;;) {
    if (!stream.read_line(line, kMaxChunkLine)) return false;
    uint64_t size = 0;
    const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (error != std::errc() || end == line.data()) return false;
    if (size == 0) break;
    if (size > max_bytes - total) return false;
    total += size;
    if (!stream.skip(size) || !stream.read_line(line, 2) || !is_line_end(line)) return false;
  }
  do {
    if (!stream.read_line(line, kMaxChunkLine)) return false;
  } while (!is_line_end(line));
  return true;
}

// Reads and drops the body of a request whose route ignores it; false when it cannot be (too
// large, malformed, the client stopped sending).
bool drop_body(ConnectionStream& stream, httplib::Request& request, const BodyFraming& framing,
               uint64_t max_bytes) {
  const bool readable = framing.kind == BodyFraming::Chunked ||
                        (framing.kind == BodyFraming::Length && framing.length <= max_bytes);
  // httplib would invite the body with "100 Continue" after this; we answer that ourselves, and
  // only when we will read the body.
  const bool invited = request.get_header_value("Expect") == "100-continue";
  request.headers.erase("Expect");
  if (!readable) return false;
  if (invited && stream.write("HTTP/1.1 100 Continue\r\n\r\n") < 0) return false;
  if (framing.kind == BodyFraming::Chunked) return skip_chunked_body(stream, max_bytes);
  return stream.skip(framing.length);
}

// Closing a socket with unread input makes the kernel reset the connection, which can destroy
// the answer still on its way to the client. So: stop sending, then read what the client still
// sends, for a short while.
void linger_before_close(socket_t socket) {
  ::shutdown(socket, SHUT_WR);
  char sink[4096];
  size_t drained = 0;
  const auto deadline = Clock::now() + kLingerTime;
  while (drained < kMaxLingerBytes && Clock::now() < deadline) {
    pollfd entry{socket, POLLIN, 0};
    const int ready = ::poll(&entry, 1, 100);
    if (ready < 0) return;
    if (ready == 0) continue;
    const ssize_t n = ::recv(socket, sink, sizeof sink, 0);
    if (n <= 0) return;
    drained += static_cast<size_t>(n);
  }
}

std::chrono::microseconds duration(time_t seconds, time_t microseconds) {
  return std::chrono::seconds(seconds) + std::chrono::microseconds(microseconds);
}

}  // namespace

void GetBodyServer::serve_get_with_body_as_post(const std::string& path) {
  post_paths_.insert(path);
}

bool GetBodyServer::process_and_close_socket(socket_t socket) {
  ConnectionStream stream(socket,
                          {duration(read_timeout_sec_, read_timeout_usec_),
                           duration(write_timeout_sec_, write_timeout_usec_)},
                          kMaxHeadBytes);
  const bool clean = serve_connection(stream);
  if (!clean) linger_before_close(socket);
  ::shutdown(socket, SHUT_RDWR);
  ::close(socket);
  return clean;
}

bool GetBodyServer::serve_connection(ConnectionStream& stream) {
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    if (!next_request_arrives(stream)) return true;
    bool head_parsed = false;
    bool keep_open = true;
    bool close_requested = false;
    stream.begin_head();
    const bool answered =
        process_request(stream, left == 1, close_requested, [&](httplib::Request& request) {
          stream.end_head();
          head_parsed = true;
          keep_open = prepare_request(stream, request);
        });
    if (!head_parsed || !keep_open) return false;
    if (!answered || close_requested) return true;
  }
  return true;
}

bool GetBodyServer::next_request_arrives(const ConnectionStream& stream) const {
  const auto deadline = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
  while (svr_sock_ != INVALID_SOCKET) {
    if (stream.readable_within(kStopCheckInterval)) return true;
    if (Clock::now() >= deadline) return false;
  }
  return false;
}

bool GetBodyServer::prepare_request(ConnectionStream& stream, httplib::Request& request) const {
  if (httplib_reads_body(request.method)) return true;
  const BodyFraming framing = body_framing(request);
  if (framing.kind == BodyFraming::None) return true;
  if (framing.kind != BodyFraming::Invalid && request.method == "GET" &&
      post_paths_.count(request.path) > 0) {
    request.method = "POST";
    return true;
  }
  if (drop_body(stream, request, framing, payload_max_length_)) return true;
  // httplib answers a request that asks for "Connection: close" with that header.
  request.headers.erase("Connection");
  request.set_header("Connection", "close");
  return false;
}

}  // namespace dd::http
