#pragma once
// What every dialect shares: the service, authentication, error rendering and JSON replies.
// A dialect is a file that registers its routes with add_<dialect>(server, api) and only
// translates: request -> service::NewJob / queries, Job / ImageRecord -> its own JSON shape.
#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/api_error.h"
#include "http/routes.h"
#include "service/service.h"

namespace dd::http {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  size_t max_body_bytes = size_t(20) << 20;
  bool insecure_no_auth = false;
  // How long synchronous endpoints wait for their image before answering 504.
  int sync_timeout_ms = 10 * 60 * 1000;
  // Browser origins allowed to call the API (CORS); none by default: every cross-origin request
  // is refused.
  std::vector<std::string> cors_origins;
  // Connections one client address may hold at once; how long a request head may take.
  size_t max_connections_per_client = 32;
  int head_timeout_s = 10;
  // Threads serving connections at most (each waits on its socket or job, cheaply).
  size_t max_connection_threads = 256;
};

enum class ErrorStyle { Standard, OpenAI };

class Api {
 public:
  Api(service::Service& service, HttpOptions options);

  service::Service& service;
  const HttpOptions options;
  // Every route the dialects serve (they register through Routes): for 405 answers.
  RouteTable routes;

  // The account of the request's key (Authorization: Bearer, x-api-key, or `body_token` for
  // the /sd dialect). With no keys configured, the local account (loopback, or
  // --insecure-no-auth). Otherwise a 401 ApiError.
  std::string account(const httplib::Request& request, const std::string& body_token = "") const;
  // "http://host:port" as the client addressed us (Host header), for absolute URLs.
  std::string base_url(const httplib::Request& request) const;
};

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Runs a handler and turns every exception into the dialect's JSON error with a fitting status:
// ApiError as given, InvalidParameter 400, QueueFull 429 + Retry-After, other dd::Error 400,
// anything else 500. The server never dies from a request.
httplib::Server::Handler guarded(Handler handler, ErrorStyle style = ErrorStyle::Standard);

void send_json(httplib::Response& response, const nlohmann::json& body, int status = 200);
void send_error(httplib::Response& response, const ApiError& error, ErrorStyle style);

// ISO 8601 UTC with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string iso8601(int64_t ms_since_epoch);

void add_jobs_api(httplib::Server& server, Api& api);
void add_job_events_api(httplib::Server& server, Api& api);  // progress events, previews
void add_sd_api(httplib::Server& server, Api& api);
void add_generation_api(httplib::Server& server, Api& api);
void add_images_api(httplib::Server& server, Api& api);
void add_openai_api(httplib::Server& server, Api& api);
void add_a1111_api(httplib::Server& server, Api& api);  // AUTOMATIC1111's /sdapi/v1
void add_service_endpoints(httplib::Server& server, Api& api);
void add_account_api(httplib::Server& server, Api& api);
void add_models_api(httplib::Server& server, Api& api);
// GET / and its files: the browser playground (public; the page carries the key itself).
void add_playground(httplib::Server& server, Api& api);

}  // namespace dd::http
