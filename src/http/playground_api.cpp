// The playground (API.md "Playground"): GET / answers a page, GET /playground/<name>.js and
// /playground/style.css its scripts and style sheet, all carried in the binary
// (http/playground_assets.h). They are public, like /health: the page asks for the API key and
// keeps it in the browser's session storage; every API call it makes carries the key itself.
//
// The answers forbid everything the page does not need (Content-Security-Policy: its own
// scripts, styles and API only; images also from data: and blob: URLs for previews and fetched
// bytes; no framing), so that a script injected through, say, an image name could not run.
#include <cstdint>
#include <cstdio>
#include <map>

#include "http/api.h"
#include "http/playground_assets.h"
#include "util/error.h"

namespace dd::http {

namespace {

constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

struct Asset {
  std::string_view bytes;
  const char* content_type;
  std::string etag;  // of the bytes, so that a browser can revalidate cheaply
};

const char* content_type_of(const std::string& name) {
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  throw Error("the playground has a file of unknown type: " + name);
}

// FNV-1a: an ETag only has to change when the bytes do.
std::string etag_of(std::string_view bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char text[24];
  std::snprintf(text, sizeof text, "\"%016llx\"", static_cast<unsigned long long>(hash));
  return text;
}

const std::map<std::string, Asset>& assets() {
  static const std::map<std::string, Asset> table = [] {
    std::map<std::string, Asset> out;
    for (const auto& file : playground_files())
      out[file.name] = {file.bytes, content_type_of(file.name), etag_of(file.bytes)};
    return out;
  }();
  return table;
}

void send_asset(const std::string& name, const httplib::Request& request,
                httplib::Response& response) {
  const auto found = assets().find(name);
  if (found == assets().end()) throw not_found("file");
  const Asset& asset = found->second;
  // Revalidated on every load: a new binary's page is never mixed with an old cached script.
  response.set_header("Cache-Control", "no-cache");
  response.set_header("ETag", asset.etag);
  response.set_header("Content-Security-Policy", kContentSecurityPolicy);
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("Referrer-Policy", "no-referrer");
  response.set_header("X-Frame-Options", "DENY");
  if (request.get_header_value("If-None-Match") == asset.etag) {
    response.status = 304;
    return;
  }
  response.status = 200;
  response.set_content(std::string(asset.bytes), asset.content_type);
}

}  // namespace

void add_playground(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Get("/", guarded([](const auto& request, auto& response) {
               send_asset("index.html", request, response);
             }));
  server.Get(R"(/playground/([a-z_]+\.(js|css)))", guarded([](const auto& request, auto& response) {
               send_asset(request.matches[1], request, response);
             }));
}

}  // namespace dd::http
