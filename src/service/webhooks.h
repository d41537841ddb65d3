#pragma once
// Webhook delivery: when a job ends its JSON is POSTed to the job's webhook URL, signed with
// `X-Diffusiond-Signature: sha256=<HMAC-SHA256 hex of the body>` under the account's webhook
// secret. Deliveries are rows in SQLite (webhook_deliveries), sent by their own thread and
// retried with exponential backoff until a 2xx answer or the last attempt; pending rows survive
// a restart and are picked up again by the next start(). Generation never waits for them.
// Which URLs may be called is webhook_url.h's policy; each attempt resolves the host once, checks
// every address and connects to the checked one, with the host name kept for the Host header and
// for TLS (SNI and certificate verification).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "service/background_loop.h"
#include "service/database.h"
#include "service/webhook_url.h"

namespace dd::service {

struct WebhookOptions {
  int64_t base_delay_ms = 2000;  // retry n waits base * 2^(n-1): 2 s, 4 s, 8 s, ...
  int max_attempts = 9;          // the 9th try comes ~8.5 minutes after the first
  int timeout_seconds = 10;      // connect and read, per attempt
  HostResolver resolve;          // empty: the system resolver (tests give a stub)
};

struct WebhookDelivery {
  std::string id;
  std::string job_id;
  std::string account_id;
  std::string url;
  std::string body;
  int attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string status;  // pending | delivered | failed
  std::string last_error;
  int64_t created_ms = 0;
};

class WebhookSender {
 public:
  // Creates the table if needed. secret_for(account) gives the account's signing key.
  WebhookSender(Database& db, std::function<std::string(const std::string& account)> secret_for,
                bool allow_private, WebhookOptions options = {});
  ~WebhookSender();  // stops
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Records a delivery (due at once) and wakes the sender thread. Returns the delivery id. A
  // job has one delivery: enqueueing it again returns the first one's id.
  std::string enqueue(const std::string& job_id, const std::string& account_id,
                      const std::string& url, const std::string& body_json);
  void start();
  void stop();  // a delivery in flight finishes (bounded by the timeout) first

  // The deliveries of a job, oldest first (for status pages and tests).
  std::vector<WebhookDelivery> deliveries(const std::string& job_id) const;
  int64_t pending_count() const;

  // "sha256=<hex>": what the X-Diffusiond-Signature header carries for this body.
  static std::string signature(const std::string& secret, const std::string& body);

 private:
  // Attempts the next due delivery; returns how long to sleep when none is due.
  std::chrono::milliseconds step();
  std::optional<WebhookDelivery> next_due(int64_t now) const;
  int64_t next_due_time() const;
  void attempt(const WebhookDelivery& delivery);
  // The error of one POST to the checked address ("" on a 2xx answer).
  std::string post(const WebhookDelivery& delivery, const CheckedWebhookUrl& target) const;

  Database& db_;
  std::function<std::string(const std::string&)> secret_for_;
  bool allow_private_;
  WebhookOptions options_;
  bool failing_ = false;  // the last step failed: a repeated failure is not logged again
  BackgroundLoop loop_;   // last: stopped before the members its steps use go away
};

}  // namespace dd::service
