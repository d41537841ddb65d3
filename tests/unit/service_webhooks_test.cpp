// WebhookSender against a real loopback receiver: signature, retries with backoff, persistence
// across a restart, deliveries to refused addresses (the URL policy itself:
// service_webhook_url_test.cpp), connections to exactly the checked address, and secret rotation.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "postgres_server.h"
#include "service/accounts.h"
#include "service/crypto.h"
#include "service/webhooks.h"
#include "util/error.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Received {
  std::string body;
  std::string content_type;
  std::string signature;
  std::string attempt;
  std::string host;
};

// An HTTP server on a loopback port that answers 500 to the first `failures` requests.
class Receiver {
 public:
  explicit Receiver(int failures = 0) : failures_(failures) {
    server_.Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard lock(mutex_);
      received_.push_back({request.body, request.get_header_value("Content-Type"),
                           request.get_header_value("X-Diffusiond-Signature"),
                           request.get_header_value("X-Diffusiond-Attempt"),
                           request.get_header_value("Host")});
      response.status = static_cast<int>(received_.size()) <= failures_ ? 500 : 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  int failures_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Received> received_;
};

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dd-webhooks-" + random_hex(8));
    fs::create_directories(dir_);
    db_ = std::make_unique<Database>(test::test_database((dir_ / "db.sqlite").string()));
  }
  void TearDown() override {
    db_.reset();
    fs::remove_all(dir_);
  }

  std::unique_ptr<WebhookSender> sender(int64_t base_delay_ms = 20, int max_attempts = 5,
                                        HostResolver resolve = {}) {
    WebhookOptions options;
    options.base_delay_ms = base_delay_ms;
    options.max_attempts = max_attempts;
    options.timeout_seconds = 5;
    options.resolve = std::move(resolve);
    return std::make_unique<WebhookSender>(
        *db_, [](const std::string& account) { return "secret-of-" + account; }, true, options);
  }

  // Polls until the job's first delivery has left "pending" (or 30 s passed).
  WebhookDelivery wait_final(const WebhookSender& webhooks, const std::string& job_id) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto found = webhooks.deliveries(job_id);
      if (!found.empty() && found[0].status != "pending") return found[0];
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "delivery still pending";
    return {};
  }

  fs::path dir_;
  std::unique_ptr<Database> db_;
};

const std::string kBody = R"({"job":{"id":"job-1","status":"SUCCESS"},"webhookId":"w1"})";

TEST_F(WebhooksTest, PostsTheBodyWithAVerifiableSignature) {
  Receiver receiver;
  auto webhooks = sender();
  webhooks->start();
  webhooks->enqueue("job-1", "acct", receiver.url(), kBody);
  const auto delivery = wait_final(*webhooks, "job-1");
  EXPECT_EQ(delivery.status, "delivered");
  EXPECT_EQ(delivery.attempts, 1);
  EXPECT_EQ(delivery.last_error, "");
  const auto received = receiver.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].body, kBody);
  EXPECT_EQ(received[0].content_type, "application/json");
  EXPECT_EQ(received[0].signature, "sha256=" + hmac_sha256_hex("secret-of-acct", kBody));
  EXPECT_TRUE(constant_time_equal(received[0].signature,
                                  WebhookSender::signature("secret-of-acct", received[0].body)));
  EXPECT_EQ(webhooks->pending_count(), 0);
}

TEST_F(WebhooksTest, RetriesUntilTheReceiverAccepts) {
  Receiver receiver(2);  // fails twice, accepts the third try
  auto webhooks = sender();
  webhooks->start();
  webhooks->enqueue("job-1", "acct", receiver.url(), kBody);
  const auto delivery = wait_final(*webhooks, "job-1");
  EXPECT_EQ(delivery.status, "delivered");
  EXPECT_EQ(delivery.attempts, 3);
  const auto received = receiver.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].attempt, "1");
  EXPECT_EQ(received[2].attempt, "3");
  for (const auto& r : received) EXPECT_EQ(r.body, kBody);
}

TEST_F(WebhooksTest, GivesUpAfterTheLastAttempt) {
  Receiver receiver(1000);
  auto webhooks = sender(10, 3);
  webhooks->start();
  webhooks->enqueue("job-1", "acct", receiver.url(), kBody);
  const auto delivery = wait_final(*webhooks, "job-1");
  EXPECT_EQ(delivery.status, "failed");
  EXPECT_EQ(delivery.attempts, 3);
  EXPECT_NE(delivery.last_error.find("HTTP 500"), std::string::npos) << delivery.last_error;
  EXPECT_EQ(receiver.received().size(), 3u);
}

TEST_F(WebhooksTest, BacksOffExponentially) {
  Receiver receiver(1000);
  auto webhooks = sender(60000, 5);  // a minute before the second try
  webhooks->start();
  webhooks->enqueue("job-1", "acct", receiver.url(), kBody);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (webhooks->deliveries("job-1")[0].attempts == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  const auto delivery = webhooks->deliveries("job-1")[0];
  EXPECT_EQ(delivery.status, "pending");
  EXPECT_EQ(delivery.attempts, 1);
  // The retry is scheduled one base delay after the attempt (a minute, not milliseconds).
  EXPECT_GT(delivery.next_attempt_ms, delivery.created_ms + 50000);
  EXPECT_EQ(webhooks->pending_count(), 1);
}

TEST_F(WebhooksTest, PendingDeliveriesSurviveARestart) {
  Receiver receiver;
  {
    auto webhooks = sender();
    webhooks->enqueue("job-1", "acct", receiver.url(), kBody);  // never started: "crashed"
  }
  db_ = std::make_unique<Database>(test::test_database((dir_ / "db.sqlite").string()));
  auto webhooks = sender();
  EXPECT_EQ(webhooks->pending_count(), 1);
  webhooks->start();
  EXPECT_EQ(wait_final(*webhooks, "job-1").status, "delivered");
  ASSERT_EQ(receiver.received().size(), 1u);
  EXPECT_EQ(receiver.received()[0].body, kBody);
}

TEST_F(WebhooksTest, RetryStateSurvivesARestart) {
  Receiver receiver(1);
  {
    auto webhooks = sender(200);
    webhooks->start();
    webhooks->enqueue("job-1", "acct", receiver.url(), kBody);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (receiver.received().empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(2ms);
    webhooks->stop();
  }
  auto webhooks = sender(200);
  webhooks->start();
  const auto delivery = wait_final(*webhooks, "job-1");
  EXPECT_EQ(delivery.status, "delivered");
  EXPECT_EQ(delivery.attempts, 2);
}

TEST_F(WebhooksTest, ADeliveryToAPrivateAddressFailsAtOnceWhenNotAllowed) {
  Receiver receiver;
  WebhookSender webhooks(
      *db_, [](const std::string&) { return "k"; }, false);
  webhooks.start();
  webhooks.enqueue("job-1", "acct", receiver.url(), kBody);
  const auto delivery = wait_final(webhooks, "job-1");
  EXPECT_EQ(delivery.status, "failed");
  EXPECT_EQ(delivery.attempts, 1);
  EXPECT_NE(delivery.last_error.find("loopback"), std::string::npos) << delivery.last_error;
  EXPECT_TRUE(receiver.received().empty());
}

TEST_F(WebhooksTest, AnUnreachableReceiverIsRetriedNotFatal) {
  auto webhooks = sender(10, 2);
  webhooks->start();
  webhooks->enqueue("job-1", "acct", "http://127.0.0.1:1/hook", kBody);  // nothing listens
  const auto delivery = wait_final(*webhooks, "job-1");
  EXPECT_EQ(delivery.status, "failed");
  EXPECT_EQ(delivery.attempts, 2);
  EXPECT_NE(delivery.last_error.find("request failed"), std::string::npos) << delivery.last_error;
}

// The host name of the URL is resolved once per attempt (here by a stub: ".invalid" never
// resolves in DNS), and the connection goes to the address that was checked, with the name kept
// in the Host header.
TEST_F(WebhooksTest, ConnectsToTheCheckedAddressResolvedOncePerAttempt) {
  Receiver receiver(1);  // the first try fails: two attempts, two resolutions
  std::atomic<int> calls = 0;
  auto webhooks = sender(10, 3, [&calls](const std::string& host) {
    ++calls;
    EXPECT_EQ(host, "hooks.invalid");
    return std::vector<std::string>{"127.0.0.1"};
  });
  webhooks->start();
  const std::string host = "hooks.invalid:" + std::to_string(receiver.port());
  webhooks->enqueue("job-1", "acct", "http://" + host + "/hook", kBody);
  const auto delivery = wait_final(*webhooks, "job-1");
  EXPECT_EQ(delivery.status, "delivered") << delivery.last_error;
  EXPECT_EQ(delivery.attempts, 2);
  EXPECT_EQ(calls, 2);
  const auto received = receiver.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[1].host, host);
  EXPECT_EQ(received[1].body, kBody);
}

TEST_F(WebhooksTest, AHostWithAnyPrivateAddressIsNeverContacted) {
  Receiver receiver;
  std::atomic<int> calls = 0;
  WebhookOptions options;
  options.resolve = [&calls](const std::string&) {
    ++calls;
    return std::vector<std::string>{"93.184.216.34", "127.0.0.1"};
  };
  WebhookSender webhooks(
      *db_, [](const std::string&) { return "k"; }, false, options);
  webhooks.start();
  webhooks.enqueue("job-1", "acct",
                   "http://hooks.invalid:" + std::to_string(receiver.port()) + "/hook", kBody);
  const auto delivery = wait_final(webhooks, "job-1");
  EXPECT_EQ(delivery.status, "failed");
  EXPECT_NE(delivery.last_error.find("loopback"), std::string::npos) << delivery.last_error;
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(receiver.received().empty());
}

TEST_F(WebhooksTest, RotatingTheSecretChangesTheNextSignature) {
  Receiver receiver;
  Accounts accounts(*db_);
  const std::string account = accounts.create_key("alice").account_id;
  WebhookOptions options;
  options.timeout_seconds = 5;
  WebhookSender webhooks(
      *db_, [&accounts](const std::string& id) { return accounts.webhook_secret(id); }, true,
      options);
  webhooks.start();
  const std::string before = accounts.webhook_secret(account);
  webhooks.enqueue("job-1", account, receiver.url(), kBody);
  ASSERT_EQ(wait_final(webhooks, "job-1").status, "delivered");
  const std::string after = accounts.rotate_webhook_secret(account);
  webhooks.enqueue("job-2", account, receiver.url(), kBody);
  ASSERT_EQ(wait_final(webhooks, "job-2").status, "delivered");
  const auto received = receiver.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].signature, WebhookSender::signature(before, kBody));
  EXPECT_EQ(received[1].signature, WebhookSender::signature(after, kBody));
  EXPECT_NE(received[0].signature, received[1].signature);
}

}  // namespace
}  // namespace dd::service
