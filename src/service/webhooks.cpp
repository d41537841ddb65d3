#include "service/webhooks.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "service/crypto.h"
#include "service/job.h"
#include "service/schema_migrations.h"
#include "service/webhook_url.h"
#include "util/error.h"

namespace dd::service {

namespace {

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

const std::vector<Migration> kMigrations = {
    {1, "webhook deliveries", R"sql(
CREATE TABLE IF NOT EXISTS webhook_deliveries ({rowid}
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, account_id TEXT NOT NULL,
  url TEXT NOT NULL, body TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
  last_error TEXT NOT NULL DEFAULT '', created_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX IF NOT EXISTS webhook_deliveries_job ON webhook_deliveries (job_id);
)sql"},
    // Several nodes: the node attempting a delivery holds it until then, so exactly one sends it.
    {2, "delivery claims", R"sql(
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until_ms BIGINT NOT NULL DEFAULT 0;
)sql"},
};

constexpr const char* kColumns =
    "id, job_id, account_id, url, body, attempts, next_attempt_ms, status, last_error, created_ms";

}  // namespace

std::string WebhookSender::signature(const std::string& secret, const std::string& body) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

WebhookSender::WebhookSender(Database& db,
                             std::function<std::string(const std::string&)> secret_for,
                             bool allow_private, WebhookOptions options)
    : db_(db),
      secret_for_(std::move(secret_for)),
      allow_private_(allow_private),
      options_(options),
      loop_([this] { return step(); }) {
  apply_migrations(db_, "webhooks", kMigrations);
}

WebhookSender::~WebhookSender() { stop(); }

std::string WebhookSender::enqueue(const std::string& job_id, const std::string& account_id,
                                   const std::string& url, const std::string& body_json) {
  std::string id = new_uuid();
  const int64_t now = now_ms();
  db_.transaction([&] {
    // One delivery per job, even when two nodes enqueue it at once (a worker finishing it while
    // another node repairs missing deliveries at start-up).
    db_.exclusive("webhook-enqueue");
    auto existing = db_.prepare("SELECT id FROM webhook_deliveries WHERE job_id = ?1");
    existing.bind(1, job_id);
    if (existing.step()) {
      id = existing.text(0);
      return;
    }
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
  });
  loop_.wake();
  return id;
}

void WebhookSender::start() { loop_.start(); }

void WebhookSender::stop() { loop_.stop(); }

std::chrono::milliseconds WebhookSender::step() {
  constexpr int64_t kMaxSleepMs = 60000;
  try {
    const auto due = next_due(now_ms());
    failing_ = false;
    if (due) {
      attempt(*due);
      return std::chrono::milliseconds(0);
    }
    const int64_t next = next_due_time();
    if (next < 0) return std::chrono::milliseconds(kMaxSleepMs);
    // Due now (or overdue) sleeps not at all.
    return std::chrono::milliseconds(std::clamp<int64_t>(next - now_ms(), 0, kMaxSleepMs));
  } catch (const std::exception& e) {  // e.g. the database is busy: try again shortly
    if (!failing_) std::cerr << "webhooks: " << e.what() << " (retrying quietly)\n";
    failing_ = true;
    return std::chrono::milliseconds(1000);
  }
}

std::optional<WebhookDelivery> WebhookSender::next_due(int64_t now) const {
  std::optional<WebhookDelivery> due;
  db_.transaction([&] {
    auto row = db_.prepare(std::string("SELECT ") + kColumns +
                           " FROM webhook_deliveries WHERE status = 'pending' AND"
                           " next_attempt_ms <= ?1 AND claimed_until_ms < ?1"
                           " ORDER BY next_attempt_ms, created_ms LIMIT 1");
    row.bind(1, now);
    if (!row.step()) return;
    auto delivery = read_delivery(row);
    // Claimed by this node for longer than one attempt can take: on several nodes, exactly one
    // sends it; should this node die mid-attempt, another takes it over after the claim.
    db_.prepare(
           "UPDATE webhook_deliveries SET claimed_until_ms = ?2"
           " WHERE id = ?1 AND claimed_until_ms < ?3")
        .bind(1, delivery.id)
        .bind(2, now + 2000 * int64_t{options_.timeout_seconds} + 10000)
        .bind(3, now)
        .run();
    if (db_.changes() == 1) due = std::move(delivery);
  });
  return due;
}

int64_t WebhookSender::next_due_time() const {
  auto lock = db_.lock();
  auto row = db_.prepare(
      "SELECT MIN(CASE WHEN claimed_until_ms > next_attempt_ms THEN claimed_until_ms"
      " ELSE next_attempt_ms END) FROM webhook_deliveries WHERE status = 'pending'");
  if (!row.step() || row.is_null(0)) return -1;
  return row.integer(0);
}

void WebhookSender::attempt(const WebhookDelivery& delivery) {
  std::string error;
  bool permanent = false;
  try {
    // Checked again at every try (the name may resolve elsewhere now), and the POST goes to the
    // address just checked.
    error = post(delivery, check_webhook_url(delivery.url, allow_private_, options_.resolve));
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
         " last_error = ?5, claimed_until_ms = 0 WHERE id = ?1")
      .bind(1, delivery.id)
      .bind(2, attempts)
      .bind(3, next)
      .bind(4, status)
      .bind(5, error)
      .run();
}

std::string WebhookSender::post(const WebhookDelivery& delivery,
                                const CheckedWebhookUrl& target) const {
  const WebhookUrl& url = target.url;
  std::unique_ptr<httplib::ClientImpl> client;
  if (url.scheme == "https")
    client = std::make_unique<httplib::SSLClient>(url.host, url.port);
  else
    client = std::make_unique<httplib::ClientImpl>(url.host, url.port);
  // The socket goes to the checked address (httplib converts it without a DNS look-up), while
  // the Host header, SNI and certificate verification keep the name of the URL.
  client->set_hostname_addr_map({{url.host, target.address}});
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
