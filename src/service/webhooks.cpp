#include "service/webhooks.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <iostream>

#include "service/crypto.h"
#include "service/job.h"
#include "util/error.h"

namespace dd::service {

namespace {

constexpr const char* kParam = "webhookUrl";
constexpr size_t kMaxUrlLength = 2048;

struct Url {
  std::string scheme;  // http | https
  std::string host;    // without brackets for IPv6 literals
  int port = 0;
  std::string target;  // path and query, at least "/"
};

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

Url parse_url(const std::string& text) {
  if (text.empty()) bad_url("is empty");
  if (text.size() > kMaxUrlLength) bad_url("is longer than 2048 characters");
  for (unsigned char c : text)
    if (c <= 0x20 || c >= 0x7f) bad_url("contains spaces or non-ASCII characters");
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string::npos) bad_url("must start with http:// or https://");
  Url url;
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

void require_public_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found)
    bad_url("host '" + host + "' does not resolve");
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  for (const addrinfo* ai = found; ai; ai = ai->ai_next) {
    bool refused = true;  // an address family we cannot judge is refused
    if (ai->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      refused = is_private_ipv4(ntohl(in->sin_addr.s_addr));
    } else if (ai->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      refused = is_private_ipv6(in6->sin6_addr.s6_addr);
    }
    if (refused)
      bad_url("host '" + host +
              "' is a loopback, private or reserved address (the server allows only public "
              "webhook addresses unless started with --allow-private-webhooks)");
  }
}

WebhookDelivery read_delivery(Statement& row) {
  WebhookDelivery d;
  d.id = row.text(0);
  d.job_id = row.text(1);
  d.account_id = row.text(2);
  d.url = row.text(3);
  d.body = row.text(4);
  d.attempts = static_cast<int>(row.integer(5));
  d.next_attempt_ms = row.integer(6);
  d.status = row.text(7);
  d.last_error = row.text(8);
  d.created_ms = row.integer(9);
  return d;
}

constexpr const char* kColumns =
    "id, job_id, account_id, url, body, attempts, next_attempt_ms, status, last_error, created_ms";

}  // namespace

void WebhookSender::validate_webhook_url(const std::string& url, bool allow_private) {
  const Url parsed = parse_url(url);
  if (!allow_private) require_public_host(parsed.host);
}

std::string WebhookSender::signature(const std::string& secret, const std::string& body) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

WebhookSender::WebhookSender(Database& db,
                             std::function<std::string(const std::string&)> secret_for,
                             bool allow_private, WebhookOptions options)
    : db_(db),
      secret_for_(std::move(secret_for)),
      allow_private_(allow_private),
      options_(options) {
  auto lock = db_.lock();
  db_.exec(
      "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
      " id TEXT PRIMARY KEY, job_id TEXT NOT NULL, account_id TEXT NOT NULL,"
      " url TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
      " next_attempt_ms INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
      " last_error TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL)");
  db_.exec(
      "CREATE INDEX IF NOT EXISTS webhook_deliveries_due"
      " ON webhook_deliveries (status, next_attempt_ms)");
  db_.exec("CREATE INDEX IF NOT EXISTS webhook_deliveries_job ON webhook_deliveries (job_id)");
}

WebhookSender::~WebhookSender() { stop(); }

std::string WebhookSender::enqueue(const std::string& job_id, const std::string& account_id,
                                   const std::string& url, const std::string& body_json) {
  const std::string id = new_uuid();
  const int64_t now = now_ms();
  {
    auto lock = db_.lock();
    db_.prepare(
           "INSERT INTO webhook_deliveries (id, job_id, account_id, url, body, next_attempt_ms,"
           " created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)")
        .bind(1, id)
        .bind(2, job_id)
        .bind(3, account_id)
        .bind(4, url)
        .bind(5, body_json)
        .bind(6, now)
        .run();
  }
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_cv_.notify_all();
  return id;
}

void WebhookSender::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void WebhookSender::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::loop() {
  constexpr int64_t kMaxSleepMs = 60000;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    int64_t sleep_ms = kMaxSleepMs;
    try {
      if (const auto due = next_due(now_ms())) {
        attempt(*due);
        continue;
      }
      const int64_t next = next_due_time();
      if (next >= 0) sleep_ms = std::clamp<int64_t>(next - now_ms(), 0, kMaxSleepMs);
    } catch (const std::exception& e) {  // e.g. the database is busy: try again shortly
      std::cerr << "webhooks: " << e.what() << "\n";
      sleep_ms = 1000;
    }
    std::unique_lock lock(mutex_);
    wake_cv_.wait_for(lock, std::chrono::milliseconds(sleep_ms),
                      [&] { return woken_ || stopping_; });
    woken_ = false;
  }
}

std::optional<WebhookDelivery> WebhookSender::next_due(int64_t now) const {
  auto lock = db_.lock();
  auto row = db_.prepare(std::string("SELECT ") + kColumns +
                         " FROM webhook_deliveries WHERE status = 'pending' AND"
                         " next_attempt_ms <= ?1 ORDER BY next_attempt_ms, created_ms LIMIT 1");
  row.bind(1, now);
  if (!row.step()) return std::nullopt;
  return read_delivery(row);
}

int64_t WebhookSender::next_due_time() const {
  auto lock = db_.lock();
  auto row =
      db_.prepare("SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE status = 'pending'");
  if (!row.step() || row.is_null(0)) return -1;
  return row.integer(0);
}

void WebhookSender::attempt(const WebhookDelivery& delivery) {
  std::string error;
  bool permanent = false;
  try {
    // Checked again at every try: the name may resolve elsewhere now.
    validate_webhook_url(delivery.url, allow_private_);
    error = post(delivery);
  } catch (const InvalidParameter& e) {
    error = e.what();
    permanent = true;
  } catch (const std::exception& e) {
    error = e.what();
  }
  const int attempts = delivery.attempts + 1;
  std::string status = "pending";
  int64_t next = now_ms();
  if (error.empty()) {
    status = "delivered";
  } else if (permanent || attempts >= options_.max_attempts) {
    status = "failed";
  } else {
    next += options_.base_delay_ms << std::min(attempts - 1, 30);
  }
  auto lock = db_.lock();
  db_.prepare(
         "UPDATE webhook_deliveries SET attempts = ?2, next_attempt_ms = ?3, status = ?4,"
         " last_error = ?5 WHERE id = ?1")
      .bind(1, delivery.id)
      .bind(2, attempts)
      .bind(3, next)
      .bind(4, status)
      .bind(5, error)
      .run();
}

std::string WebhookSender::post(const WebhookDelivery& delivery) const {
  const Url url = parse_url(delivery.url);
  std::unique_ptr<httplib::ClientImpl> client;
  if (url.scheme == "https")
    client = std::make_unique<httplib::SSLClient>(url.host, url.port);
  else
    client = std::make_unique<httplib::ClientImpl>(url.host, url.port);
  client->set_connection_timeout(options_.timeout_seconds, 0);
  client->set_read_timeout(options_.timeout_seconds, 0);
  client->set_write_timeout(options_.timeout_seconds, 0);
  client->set_follow_location(false);  // a redirect could point at a private address

  const std::string secret = secret_for_ ? secret_for_(delivery.account_id) : "";
  const httplib::Headers headers{
      {"X-Diffusiond-Signature", signature(secret, delivery.body)},
      {"X-Diffusiond-Delivery", delivery.id},
      {"X-Diffusiond-Attempt", std::to_string(delivery.attempts + 1)},
      {"User-Agent", "diffusiond-webhooks"},
  };
  const auto result = client->Post(url.target, headers, delivery.body, "application/json");
  if (!result) return "request failed: " + httplib::to_string(result.error());
  if (result->status < 200 || result->status >= 300)
    return "receiver answered HTTP " + std::to_string(result->status);
  return "";
}

std::vector<WebhookDelivery> WebhookSender::deliveries(const std::string& job_id) const {
  auto lock = db_.lock();
  auto row = db_.prepare(std::string("SELECT ") + kColumns +
                         " FROM webhook_deliveries WHERE job_id = ?1 ORDER BY created_ms, rowid");
  row.bind(1, job_id);
  std::vector<WebhookDelivery> found;
  while (row.step()) found.push_back(read_delivery(row));
  return found;
}

int64_t WebhookSender::pending_count() const {
  auto lock = db_.lock();
  auto row = db_.prepare("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'");
  return row.step() ? row.integer(0) : 0;
}

}  // namespace dd::service
