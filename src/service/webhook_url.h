#pragma once
// Which addresses a webhook may be POSTed to: an http or https URL with a host (no user
// information, at most 2048 printable ASCII characters) and, unless the server allows private
// webhooks, a host whose every address (IPv4 and IPv6) is public. Checked when a job is accepted
// and again before every delivery attempt, since a name may resolve elsewhere by then.
#include <string>

namespace dd::service {

struct WebhookUrl {
  std::string scheme;  // http | https
  std::string host;    // without brackets for IPv6 literals
  int port = 0;
  std::string target;  // path and query, at least "/"
};

// The URL's parts; a dd::InvalidParameter naming "webhookUrl" when it is malformed.
WebhookUrl parse_webhook_url(const std::string& url);

// parse_webhook_url, then unless allow_private, every address the host resolves to must be
// public: loopback, private, link-local, CGNAT, multicast and reserved ranges are refused (and a
// host that does not resolve). A dd::InvalidParameter naming "webhookUrl" otherwise.
void validate_webhook_url(const std::string& url, bool allow_private);

}  // namespace dd::service
