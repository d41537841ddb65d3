#pragma once
// Webhook delivery: when a job ends its JSON is POSTed to the job's webhook URL, signed with
// `X-Diffusiond-Signature: sha256=<HMAC-SHA256 hex of the body>` under the account's webhook
// secret. Deliveries are rows in SQLite (webhook_deliveries), sent by their own thread and
// retried with exponential backoff until a 2xx answer or the last attempt; pending rows survive
// a restart and are picked up again by the next start(). Generation never waits for them.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/database.h"

namespace dd::service {

struct WebhookOptions {
  int64_t base_delay_ms = 2000;  // retry n waits base * 2^(n-1): 2 s, 4 s, 8 s, ...
  int max_attempts = 9;          // the 9th try comes ~8.5 minutes after the first
  int timeout_seconds = 10;      // connect and read, per attempt
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

  // Records a delivery (due at once) and wakes the sender thread. Returns the delivery id.
  std::string enqueue(const std::string& job_id, const std::string& account_id,
                      const std::string& url, const std::string& body_json);
  void start();
  void stop();  // a delivery in flight finishes (bounded by the timeout) first

  // The deliveries of a job, oldest first (for status pages and tests).
  std::vector<WebhookDelivery> deliveries(const std::string& job_id) const;
  int64_t pending_count() const;

  // http/https only, with a host; unless allow_private, every address the host resolves to
  // (IPv4 and IPv6) must be public: loopback, private, link-local, CGNAT, multicast and
  // reserved ranges are refused. A dd::InvalidParameter naming "webhookUrl" otherwise.
  static void validate_webhook_url(const std::string& url, bool allow_private);
  // "sha256=<hex>": what the X-Diffusiond-Signature header carries for this body.
  static std::string signature(const std::string& secret, const std::string& body);

 private:
  void loop();
  std::optional<WebhookDelivery> next_due(int64_t now) const;
  int64_t next_due_time() const;
  void attempt(const WebhookDelivery& delivery);
  // The error of one POST ("" on a 2xx answer).
  std::string post(const WebhookDelivery& delivery) const;

  Database& db_;
  std::function<std::string(const std::string&)> secret_for_;
  bool allow_private_;
  WebhookOptions options_;

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace dd::service
