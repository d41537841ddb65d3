#include "http/connection_stream.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dd::http {

namespace {

constexpr size_t kReadChunk = 16 * 1024;

// poll() for one event, retrying when a signal interrupts it. True when the event is ready.
bool wait_for(socket_t socket, short event, std::chrono::microseconds timeout) {
  pollfd entry{socket, event, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int ready = ::poll(&entry, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

void address_of(const sockaddr_storage& address, socklen_t length, std::string& ip, int& port) {
  char host[NI_MAXHOST] = {};
  char service[NI_MAXSERV] = {};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, service,
                    sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return;
  ip = host;
  port = std::atoi(service);
}

}  // namespace

ConnectionStream::ConnectionStream(socket_t socket, StreamTimeouts timeouts, size_t max_head_bytes)
    : socket_(socket), timeouts_(timeouts), max_head_bytes_(max_head_bytes) {}

bool ConnectionStream::is_readable() const {
  return readable_within(std::chrono::duration_cast<std::chrono::milliseconds>(timeouts_.read));
}

bool ConnectionStream::is_writable() const { return wait_for(socket_, POLLOUT, timeouts_.write); }

bool ConnectionStream::readable_within(std::chrono::milliseconds timeout) const {
  return buffered() > 0 || wait_for(socket_, POLLIN, timeout);
}

ssize_t ConnectionStream::fill() {
  auto timeout = timeouts_.read;
  if (in_head_) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        head_deadline_ - std::chrono::steady_clock::now());
    if (left < timeout) timeout = std::max(left, std::chrono::microseconds(0));
  }
  if (!wait_for(socket_, POLLIN, timeout)) {
    if (in_head_ && std::chrono::steady_clock::now() >= head_deadline_) head_too_slow_ = true;
    return -1;
  }
  buffer_.resize(kReadChunk);
  offset_ = 0;
  ssize_t n;
  do {
    n = ::recv(socket_, buffer_.data(), buffer_.size(), 0);
  } while (n < 0 && errno == EINTR);
  buffer_.resize(n > 0 ? static_cast<size_t>(n) : 0);
  if (n > 0) bytes_read_ += static_cast<uint64_t>(n);
  return n < 0 ? -1 : n;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (in_head_) {
    if (head_bytes_ >= max_head_bytes_) {
      head_too_large_ = true;
      return -1;
    }
    size = std::min(size, max_head_bytes_ - head_bytes_);
  }
  if (buffered() == 0) {
    const ssize_t filled = fill();
    if (filled <= 0) return filled;
  }
  const size_t count = std::min(size, buffered());
  std::memcpy(ptr, buffer_.data() + offset_, count);
  offset_ += count;
  if (in_head_) head_bytes_ += count;
  return static_cast<ssize_t>(count);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  size_t sent = 0;
  while (sent < size) {
    if (!is_writable()) return -1;
    const ssize_t n = ::send(socket_, ptr + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    sent += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(size);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(socket_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    address_of(address, length, ip, port);
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    address_of(address, length, ip, port);
}

void ConnectionStream::begin_head() {
  in_head_ = true;
  head_bytes_ = 0;
  head_deadline_ = std::chrono::steady_clock::now() + timeouts_.head;
}

void ConnectionStream::end_head() { in_head_ = false; }

bool ConnectionStream::skip(size_t count) {
  while (count > 0) {
    if (buffered() == 0 && fill() <= 0) return false;
    const size_t dropped = std::min(count, buffered());
    offset_ += dropped;
    count -= dropped;
  }
  return true;
}

bool ConnectionStream::read_exactly(char* out, size_t count) {
  while (count > 0) {
    if (buffered() == 0 && fill() <= 0) return false;
    const size_t taken = std::min(count, buffered());
    std::memcpy(out, buffer_.data() + offset_, taken);
    offset_ += taken;
    out += taken;
    count -= taken;
  }
  return true;
}

void ConnectionStream::unread(const std::string& bytes) {
  std::vector<char> merged(bytes.begin(), bytes.end());
  merged.insert(merged.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_),
                buffer_.end());
  buffer_ = std::move(merged);
  offset_ = 0;
}

bool ConnectionStream::read_line(std::string& line, size_t max_length) {
  line.clear();
  while (line.size() < max_length) {
    if (buffered() == 0 && fill() <= 0) return false;
    const char c = buffer_[offset_++];
    line += c;
    if (c == '\n') return true;
  }
  return false;
}

}  // namespace dd::http
