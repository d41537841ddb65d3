#include "http_raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

namespace dd::test {

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  const size_t end = text.find_last_not_of(" \t\r");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

}  // namespace

RawConnection::RawConnection(int port) {
  socket_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (socket_ < 0) return;
  timeval timeout{120, 0};  // a stuck server fails the test instead of hanging it
  ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(socket_);
    socket_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (socket_ >= 0) ::close(socket_);
}

bool RawConnection::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(socket_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool RawConnection::read_more() {
  char chunk[16384];
  const ssize_t n = ::recv(socket_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

std::optional<RawConnection::Answer> RawConnection::receive() {
  size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!read_more()) return std::nullopt;
  Answer answer;
  std::istringstream head(buffer_.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  std::istringstream status_line(line);
  std::string version;
  status_line >> version >> answer.status;
  while (std::getline(head, line)) {
    const size_t colon = line.find(':');
    if (colon != std::string::npos)
      answer.headers[lowercase(line.substr(0, colon))] = trim(line.substr(colon + 1));
  }
  const size_t length =
      std::stoul(answer.headers.count("content-length") > 0 ? answer.headers["content-length"]
                                                            : std::string("0"));
  const size_t body_start = head_end + 4;
  while (buffer_.size() < body_start + length)
    if (!read_more()) return std::nullopt;
  answer.body = buffer_.substr(body_start, length);
  buffer_.erase(0, body_start + length);
  return answer;
}

bool RawConnection::closed_by_server() {
  if (!buffer_.empty()) return false;
  char byte;
  const ssize_t n = ::recv(socket_, &byte, 1, 0);
  if (n > 0) buffer_ += byte;
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

std::string raw_request(const std::string& method, const std::string& path, const std::string& body,
                        const std::string& extra_headers) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
  if (!body.empty()) request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return request + "\r\n" + body;
}

}  // namespace dd::test
