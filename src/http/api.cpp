#include "http/api.h"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace dd::http {

namespace {

// The key of "Authorization: Bearer KEY"; the scheme is case-insensitive (RFC 7235 2.1).
std::string bearer_token(const httplib::Request& request) {
  const std::string header = request.get_header_value("Authorization");
  const std::string scheme = "bearer";
  const bool is_bearer =
      header.size() > scheme.size() + 1 && (header[scheme.size()] == ' ') &&
      std::equal(scheme.begin(), scheme.end(), header.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  if (is_bearer) {
    const size_t key = header.find_first_not_of(' ', scheme.size());
    if (key != std::string::npos) return header.substr(key);
  }
  return request.get_header_value("x-api-key");
}

}  // namespace

Api::Api(service::Service& service, HttpOptions options)
    : service(service), options(std::move(options)) {}

std::string Api::account(const httplib::Request& request, const std::string& body_token) const {
  std::string key = bearer_token(request);
  if (key.empty()) key = body_token;
  if (!service.accounts().any_keys()) return service::kLocalAccount;
  if (key.empty()) throw unauthorized("an API key is required (Authorization: Bearer KEY)");
  auto account = service.accounts().account_for_key(key);
  if (!account) throw unauthorized("invalid or revoked API key");
  return *account;
}

std::string Api::base_url(const httplib::Request& request) const {
  std::string host = request.get_header_value("Host");
  if (host.empty()) host = options.host + ":" + std::to_string(options.port);
  return "http://" + host;
}

void send_json(httplib::Response& response, const nlohmann::json& body, int status) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& response, const ApiError& error, ErrorStyle style) {
  send_json(response, style == ErrorStyle::OpenAI ? openai_error_body(error) : error_body(error),
            error.status);
}

httplib::Server::Handler guarded(Handler handler, ErrorStyle style) {
  return [handler = std::move(handler), style](const httplib::Request& request,
                                               httplib::Response& response) {
    try {
      handler(request, response);
    } catch (const ApiError& e) {
      send_error(response, e, style);
    } catch (const InvalidParameter& e) {
      send_error(response, ApiError(400, "invalid_parameter", e.what(), e.param()), style);
    } catch (const service::QueueFull& e) {
      response.set_header("Retry-After", "5");
      send_error(response, ApiError(429, "queue_full", e.what()), style);
    } catch (const Error& e) {
      send_error(response, ApiError(400, "invalid_request", e.what()), style);
    } catch (const std::exception& e) {
      send_error(response,
                 ApiError(500, "internal_error", std::string("internal error: ") + e.what()),
                 style);
    }
  };
}

std::string iso8601(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace dd::http
