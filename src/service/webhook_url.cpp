#include "service/webhook_url.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include "util/error.h"

namespace dd::service {

namespace {

constexpr const char* kParam = "webhookUrl";
constexpr size_t kMaxUrlLength = 2048;

[[noreturn]] void bad_url(const std::string& why) {
  throw InvalidParameter(kParam, "webhookUrl " + why);
}

bool valid_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

int parse_port(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
    bad_url("has an invalid port");
  const int port = std::stoi(text);
  if (port < 1 || port > 65535) bad_url("has an invalid port");
  return port;
}

bool is_private_ipv4(uint32_t a) {  // host byte order
  struct Range {
    uint32_t base;
    int bits;
  };
  static constexpr std::array<Range, 14> ranges{{
      {0x00000000, 8},   // "this network"
      {0x0A000000, 8},   // private
      {0x64400000, 10},  // carrier-grade NAT
      {0x7F000000, 8},   // loopback
      {0xA9FE0000, 16},  // link-local (cloud metadata lives here)
      {0xAC100000, 12},  // private
      {0xC0000000, 24},  // IETF protocol assignments
      {0xC0000200, 24},  // documentation
      {0xC0A80000, 16},  // private
      {0xC6120000, 15},  // benchmarking
      {0xC6336400, 24},  // documentation
      {0xCB007100, 24},  // documentation
      {0xE0000000, 4},   // multicast
      {0xF0000000, 4},   // reserved and broadcast
  }};
  return std::any_of(ranges.begin(), ranges.end(), [a](const Range& r) {
    return (a >> (32 - r.bits)) == (r.base >> (32 - r.bits));
  });
}

uint32_t ipv4_at(const uint8_t* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

bool is_private_ipv6(const uint8_t* b) {
  const bool first_ten_zero = std::all_of(b, b + 10, [](uint8_t x) { return x == 0; });
  if (first_ten_zero && b[10] == 0xff && b[11] == 0xff) return is_private_ipv4(ipv4_at(b + 12));
  if (first_ten_zero && b[10] == 0 && b[11] == 0) return true;  // ::, ::1, IPv4-compatible
  const uint8_t nat64[] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(nat64, nat64 + 12, b)) return is_private_ipv4(ipv4_at(b + 12));
  if (b[0] == 0x20 && b[1] == 0x02) return is_private_ipv4(ipv4_at(b + 2));  // 6to4
  if ((b[0] & 0xfe) == 0xfc) return true;                                    // unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) != 0) return true;                  // link-local and site-local
  if (b[0] == 0xff) return true;                                        // multicast
  return b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8;  // documentation
}

// True for an address the policy refuses; an address that is not numeric text is refused too.
bool is_private_address(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return is_private_ipv4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return is_private_ipv6(v6.s6_addr);
  return true;
}

bool is_numeric_address(const std::string& address) {
  in6_addr any{};
  return inet_pton(AF_INET, address.c_str(), &any) == 1 ||
         inet_pton(AF_INET6, address.c_str(), &any) == 1;
}

// Every address of the host, each checked; the first one is returned.
std::string checked_address(const std::string& host, bool allow_private,
                            const HostResolver& resolve) {
  const std::vector<std::string> addresses = resolve ? resolve(host) : resolve_host(host);
  if (addresses.empty()) bad_url("host '" + host + "' does not resolve");
  for (const auto& address : addresses) {
    if (!is_numeric_address(address))
      bad_url("host '" + host + "' resolves to a non-numeric address");
    if (!allow_private && is_private_address(address))
      bad_url("host '" + host +
              "' is a loopback, private or reserved address (the server allows only public "
              "webhook addresses unless started with --allow-private-webhooks)");
  }
  return addresses.front();
}

}  // namespace

WebhookUrl parse_webhook_url(const std::string& text) {
  if (text.empty()) bad_url("is empty");
  if (text.size() > kMaxUrlLength) bad_url("is longer than 2048 characters");
  for (unsigned char c : text)
    if (c <= 0x20 || c >= 0x7f) bad_url("contains spaces or non-ASCII characters");
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string::npos) bad_url("must start with http:// or https://");
  WebhookUrl url;
  url.scheme = text.substr(0, scheme_end);
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme != "http" && url.scheme != "https") bad_url("must use http or https");
  url.port = url.scheme == "https" ? 443 : 80;

  const auto rest = text.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const auto authority = rest.substr(0, authority_end);
  url.target = authority_end == std::string::npos ? "/" : rest.substr(authority_end);
  url.target = url.target.substr(0, url.target.find('#'));
  if (url.target.empty() || url.target[0] != '/') url.target = "/" + url.target;
  if (authority.find('@') != std::string::npos) bad_url("may not contain user information");

  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) bad_url("has an unterminated IPv6 address");
    url.host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') bad_url("has an invalid host");
    if (!after.empty()) port_text = after.substr(1);
    if (url.host.empty() ||
        url.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
      bad_url("has an invalid IPv6 address");
  } else {
    const auto colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
    if (url.host.empty()) bad_url("has no host");
    if (!std::all_of(url.host.begin(), url.host.end(), valid_host_char))
      bad_url("has an invalid host");
  }
  if (!port_text.empty() || authority.back() == ':') url.port = parse_port(port_text);
  return url;
}

void validate_webhook_url(const std::string& url, bool allow_private) {
  const WebhookUrl parsed = parse_webhook_url(url);
  if (!allow_private) checked_address(parsed.host, false, {});
}

std::vector<std::string> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found) return {};
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  std::vector<std::string> addresses;
  for (const addrinfo* ai = found; ai; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = nullptr;
    if (ai->ai_family == AF_INET)
      raw = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
    else if (ai->ai_family == AF_INET6)
      raw = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    // An address family we cannot judge stays in the list as text the check refuses.
    if (!raw || !inet_ntop(ai->ai_family, raw, text, sizeof text)) {
      addresses.push_back("unknown address family");
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end())
      addresses.push_back(text);
  }
  return addresses;
}

CheckedWebhookUrl check_webhook_url(const std::string& url, bool allow_private,
                                    const HostResolver& resolve) {
  CheckedWebhookUrl checked;
  checked.url = parse_webhook_url(url);
  checked.address = checked_address(checked.url.host, allow_private, resolve);
  return checked;
}

}  // namespace dd::service
