#include "http/server.h"

#include <arpa/inet.h>

#include "http/connection_threads.h"
#include "http/jobs_json.h"
#include "http/request_screen.h"
#include "http/routes.h"
#include "util/error.h"

namespace dd::http {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

service::Service::WebhookBody webhook_body(const HttpOptions& options,
                                           const service::ServiceOptions& service) {
  return webhook_body("http://" + options.host + ":" + std::to_string(options.port), service);
}

service::Service::WebhookBody webhook_body(const std::string& base_url,
                                           const service::ServiceOptions& service) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return [base, models_dir = service.models_dir,
          data_dir = service.data_dir](const service::Job& job) {
    const auto body =
        nlohmann::json{{"job", jobs_api_job(job, base)}, {"webhookId", job.webhook_id}}.dump();
    return without_server_paths(body, models_dir, data_dir);
  };
}

HttpServer::HttpServer(service::Service& service, HttpOptions options)
    : api_(service, std::move(options)) {
  if (!is_loopback_host(api_.options.host) && !service.accounts().any_keys() &&
      !api_.options.insecure_no_auth)
    throw Error("refusing to serve " + api_.options.host +
                " without API keys: create one with `diffusiond keys create --name NAME`, or pass "
                "--insecure-no-auth");
  server_.set_payload_max_length(api_.options.max_body_bytes);
  // Each connection on its own thread, so that idle clients and synchronous requests waiting for
  // their images never leave /health without one (http/connection_threads.h).
  server_.new_task_queue = [max = api_.options.max_connection_threads] {
    return new ConnectionThreads(max);
  };
  server_.set_max_connections_per_address(api_.options.max_connections_per_client);
  server_.set_head_timeout(std::chrono::seconds(api_.options.head_timeout_s));
  // Origin, host and key are checked on the request head, before any body is read.
  server_.set_screen(request_screen(api_));
  server_.set_pre_routing_handler([this](const auto& request, auto& response) {
    return before_routing(api_, request, response);
  });
  server_.set_read_timeout(60, 0);
  server_.set_write_timeout(60, 0);
  server_.set_exception_handler([](const httplib::Request&, httplib::Response& response,
                                   std::exception_ptr) {
    send_error(response, ApiError(500, "internal_error", "internal error"), ErrorStyle::Standard);
  });
  // Requests over --max-body-mb are refused by httplib with 413; give them our error shape.
  server_.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return;
    if (response.status == 413)
      send_error(response, ApiError(413, "body_too_large", "the request body is too large"),
                 ErrorStyle::Standard);
    else if (response.status == 404)
      send_error(response, ApiError(404, "not_found", "no such endpoint"), ErrorStyle::Standard);
    else if (response.status == 414)
      send_error(response, ApiError(414, "uri_too_long", "the request line is too long"),
                 ErrorStyle::Standard);
    else if (response.status == 400)
      send_error(response,
                 ApiError(400, "bad_request",
                          "malformed HTTP request (request line, headers over " +
                              std::to_string(GetBodyServer::kMaxHeadBytes / 1024) +
                              " KiB, or body framing)"),
                 ErrorStyle::Standard);
  });
  // Seed 002's own text-to-image example sends its JSON body with `curl -X GET`.
  server_.serve_get_with_body_as_post("/api/v1/images/generation");
  add_service_endpoints(server_, api_);
  add_jobs_api(server_, api_);
  add_job_events_api(server_, api_);
  add_account_api(server_, api_);
  add_models_api(server_, api_);
  add_sd_api(server_, api_);
  add_generation_api(server_, api_);
  add_images_api(server_, api_);
  add_openai_api(server_, api_);
  add_a1111_api(server_, api_);
  add_playground(server_, api_);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::bind() {
  if (api_.options.port == 0) {
    port_ = server_.bind_to_any_port(api_.options.host);
  } else {
    port_ = server_.bind_to_port(api_.options.host, api_.options.port) ? api_.options.port : -1;
  }
  if (port_ <= 0)
    throw Error("cannot listen on " + api_.options.host + ":" + std::to_string(api_.options.port));
  server_.widen_listen_backlog();
}

void HttpServer::listen() {
  bind();
  server_.listen_after_bind();
}

int HttpServer::start_background() {
  bind();
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  for (int i = 0; i < 5000 && !server_.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port_;
}

void HttpServer::stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dd::http
