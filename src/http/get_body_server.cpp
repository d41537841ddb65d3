#include "http/get_body_server.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <iostream>

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
// After a connection has read this much more, freed request memory goes back to the system.
constexpr uint64_t kTrimAfterBytes = uint64_t(1) << 20;

// The refusal of the request this thread is routing (see GetBodyServer::take_refusal).
thread_local std::optional<GetBodyServer::Refusal> t_refusal;

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

// Reads a chunked body: the chunks up to the last (size 0), then the trailer lines. The chunk
// data goes into `kept`, or is dropped when it is null. False when the body is malformed or its
// chunks add up to more than `max_bytes` (`too_large` then says so).
bool read_chunked_body(ConnectionStream& stream, uint64_t max_bytes, std::string* kept,
                       bool& too_large) {
  std::string line;
  uint64_t total = 0;
  for (;;) {
    if (!stream.read_line(line, kMaxChunkLine)) return false;
    uint64_t size = 0;
    const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    too_large = error == std::errc::result_out_of_range ||
                (error == std::errc() && size > max_bytes - total);
    if (too_large || error != std::errc() || end == line.data()) return false;
    if (size == 0) break;
    total += size;
    bool read = false;
    if (kept) {
      const size_t at = kept->size();
      kept->resize(at + size);
      read = stream.read_exactly(kept->data() + at, size);
    } else {
      read = stream.skip(size);
    }
    if (!read || !stream.read_line(line, 2) || !is_line_end(line)) return false;
  }
  do {
    if (!stream.read_line(line, kMaxChunkLine)) return false;
  } while (!is_line_end(line));
  return true;
}

// httplib would invite the body with "100 Continue" after the head; we answer that ourselves,
// and only when we will read the body (`reading`). False when the answer cannot be sent.
bool answer_expect_continue(ConnectionStream& stream, httplib::Request& request, bool reading) {
  const bool invited = request.get_header_value("Expect") == "100-continue";
  request.headers.erase("Expect");
  return !reading || !invited || stream.write("HTTP/1.1 100 Continue\r\n\r\n") >= 0;
}

// Reads and drops the body of a request whose route ignores it; false when it cannot be (too
// large, malformed, the client stopped sending).
bool drop_body(ConnectionStream& stream, httplib::Request& request, const BodyFraming& framing,
               uint64_t max_bytes) {
  const bool readable = framing.kind == BodyFraming::Chunked ||
                        (framing.kind == BodyFraming::Length && framing.length <= max_bytes);
  if (!answer_expect_continue(stream, request, readable) || !readable) return false;
  bool too_large = false;
  if (framing.kind == BodyFraming::Chunked)
    return read_chunked_body(stream, max_bytes, nullptr, too_large);
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

std::string peer_address(socket_t socket) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(socket, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw =
      address.ss_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&address)->sin_addr);
  return inet_ntop(address.ss_family, raw, text, sizeof text) ? text : "";
}

// The answer to a connection refused before any request was read from it.
void refuse_connection(socket_t socket, const std::string& message) {
  const std::string body = R"({"success": false, "error": {"code": "too_many_connections", )"
                           R"("message": ")" +
                           message + R"(", "param": null}})";
  const std::string answer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
      "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ::send(socket, answer.data(), answer.size(), MSG_NOSIGNAL);
}

GetBodyServer::Refusal body_refusal(bool too_large, uint64_t max_bytes) {
  if (too_large)
    return {413,
            "body_too_large",
            "the request body is larger than " + std::to_string(max_bytes) + " bytes",
            {}};
  return {400,
          "bad_request",
          "malformed body framing (Content-Length must be a whole number of bytes; chunks must be "
          "well formed)",
          {}};
}

}  // namespace

void GetBodyServer::serve_get_with_body_as_post(const std::string& path) {
  post_paths_.insert(path);
}

void GetBodyServer::widen_listen_backlog() {
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);  // Linux updates the backlog
}

std::optional<GetBodyServer::Refusal> GetBodyServer::take_refusal() {
  auto refusal = std::move(t_refusal);
  t_refusal.reset();
  return refusal;
}

bool GetBodyServer::admit(const std::string& address) {
  std::lock_guard lock(connections_mutex_);
  size_t& count = connections_[address];
  if (max_per_address_ > 0 && count >= max_per_address_) {
    if (count == 0) connections_.erase(address);
    return false;
  }
  ++count;
  return true;
}

void GetBodyServer::release(const std::string& address) {
  std::lock_guard lock(connections_mutex_);
  const auto it = connections_.find(address);
  if (it != connections_.end() && --it->second == 0) connections_.erase(it);
}

bool GetBodyServer::process_and_close_socket(socket_t socket) {
  const std::string address = peer_address(socket);
  bool clean = false;
  if (admit(address)) {
    ConnectionStream stream(socket,
                            {duration(read_timeout_sec_, read_timeout_usec_),
                             duration(write_timeout_sec_, write_timeout_usec_), head_timeout_},
                            kMaxHeadBytes);
    try {
      clean = serve_connection(stream);
    } catch (const std::exception& e) {
      // Whatever escapes a connection must not leak its socket or its slot for the address.
      std::cerr << "http: connection from " << address << " dropped: " << e.what() << "\n";
    } catch (...) {
      std::cerr << "http: connection from " << address << " dropped\n";
    }
    release(address);
  } else {
    refuse_connection(socket, "too many connections from " + address + " (at most " +
                                  std::to_string(max_per_address_) + ")");
  }
  if (!clean) linger_before_close(socket);
  ::shutdown(socket, SHUT_RDWR);
  ::close(socket);
  return clean;
}

bool GetBodyServer::serve_connection(ConnectionStream& stream) {
  uint64_t trimmed_at = 0;
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
    if (stream.bytes_read() - trimmed_at >= kTrimAfterBytes) {
      trimmed_at = stream.bytes_read();
      malloc_trim(0);  // a large body was read and freed: return its memory to the system
    }
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
  t_refusal.reset();
  const BodyFraming framing = body_framing(request);
  std::optional<Refusal> refusal = screen_ ? screen_(request) : std::nullopt;
  if (!refusal && framing.kind == BodyFraming::Invalid) refusal = body_refusal(false, 0);
  if (!refusal && framing.kind == BodyFraming::Length && framing.length > payload_max_length_)
    refusal = body_refusal(true, payload_max_length_);
  bool too_large = false;
  if (!refusal && framing.kind == BodyFraming::Chunked && httplib_reads_body(request.method) &&
      !unchunk_body(stream, request, too_large))
    refusal = body_refusal(too_large, payload_max_length_);
  if (refusal) {
    t_refusal = std::move(refusal);
    if (framing.kind == BodyFraming::None) return true;
    // The body stays unread: no "100 Continue", and the connection ends after the answer.
    request.headers.erase("Expect");
    request.headers.erase("Connection");
    request.set_header("Connection", "close");
    return false;
  }
  if (httplib_reads_body(request.method)) return true;
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

bool GetBodyServer::unchunk_body(ConnectionStream& stream, httplib::Request& request,
                                 bool& too_large) const {
  std::string body;
  if (!answer_expect_continue(stream, request, true) ||
      !read_chunked_body(stream, payload_max_length_, &body, too_large))
    return false;
  request.headers.erase("Transfer-Encoding");
  request.headers.erase("Content-Length");
  request.set_header("Content-Length", std::to_string(body.size()));
  stream.unread(body);
  return true;
}

}  // namespace dd::http
