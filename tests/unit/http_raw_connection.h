#pragma once
// A raw HTTP/1.1 client connection for tests that need exact bytes on the wire (a GET with a
// body, as curl sends it; pipelined requests; oversized heads), reading the answers back one at
// a time so keep-alive behaviour can be checked.
#include <map>
#include <optional>
#include <string>

namespace dd::test {

class RawConnection {
 public:
  explicit RawConnection(int port);  // 127.0.0.1:port; a failed connect shows as ok() == false
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return socket_ >= 0; }
  bool send(const std::string& bytes);

  struct Answer {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
  };
  // The next answer (bodies framed by Content-Length); nullopt when the connection ends first.
  std::optional<Answer> receive();
  // True when the server has closed the connection and sent nothing more (waits for either).
  bool closed_by_server();

 private:
  bool read_more();

  int socket_ = -1;
  std::string buffer_;
};

// "METHOD PATH HTTP/1.1" with Host, the extra header lines and, when `body` is not empty, its
// Content-Length and the body.
std::string raw_request(const std::string& method, const std::string& path,
                        const std::string& body = "", const std::string& extra_headers = "");

}  // namespace dd::test
