#include "http/routes.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "http/api.h"

namespace dd::http {

namespace {

namespace fs = std::filesystem;

// The methods httplib routes (it answers others 400 itself, after routing).
bool routed_method(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" ||
         method == "DELETE" || method == "OPTIONS" || method == "PATCH";
}

std::string joined(const std::vector<std::string>& methods) {
  std::string text;
  for (const auto& method : methods) text += (text.empty() ? "" : ", ") + method;
  return text;
}

// A request body over the limit is answered 413 by httplib when it reads it; leave that to it.
bool body_over_limit(const httplib::Request& request, size_t max_bytes) {
  if (!request.has_header("Content-Length")) return false;
  try {
    return std::stoull(request.get_header_value("Content-Length")) > max_bytes;
  } catch (const std::exception&) {
    return false;
  }
}

// A server directory as a client may see it in a text: its absolute forms (as configured made
// absolute, and with links resolved); none for the root.
std::vector<std::string> absolute_forms(const std::string& dir) {
  std::vector<std::string> forms;
  std::error_code error;
  for (fs::path form : {fs::absolute(dir, error), fs::weakly_canonical(dir, error)}) {
    std::string text = form.lexically_normal().string();
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    if (text.size() > 1 && std::find(forms.begin(), forms.end(), text) == forms.end())
      forms.push_back(text);
  }
  return forms;
}

bool path_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// "DIR/models/x.safetensors" -> "models/x.safetensors"; "DIR" alone -> `name`.
void replace_dir(std::string& text, const std::string& dir, const std::string& name) {
  for (size_t at = text.find(dir); at != std::string::npos; at = text.find(dir, at)) {
    const size_t end = at + dir.size();
    if (end < text.size() && text[end] == '/') {
      text.erase(at, dir.size() + 1);
    } else if (end < text.size() && path_char(text[end])) {
      at = end;  // another folder that starts with the same name
    } else {
      text.replace(at, dir.size(), name);
      at += name.size();
    }
  }
}

// Errors name files by their server path (a model that failed to load, a missing input file);
// the server's log keeps them, a client sees them relative to the models or the data directory.
void hide_server_paths(const Api& api, httplib::Response& response) {
  const std::string type = response.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0 && type.rfind("text/", 0) != 0) return;
  const auto& options = api.service.options();
  response.body = without_server_paths(response.body, options.models_dir, options.data_dir);
}

}  // namespace

std::string without_server_paths(std::string text, const std::string& models_dir,
                                 const std::string& data_dir) {
  std::vector<std::pair<std::string, std::string>> dirs;
  for (const auto& form : absolute_forms(models_dir))
    dirs.emplace_back(form, "the models directory");
  for (const auto& form : absolute_forms(data_dir)) dirs.emplace_back(form, "the data directory");
  // The longer first, so a directory inside the other is replaced whole.
  std::sort(dirs.begin(), dirs.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [dir, name] : dirs) replace_dir(text, dir, name);
  return text;
}

httplib::Server::HandlerResponse method_not_allowed(const RouteTable& routes, size_t max_body_bytes,
                                                    const httplib::Request& request,
                                                    httplib::Response& response) {
  const auto unhandled = httplib::Server::HandlerResponse::Unhandled;
  if (!routed_method(request.method)) return unhandled;
  const auto allowed = routes.allowed(request.path);
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), request.method) != allowed.end())
    return unhandled;
  if (body_over_limit(request, max_body_bytes)) return unhandled;
  response.set_header("Allow", joined(allowed));
  send_error(response,
             ApiError(405, "method_not_allowed",
                      request.method + " is not served at " + request.path +
                          " (allowed: " + joined(allowed) + ")"),
             ErrorStyle::Standard);
  return unhandled;
}

void RouteTable::add(const std::string& method, const std::string& pattern) {
  routes_.push_back({method, std::regex(pattern)});
}

std::vector<std::string> RouteTable::allowed(const std::string& path) const {
  std::vector<std::string> methods;
  const auto add = [&](const std::string& method) {
    if (std::find(methods.begin(), methods.end(), method) == methods.end())
      methods.push_back(method);
  };
  for (const auto& route : routes_) {
    if (!std::regex_match(path, route.pattern)) continue;
    add(route.method);
    if (route.method == "GET") add("HEAD");
  }
  return methods;
}

Routes::Routes(httplib::Server& server, Api& api) : server_(server), api_(api) {}

httplib::Server::Handler Routes::served(const std::string& method, const std::string& pattern,
                                        httplib::Server::Handler handler) {
  api_.routes.add(method, pattern);
  return [handler = std::move(handler), &api = api_](const httplib::Request& request,
                                                     httplib::Response& response) {
    handler(request, response);
    hide_server_paths(api, response);
  };
}

void Routes::Get(const std::string& pattern, httplib::Server::Handler handler) {
  server_.Get(pattern, served("GET", pattern, std::move(handler)));
}

void Routes::Post(const std::string& pattern, httplib::Server::Handler handler) {
  server_.Post(pattern, served("POST", pattern, std::move(handler)));
}

void Routes::Delete(const std::string& pattern, httplib::Server::Handler handler) {
  server_.Delete(pattern, served("DELETE", pattern, std::move(handler)));
}

}  // namespace dd::http
