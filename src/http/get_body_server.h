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
#include <httplib.h>

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

  std::set<std::string> post_paths_;
};

}  // namespace dd::http
