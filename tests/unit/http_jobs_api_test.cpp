// The jobs API over real sockets: queue, poll to SUCCESS, fetch the files, cancel, characters,
// account isolation and webhooks — with the exact shapes of seed 000's samples.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

using test::TestServer;

nlohmann::json wait_for_job(const TestServer& server, const std::string& id,
                            const std::string& key = "") {
  return server.wait_for_job(id, key);
}

TEST(JobsApi, QueuesRunsAndServesFilesInTheSeedsShape) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto created =
      server.post("/v0/api/images", {{"prompt", "a red circle"}, {"samples", 2}, {"seed", 7}});
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.json["success"], true);
  ASSERT_TRUE(created.json["jobId"].is_string());
  EXPECT_TRUE(created.json["transactionId"].is_string());

  const auto job = wait_for_job(server, created.json["jobId"]);
  ASSERT_EQ(job["status"], "SUCCESS") << job.dump();
  EXPECT_EQ(job["id"], created.json["jobId"]);
  EXPECT_EQ(job["type"], "IMAGE_INFERENCE");
  EXPECT_EQ(job["accountId"], "local");
  EXPECT_TRUE(job["created"].is_number_integer());
  for (const char* field :
       {"seed", "loras", "width", "height", "prompt", "negative_prompt", "conditionedPrompt",
        "num_outputs", "guidance_scale", "num_inference_steps"})
    EXPECT_TRUE(job["payload"].contains(field)) << field;
  EXPECT_EQ(job["payload"]["seed"], 7);
  EXPECT_EQ(job["payload"]["num_outputs"], 2);
  // Newest first: SUCCESS, IN_PROGRESS, CREATED.
  ASSERT_EQ(job["statuses"].size(), 3u);
  EXPECT_EQ(job["statuses"][0]["status"], "SUCCESS");
  EXPECT_EQ(job["statuses"][2]["status"], "CREATED");
  ASSERT_EQ(job["outputFiles"].size(), 2u);
  for (const auto& file : job["outputFiles"]) {
    for (const char* field : {"name", "path", "created", "size", "url"})
      EXPECT_TRUE(file.contains(field)) << field;
    const std::string url = file["url"];
    const auto bytes = server.get(url.substr(server.base_url().size()));
    ASSERT_EQ(bytes.status, 200);
    EXPECT_EQ(bytes.content_type, "image/png");
    EXPECT_EQ(static_cast<int64_t>(bytes.body.size()), file["size"].get<int64_t>());
    const auto image =
        io::decode_png(std::vector<uint8_t>(bytes.body.begin(), bytes.body.end()), "output");
    EXPECT_EQ(image.width, job["payload"]["width"].get<int>());
  }
}

TEST(JobsApi, UnknownJobAndPathTraversalAre404) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  for (const char* path :
       {"/v0/api/jobs/nope", "/v0/api/jobs/..%2F..%2Fetc%2Fpasswd", "/files/../diffusiond.db",
        "/files/x/../../diffusiond.db", "/files/%2E%2E/diffusiond.db"}) {
    const auto reply = server.get(path);
    EXPECT_EQ(reply.status, 404) << path << " " << reply.body;
  }
}

TEST(JobsApi, CancelStopsARunningJob) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto created = server.post(
      "/v0/api/images", {{"prompt", "slow"}, {"steps", 150}, {"width", 256}, {"height", 256}});
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = created.json["jobId"];
  const auto cancelled = server.post("/v0/api/jobs/" + id + "/cancel", nlohmann::json::object());
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const auto job = wait_for_job(server, id);
  EXPECT_EQ(job["status"], "CANCELLED");
  EXPECT_EQ(server.post("/v0/api/jobs/" + id + "/cancel", nlohmann::json::object()).status, 409);
}

TEST(JobsApi, CharactersApplyTheirLora) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto character = server.add_tiny_character("Ada", "person", "ada");
  ASSERT_EQ(character.status, 200) << character.body;
  const std::string id = character.json["character"]["id"];
  for (const char* field : {"id", "name", "class", "triggerWord", "created"})
    EXPECT_TRUE(character.json["character"].contains(field)) << field;

  const auto created =
      server.post("/v0/api/images", {{"prompt", "a painting of <" + id + "> with an apple"}});
  ASSERT_EQ(created.status, 200) << created.body;
  const auto job = wait_for_job(server, created.json["jobId"]);
  ASSERT_EQ(job["status"], "SUCCESS") << job.dump();
  ASSERT_EQ(job["payload"]["loras"].size(), 1u);
  EXPECT_EQ(job["payload"]["loras"][0]["meta"]["class"], "person");
  const std::string conditioned = job["payload"]["conditionedPrompt"];
  EXPECT_EQ(conditioned.find("<" + id + ">"), std::string::npos) << conditioned;
  EXPECT_NE(conditioned.find("ada"), std::string::npos) << conditioned;

  const auto unknown =
      server.post("/v0/api/images", {{"prompt", "<00000000-0000-4000-8000-000000000000> at sea"}});
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(unknown.json["error"]["param"], "prompt") << unknown.body;
  const std::string message = unknown.json["error"]["message"];
  EXPECT_NE(message.find("00000000-0000-4000-8000-000000000000"), std::string::npos) << message;
  EXPECT_EQ(server.get("/v0/api/characters").json["characters"].size(), 1u);
  EXPECT_EQ(server.del("/v0/api/characters/" + id).status, 200);
  EXPECT_EQ(server.get("/v0/api/characters/" + id).status, 404);
}

TEST(JobsApi, AccountsCannotSeeEachOthersJobsFilesOrCharacters) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto alice = server.service().accounts().create_key("alice").key;
  const auto bob = server.service().accounts().create_key("bob").key;
  EXPECT_EQ(server.post("/v0/api/images", {{"prompt", "x"}}).status, 401)
      << "keys exist: anonymous is refused";
  EXPECT_EQ(server.post("/v0/api/images", {{"prompt", "x"}}, "dd_wrong").status, 401);
  const auto created = server.post("/v0/api/images", {{"prompt", "alice's"}}, alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = created.json["jobId"];
  const auto job = wait_for_job(server, id, alice);
  ASSERT_EQ(job["status"], "SUCCESS");
  EXPECT_EQ(server.get("/v0/api/jobs/" + id, bob).status, 404);
  EXPECT_EQ(server.post("/v0/api/jobs/" + id + "/cancel", nlohmann::json::object(), bob).status,
            404);
  const std::string path = job["outputFiles"][0]["path"];
  EXPECT_EQ(server.get("/files/" + path, alice).status, 200);
  EXPECT_EQ(server.get("/files/" + path, bob).status, 404);
}

struct BadCase {
  const char* name;
  std::string body;
  int status;
  const char* param;
};

TEST(JobsApi, BadInputGetsTheRight4xxNamingTheParameter) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::vector<BadCase> cases = {
      {"malformed", "{\"prompt\": ", 400, ""},
      {"not an object", "[1, 2]", 400, ""},
      {"no prompt", "{}", 400, "prompt"},
      {"prompt type", R"({"prompt": 5})", 400, "prompt"},
      {"width range", R"({"prompt": "x", "width": 2048})", 400, "width"},
      {"width multiple", R"({"prompt": "x", "width": 100})", 400, "width"},
      {"width type", R"({"prompt": "x", "width": "wide"})", 400, "width"},
      {"samples", R"({"prompt": "x", "samples": 5})", 400, "samples"},
      {"guidance", R"({"prompt": "x", "guidanceScale": 21})", 400, "guidanceScale"},
      {"fractional", R"({"prompt": "x", "samples": 1.5})", 400, "samples"},
      {"model", R"({"prompt": "x", "model": "nope"})", 400, "model"},
      {"sampler", R"({"prompt": "x", "sampler": "warp drive"})", 400, "sampler"},
      {"webhook", R"({"prompt": "x", "webhookUrl": "ftp://example.com/x"})", 400, "webhookUrl"},
  };
  for (const auto& c : cases) {
    const auto reply = server.post_raw("/v0/api/images", c.body, "application/json");
    EXPECT_EQ(reply.status, c.status) << c.name << ": " << reply.body;
    EXPECT_EQ(reply.json["success"], false) << c.name;
    if (*c.param) {
      EXPECT_EQ(reply.json["error"]["param"], c.param) << c.name << ": " << reply.body;
    }
  }
  const auto huge =
      server.post_raw("/v0/api/images", std::string(3 << 20, 'x'), "application/json");
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(server.get("/health").status, 200) << "the server stays up";
}

TEST(JobsApi, FullQueueAnswers429WithRetryAfter) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.max_queue = 2;
  options.start_worker = false;
  TestServer server(options);
  EXPECT_EQ(server.post("/v0/api/images", {{"prompt", "1"}}).status, 200);
  EXPECT_EQ(server.post("/v0/api/images", {{"prompt", "2"}}).status, 200);
  const auto full = server.post("/v0/api/images", {{"prompt", "3"}});
  EXPECT_EQ(full.status, 429);
  bool has_retry_after = false;
  for (const auto& [name, value] : full.headers) has_retry_after |= name == "Retry-After";
  EXPECT_TRUE(has_retry_after);
}

}  // namespace
}  // namespace dd::http

namespace dd::http {
namespace {

// A loopback receiver that refuses the first `failures` deliveries.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(int failures) : failures_(failures) {
    server_.Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard lock(mutex_);
      ++attempts_;
      if (attempts_ <= failures_) {
        response.status = 503;
        return;
      }
      body_ = request.body;
      signature_ = request.get_header_value("X-Diffusiond-Signature");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  bool wait_for_body(int timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (!body_.empty()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::string body() {
    std::lock_guard lock(mutex_);
    return body_;
  }
  std::string signature() {
    std::lock_guard lock(mutex_);
    return signature_;
  }
  int attempts() {
    std::lock_guard lock(mutex_);
    return attempts_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  int failures_;
  std::mutex mutex_;
  int attempts_ = 0;
  std::string body_, signature_;
};

TEST(JobsApi, WebhookIsSignedAndRetriedUntilDelivered) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  WebhookReceiver receiver(/*failures=*/2);
  const auto created =
      server.post("/v0/api/images",
                  {{"prompt", "hook"}, {"webhookUrl", receiver.url()}, {"webhookId", "my-hook-1"}});
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_TRUE(receiver.wait_for_body(30))
      << "no delivery after " << receiver.attempts() << " attempts";
  EXPECT_EQ(receiver.attempts(), 3);
  const auto body = nlohmann::json::parse(receiver.body());
  EXPECT_EQ(body["webhookId"], "my-hook-1");
  EXPECT_EQ(body["job"]["id"], created.json["jobId"]);
  EXPECT_EQ(body["job"]["status"], "SUCCESS");
  const auto secret = server.service().accounts().webhook_secret("local");
  EXPECT_EQ(receiver.signature(), "sha256=" + service::hmac_sha256_hex(secret, receiver.body()));
}

// A job that ended without its webhook being queued (the process died in between) gets the
// webhook when the service starts again.
TEST(JobsApi, WebhookLostToACrashIsSentAfterRestart) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.start_worker = false;
  TestServer server(options);
  WebhookReceiver receiver(/*failures=*/0);
  const auto created =
      server.post("/v0/api/images",
                  {{"prompt", "x"}, {"webhookUrl", receiver.url()}, {"webhookId", "after-crash"}});
  ASSERT_EQ(created.status, 200) << created.body;
  auto& jobs = server.service().jobs();
  const auto claimed = jobs.claim_next();
  ASSERT_TRUE(claimed);
  ASSERT_TRUE(jobs.fail(claimed->id, "simulated"));  // ended, but nobody queued the webhook
  server.service().start();
  ASSERT_TRUE(receiver.wait_for_body(30));
  const auto body = nlohmann::json::parse(receiver.body());
  EXPECT_EQ(body["webhookId"], "after-crash");
  EXPECT_EQ(body["job"]["status"], "FAILED");
}

TEST(JobsApi, PrivateWebhookUrlsAreRefusedUnlessAllowed) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.allow_private_webhooks = false;
  TestServer server(options);
  for (const char* url : {"http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://192.168.1.1/x",
                          "http://localhost/x"}) {
    const auto reply = server.post("/v0/api/images", {{"prompt", "x"}, {"webhookUrl", url}});
    EXPECT_EQ(reply.status, 400) << url;
    EXPECT_EQ(reply.json["error"]["param"], "webhookUrl") << url;
  }
}

}  // namespace
}  // namespace dd::http
