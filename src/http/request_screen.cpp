#include "http/request_screen.h"

#include <algorithm>

#include "http/routes.h"
#include "http/server.h"

namespace dd::http {

namespace {

using Refusal = GetBodyServer::Refusal;

// Paths served without a key (their handlers never ask for one). The playground's page and files
// are public: the page asks for the key and sends it with each API call.
bool is_public(const std::string& path) {
  return path == "/health" || path == "/ready" || path == "/metrics" || path == "/openapi.json" ||
         path.rfind("/public/images/", 0) == 0 || path == "/" || path.rfind("/playground/", 0) == 0;
}

// "host", "host:port", "[v6]" or "[v6]:port" -> the host.
std::string host_name(const std::string& host_header) {
  if (!host_header.empty() && host_header.front() == '[') {
    const auto close = host_header.find(']');
    return close == std::string::npos ? host_header : host_header.substr(1, close - 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

bool allowed_origin(const Api& api, const std::string& origin) {
  const auto& origins = api.options.cors_origins;
  return std::find(origins.begin(), origins.end(), origin) != origins.end();
}

// A browser's request from a page of another origin: it names the origin, and (newer browsers)
// says cross-site. Same-origin requests (a page this server serves) pass.
std::optional<Refusal> origin_refusal(const Api& api, const httplib::Request& request) {
  const std::string origin = request.get_header_value("Origin");
  const bool same_origin =
      !origin.empty() && origin == "http://" + request.get_header_value("Host");
  if (!origin.empty() && !same_origin && !allowed_origin(api, origin))
    return Refusal{403,
                   "cross_origin",
                   "requests from web pages of other origins (" + origin +
                       ") are refused; start the server with --cors-origin " + origin +
                       " to allow that origin",
                   {}};
  if (origin.empty() && request.get_header_value("Sec-Fetch-Site") == "cross-site")
    return Refusal{403, "cross_origin", "cross-site requests from web pages are refused", {}};
  return std::nullopt;
}

// Local mode (no keys, loopback only) trusts the machine's own users; a page elsewhere that
// resolves its own name to 127.0.0.1 (DNS rebinding) must not count as one.
std::optional<Refusal> host_refusal(const Api& api, const httplib::Request& request) {
  const bool local_mode = !api.service.accounts().any_keys() && !api.options.insecure_no_auth;
  if (!local_mode || !request.has_header("Host")) return std::nullopt;
  const std::string host = host_name(request.get_header_value("Host"));
  if (is_loopback_host(host)) return std::nullopt;
  return Refusal{421,
                 "host_not_allowed",
                 "this server has no API keys and answers only to loopback host names "
                 "(localhost, 127.0.0.1, [::1]), not '" +
                     host + "'",
                 {}};
}

// A request that needs a key and has no valid one in its headers. /sd may carry its key in the
// body (`token`), so its body is read when the headers have none.
std::optional<Refusal> key_refusal(const Api& api, const httplib::Request& request) {
  if (request.method == "OPTIONS" || is_public(request.path)) return std::nullopt;
  const bool header_key = request.has_header("Authorization") || request.has_header("x-api-key");
  if (request.path == "/sd" && !header_key) return std::nullopt;
  try {
    api.account(request);
  } catch (const ApiError& e) {
    Refusal refusal{e.status, e.code, e.what(), {}};
    // AUTOMATIC1111 clients authenticate with HTTP Basic; the challenge tells them (and
    // browsers) which scheme to answer with.
    const bool basic_client = request.path.rfind("/sdapi/", 0) == 0 ||
                              request.get_header_value("Authorization").rfind("Basic ", 0) == 0;
    if (e.status == 401 && basic_client)
      refusal.headers.emplace("WWW-Authenticate", "Basic realm=\"diffusiond\"");
    return refusal;
  }
  return std::nullopt;
}

void add_cors_headers(const Api& api, const httplib::Request& request,
                      httplib::Response& response) {
  const std::string origin = request.get_header_value("Origin");
  if (origin.empty() || !allowed_origin(api, origin)) return;
  response.set_header("Access-Control-Allow-Origin", origin);
  response.set_header("Vary", "Origin");
  response.set_header("Access-Control-Expose-Headers", "X-Seed");
}

}  // namespace

ErrorStyle error_style_for(const std::string& path) {
  const bool openai = path.rfind("/v1/images/generations", 0) == 0 ||
                      path.rfind("/v1/images/edits", 0) == 0 || path.rfind("/v1/models", 0) == 0;
  return openai ? ErrorStyle::OpenAI : ErrorStyle::Standard;
}

GetBodyServer::Screen request_screen(const Api& api) {
  return [&api](const httplib::Request& request) -> std::optional<Refusal> {
    try {
      if (auto refusal = host_refusal(api, request)) return refusal;
      if (auto refusal = origin_refusal(api, request)) return refusal;
      return key_refusal(api, request);
    } catch (const service::DatabaseUnavailable& e) {
      // Keys live in the database: while it is unreachable (PostgreSQL restarting) requests get
      // a prompt 503 to retry, never a hang. Liveness needs no database: the node is alive.
      if (request.path == "/health") return std::nullopt;
      Refusal refusal{503, "database_unavailable", e.what(), {}};
      refusal.headers.emplace("Retry-After", "5");
      return refusal;
    }
  };
}

httplib::Server::HandlerResponse before_routing(const Api& api, const httplib::Request& request,
                                                httplib::Response& response) {
  add_cors_headers(api, request, response);
  if (auto refusal = GetBodyServer::take_refusal()) {
    send_error(response, ApiError(refusal->status, refusal->code, refusal->message),
               error_style_for(request.path));
    for (const auto& [name, value] : refusal->headers) response.set_header(name, value);
    return httplib::Server::HandlerResponse::Handled;
  }
  if (request.method != "OPTIONS")
    return method_not_allowed(api.routes, api.options.max_body_bytes, request, response);
  // A preflight (only an allowed origin gets here with an Origin header) or a plain OPTIONS.
  const auto methods = api.routes.allowed(request.path);
  if (methods.empty()) {
    send_error(response, not_found("endpoint"), error_style_for(request.path));
    return httplib::Server::HandlerResponse::Handled;
  }
  std::string allow;
  for (const auto& method : methods) allow += method + ", ";
  allow += "OPTIONS";
  response.status = 204;
  response.set_header("Allow", allow);
  if (response.has_header("Access-Control-Allow-Origin")) {
    response.set_header("Access-Control-Allow-Methods", allow);
    response.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key");
    response.set_header("Access-Control-Max-Age", "600");
  }
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace dd::http
