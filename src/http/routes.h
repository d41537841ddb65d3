#pragma once
// Every route a dialect serves goes through Routes, which registers it with httplib and records
// it in the Api's RouteTable, so that a request for a known path with a method that path does not
// serve (PUT /sd, POST /health) can answer 405 with an Allow header, in our JSON error shape,
// rather than httplib's 404 (method_not_allowed, run by the server's pre-routing handler). The
// answers of those routes name no file by an absolute server path. A route registered with
// httplib directly is served, but is unknown to the table: another method at its path answers
// 404, and a pattern of another method that also matches its path would make its own requests
// 405, so register every route through Routes.
#include <httplib.h>

#include <regex>
#include <string>
#include <vector>

namespace dd::http {

class Api;

class RouteTable {
 public:
  void add(const std::string& method, const std::string& pattern);
  // The methods served at `path` (HEAD with GET), in registration order; empty when none is.
  std::vector<std::string> allowed(const std::string& path) const;

 private:
  struct Route {
    std::string method;
    std::regex pattern;
  };
  std::vector<Route> routes_;
};

class Routes {
 public:
  Routes(httplib::Server& server, Api& api);

  void Get(const std::string& pattern, httplib::Server::Handler handler);
  void Post(const std::string& pattern, httplib::Server::Handler handler);
  void Delete(const std::string& pattern, httplib::Server::Handler handler);

 private:
  // Records the route; the handler's answer names no file by its absolute server path (the
  // models and data directories' paths are taken out).
  httplib::Server::Handler served(const std::string& method, const std::string& pattern,
                                  httplib::Server::Handler handler);

  httplib::Server& server_;
  Api& api_;
};

// `text` with the models and data directories' absolute paths taken out: files relative to them,
// a bare directory as "the models directory" / "the data directory". What clients see.
std::string without_server_paths(std::string text, const std::string& models_dir,
                                 const std::string& data_dir);

// For the server's pre-routing handler, after its own checks: when `routes` serve the request's
// path but not its method, fills in the 405 answer (Allow header, our JSON error) and returns
// Unhandled all the same, so that httplib still reads the body (keeping the connection usable),
// finds no route, and sends that answer (its error handler leaves an answer with a body alone).
// A body over `max_body_bytes` is left to httplib's 413; other requests are left as they are.
httplib::Server::HandlerResponse method_not_allowed(const RouteTable& routes, size_t max_body_bytes,
                                                    const httplib::Request& request,
                                                    httplib::Response& response);

}  // namespace dd::http
