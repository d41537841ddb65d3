// The HTTP server's connection handling on arbitrary bytes: each input is what one client sends
// on one connection (request heads, bodies, pipelined requests), fed through a socketpair into
// the GetBodyServer our server runs (cpp-httplib's request parsing, chunked and multipart
// bodies, the GET-with-body and body-dropping rules, the head cap), with routes like ours: a
// GET, a POST that reads its body (JSON or multipart), and a GET path served as a POST.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "http/get_body_server.h"

namespace {

// GetBodyServer::process_and_close_socket is private (httplib calls it for each accepted
// connection); an explicit instantiation may name a private member, which lets the target call
// it on one end of a socketpair without a listening thread.
using ProcessFn = bool (dd::http::GetBodyServer::*)(socket_t);
ProcessFn process_fn;
template <ProcessFn fn>
struct Grab {
  static inline const bool grabbed = (process_fn = fn, true);
};
template struct Grab<&dd::http::GetBodyServer::process_and_close_socket>;

dd::http::GetBodyServer& server() {
  static dd::http::GetBodyServer* instance = [] {
    auto* s = new dd::http::GetBodyServer;
    s->set_payload_max_length(1 << 20);
    s->set_read_timeout(0, 200'000);
    s->set_write_timeout(0, 200'000);
    s->set_keep_alive_timeout(1);
    s->set_exception_handler(
        [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
          response.status = 500;
        });
    s->Get("/health", [](const httplib::Request& request, httplib::Response& response) {
      std::string text = "ok " + request.path;
      for (const auto& [name, value] : request.headers) text += name.size() + value.size();
      for (const auto& [name, value] : request.params) text += name + value;
      response.set_content(text, "text/plain");
    });
    auto post = [](const httplib::Request& request, httplib::Response& response) {
      size_t total = request.body.size();
      for (const auto& [name, file] : request.files)
        total += name.size() + file.content.size() + file.filename.size();
      response.set_content(std::to_string(total), "text/plain");
    };
    s->Post("/api/v1/images/generation", post);
    s->Post("/v1/images/edits", post);
    s->serve_get_with_body_as_post("/api/v1/images/generation");
    // The connection loop runs only while the server has a listening socket.
    if (s->bind_to_any_port("127.0.0.1") <= 0) std::abort();
    return s;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;  // stays within the socket buffer, written up front
  auto& s = server();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  const int buffer = 1 << 20;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  ::setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::send(fds[0], data + written, size - written, MSG_NOSIGNAL);
    if (n <= 0) std::abort();
    written += static_cast<size_t>(n);
  }
  ::shutdown(fds[0], SHUT_WR);
  (s.*process_fn)(fds[1]);  // closes fds[1]
  // The answers, printed when DD_FUZZ_PRINT is set (to see what an input does).
  static const bool print = std::getenv("DD_FUZZ_PRINT") != nullptr;
  char answer[4096];
  for (ssize_t n; (n = ::recv(fds[0], answer, sizeof answer, MSG_DONTWAIT)) > 0;)
    if (print) std::fwrite(answer, 1, static_cast<size_t>(n), stderr);
  ::close(fds[0]);
  return 0;
}
