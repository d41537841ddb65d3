#pragma once
// Which addresses a webhook may be POSTed to: an http or https URL with a host (no user
// information, at most 2048 printable ASCII characters) and, unless the server allows private
// webhooks, a host whose every address (IPv4 and IPv6) is public. Checked when a job is accepted
// and again before every delivery attempt, since a name may resolve elsewhere by then. A delivery
// resolves the host once and connects to the very address it checked (no second look-up that a
// DNS-rebinding name could answer differently).
#include <functional>
#include <string>
#include <vector>

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

// The numeric addresses ("93.184.216.34", "2606:2800::1") a host resolves to, in the order of
// preference; empty when it does not resolve.
using HostResolver = std::function<std::vector<std::string>(const std::string& host)>;
std::vector<std::string> resolve_host(const std::string& host);  // the system's getaddrinfo

struct CheckedWebhookUrl {
  WebhookUrl url;
  std::string address;  // the numeric address to connect to: the first one resolved
};
// parse_webhook_url, then one resolution of the host (by `resolve`, or resolve_host when empty);
// unless allow_private, every address must be public as for validate_webhook_url. The caller
// connects to `address` and nowhere else.
CheckedWebhookUrl check_webhook_url(const std::string& url, bool allow_private,
                                    const HostResolver& resolve = {});

}  // namespace dd::service
