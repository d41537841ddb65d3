#include "http/api.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "io/base64.h"

namespace dd::http {

namespace {

// The credentials of "Authorization: SCHEME CREDENTIALS" when the header uses `scheme` (given in
// lower case; schemes are case-insensitive, RFC 7235 2.1); nullopt for another scheme.
std::optional<std::string> credentials(const httplib::Request& request, const std::string& scheme) {
  const std::string header = request.get_header_value("Authorization");
  const bool matches = header.size() > scheme.size() + 1 && (header[scheme.size()] == ' ') &&
                       std::equal(scheme.begin(), scheme.end(), header.begin(), [](char a, char b) {
                         return a == std::tolower(static_cast<unsigned char>(b));
                       });
  if (!matches) return std::nullopt;
  const size_t start = header.find_first_not_of(' ', scheme.size());
  if (start == std::string::npos) return std::nullopt;
  return header.substr(start);
}

// The key of "Authorization: Bearer KEY", else of x-api-key.
std::string bearer_token(const httplib::Request& request) {
  if (auto key = credentials(request, "bearer")) return *key;
  return request.get_header_value("x-api-key");
}

// "Authorization: Basic base64(NAME:KEY)", as AUTOMATIC1111 clients send their --api-auth pair.
struct BasicPair {
  std::string name;
  std::string key;
};
std::optional<BasicPair> basic_pair(const httplib::Request& request) {
  const auto encoded = credentials(request, "basic");
  if (!encoded) return std::nullopt;
  std::vector<uint8_t> bytes;
  try {
    bytes = io::base64_decode(*encoded, "Authorization");
  } catch (const Error&) {
    throw unauthorized("malformed Basic credentials (base64 of NAME:KEY expected)");
  }
  const std::string text(bytes.begin(), bytes.end());
  const size_t colon = text.find(':');
  if (colon == std::string::npos)
    throw unauthorized("malformed Basic credentials (base64 of NAME:KEY expected)");
  return BasicPair{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

Api::Api(service::Service& service, HttpOptions options)
    : service(service), options(std::move(options)) {}

std::string Api::account(const httplib::Request& request, const std::string& body_token) const {
  if (!service.accounts().any_keys()) return service::kLocalAccount;
  if (const auto basic = basic_pair(request)) {
    auto account = service.accounts().account_for_named_key(basic->name, basic->key);
    if (!account)
      throw unauthorized("invalid user name or key (Basic: the key's name and the key)");
    return *account;
  }
  std::string key = bearer_token(request);
  if (key.empty()) key = body_token;
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
    } catch (const service::DatabaseUnavailable& e) {
      // PostgreSQL is restarting or unreachable: nothing was changed, and the node reconnects
      // by itself, so the client should simply try again shortly.
      response.set_header("Retry-After", "5");
      send_error(response, ApiError(503, "database_unavailable", e.what()), style);
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
