#pragma once
// What a request head must pass before any of its body is read or a route sees it: the origin
// (browsers' cross-origin requests are refused unless --cors-origin names the origin; so is a
// DNS-rebinding Host in local mode) and the key (a request that needs one and carries none, or
// a bad one, is refused without reading its body). Also the CORS answers for allowed origins.
#include <httplib.h>

#include <string>

#include "http/api.h"
#include "http/get_body_server.h"

namespace dd::http {

// The screen GetBodyServer runs on each request head.
GetBodyServer::Screen request_screen(const Api& api);

// Before routing: answers a screened-out request and OPTIONS preflights, adds the CORS headers
// an allowed origin gets, then prepares the 405 of a known path asked with another method
// (http/routes.h). Install as the server's pre-routing handler.
httplib::Server::HandlerResponse before_routing(const Api& api, const httplib::Request& request,
                                                httplib::Response& response);

// The error style of a path: OpenAI's shape under its endpoints, ours elsewhere.
ErrorStyle error_style_for(const std::string& path);

}  // namespace dd::http
