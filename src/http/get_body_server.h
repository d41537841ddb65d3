#pragma once
// cpp-httplib's server, serving each connection through one ConnectionStream, because httplib
// 0.11 never reads the body of a GET (only POST, PUT, PATCH and DELETE bodies): the body stays on
// the connection, the route sees none, and on a keep-alive connection the body bytes are then
// parsed as the next request. Seed 002's own text-to-image example sends its JSON with
// `curl -X GET`. So, once httplib has parsed a request head:
//  - a GET with a body to a path given to serve_get_with_body_as_post() becomes the POST it
//    means (httplib then reads the body, chunked or not, with its usual limits);
//  - any other request httplib reads no body for (GET, HEAD, OPTIONS, ...) has its body read and
//    dropped, so the next request on the connection is intact; a body that cannot be dropped
//    (over the payload limit, malformed) ends the connection after the answer;
//  - a request head httplib could not parse (or over the head cap) ends the connection, since
//    where the next request would start is unknown.
// Otherwise connections behave as httplib's: keep-alive up to keep_alive_max_count requests,
// the keep-alive timeout between requests, the read and write timeouts, pipelining.
//
// Before any body is read, each request head passes the screen (set_screen): a refused request
// is answered at once (its body is never read, and the connection ends after the answer), so a
// client without a key, or with a declared body over the limit, costs no memory. A chunked body
// is read here, chunk by chunk against the limit, and handed to httplib as a plain one. A request
// head must arrive whole within the head timeout, and one client address holds at most
// set_max_connections_per_address() connections at once.
#include <httplib.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace dd::http {

class ConnectionStream;

class GetBodyServer : public httplib::Server {
 public:
  // Largest request head (request line and headers) accepted.
  static constexpr size_t kMaxHeadBytes = 64 * 1024;

  // GETs with a body to exactly this path are served as POSTs. Call before listening.
  void serve_get_with_body_as_post(const std::string& path);

  struct Refusal {
    int status = 400;
    std::string code;
    std::string message;
    httplib::Headers headers;
  };
  // Looks at a parsed request head, before any of its body is read.
  using Screen = std::function<std::optional<Refusal>(const httplib::Request&)>;
  void set_screen(Screen screen) { screen_ = std::move(screen); }
  // The refusal of the request this thread is routing, taken (answer it in the pre-routing
  // handler; a connection is served by one thread, one request at a time).
  static std::optional<Refusal> take_refusal();
  void set_max_connections_per_address(size_t max) { max_per_address_ = max; }
  // cpp-httplib listens with a backlog of 5: a burst of clients connecting at once overflows it
  // and some connections are dropped before they are accepted. Call after binding.
  void widen_listen_backlog();
  // How long a whole request head may take to arrive.
  void set_head_timeout(std::chrono::seconds timeout) { head_timeout_ = timeout; }

 private:
  bool process_and_close_socket(socket_t socket) override;
  // Serves requests until the connection should end; false when it ends uncleanly (the client
  // may still be sending), true when it ends between requests.
  bool serve_connection(ConnectionStream& stream);
  // Waits for the next request up to the keep-alive timeout; false when none comes or the server
  // stops.
  bool next_request_arrives(const ConnectionStream& stream) const;
  // Applies the rules above to a parsed request head; false when the connection must end after
  // this request.
  bool prepare_request(ConnectionStream& stream, httplib::Request& request) const;

  // A chunked body, read here against the payload limit and put back as a plain one; false when
  // it is over the limit or malformed (`too_large` says which).
  bool unchunk_body(ConnectionStream& stream, httplib::Request& request, bool& too_large) const;
  // Counts the connection against its address; false when the address has too many.
  bool admit(const std::string& address);
  void release(const std::string& address);

  std::set<std::string> post_paths_;
  Screen screen_;
  size_t max_per_address_ = 0;  // 0 = no bound
  std::chrono::microseconds head_timeout_ = std::chrono::seconds(10);
  std::mutex connections_mutex_;
  std::map<std::string, size_t> connections_;
};

}  // namespace dd::http
