#pragma once
// The HTTP server: every dialect's routes on one cpp-httplib server, in front of the Service.
#include <memory>
#include <string>

#include "http/api.h"
#include "http/get_body_server.h"

namespace dd::http {

class HttpServer {
 public:
  HttpServer(service::Service& service, HttpOptions options);
  ~HttpServer();

  // Binds (port 0 = any free port) and serves until stop(); blocking.
  void listen();
  // Binds now and serves on a background thread (tests); returns the bound port.
  int start_background();
  void stop();
  int port() const { return port_; }

 private:
  void bind();

  Api api_;
  GetBodyServer server_;
  int port_ = 0;
  std::thread thread_;
};

// A webhook's body: the jobs API's job object (file URLs on the server's configured host and
// port) and the caller's webhookId, naming no file by its server path. The Service is built
// with it.
service::Service::WebhookBody webhook_body(const HttpOptions& options,
                                           const service::ServiceOptions& service);
// The same, with file URLs under `base_url` (a worker, which serves no HTTP itself, names the API
// nodes' address).
service::Service::WebhookBody webhook_body(const std::string& base_url,
                                           const service::ServiceOptions& service);

// Loopback addresses: the only ones where anonymous (key-less) mode is allowed.
bool is_loopback_host(const std::string& host);

}  // namespace dd::http
