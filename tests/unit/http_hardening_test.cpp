// A server that cannot be knocked over by a client without a key: idle and slow connections,
// synchronous requests waiting for images, declared huge bodies, bodies parsed before the key was
// checked, deeply nested JSON, and web pages of other origins (issue 21's attacks, as tests).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

#include "http_raw_connection.h"
#include "http_test_server.h"
#include "test_support.h"

namespace dd::http {
namespace {

using test::raw_request;
using test::RawConnection;
using test::TestServer;
using Clock = std::chrono::steady_clock;

int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

// GET /health on a fresh connection: its status (0 when no answer came) and how long it took.
std::pair<int, double> health(const TestServer& server) {
  auto client = server.client();
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(2, 0);
  const auto start = Clock::now();
  const auto result = client.Get("/health");
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return {result ? result->status : 0, ms};
}

TEST(Hardening, HealthAnswersUnderIdleConnectionsAndAFullQueueOfWaitingClients) {
  DD_REQUIRE_FIXTURES();
  // No worker: every synchronous request waits, and 16 of them fill the queue.
  TestServer server({.max_queue = 16, .start_worker = false, .sync_timeout_ms = 30000});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server.port()));
    idle.back()->send("POST /v0/api/images HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // and then nothing
  }
  std::vector<std::future<std::string>> waiting;
  for (int i = 0; i < 16; ++i)
    waiting.push_back(std::async(std::launch::async, [&] {
      auto client = server.client();
      const auto result = client.Post("/sd", R"({"prompt": "x", "steps": 1})", "application/json");
      return result ? std::to_string(result->status) : httplib::to_string(result.error());
    }));
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (server.service().jobs().queued_count() < 16 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (server.service().jobs().queued_count() != 16)
    for (auto& request : waiting)
      if (request.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
        ADD_FAILURE() << "a waiting request ended early: " << request.get();
  ASSERT_EQ(server.service().jobs().queued_count(), 16);
  EXPECT_EQ(server.post("/sd", {{"prompt", "one more"}}).status, 429);  // the queue is full
  for (int i = 0; i < 5; ++i) {
    const auto [status, ms] = health(server);
    EXPECT_EQ(status, 200) << "GET /health got no answer within 2 s";
    RecordProperty("health_ms_" + std::to_string(i), std::to_string(ms));
    std::cout << "/health under attack: " << ms << " ms\n";
  }
  server.service().start();  // let the waiting requests finish
  for (auto& request : waiting) EXPECT_EQ(request.get(), "200");
}

TEST(Hardening, ARequestHeadMustArriveWithinTheHeadTimeout) {
  DD_REQUIRE_FIXTURES();
  TestServer server({.head_timeout_s = 1});
  RawConnection slow(server.port());
  const auto start = Clock::now();
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  // A byte now and then keeps each read alive, but not the head.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    slow.send("x");
  }
  const auto answer = slow.receive();  // a 400, or the connection just ends
  if (answer) {
    EXPECT_EQ(answer->status, 400);
  }
  EXPECT_TRUE(slow.closed_by_server());
  // Well before the 60 s read timeout that used to be the only bound.
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 20);
}

TEST(Hardening, OneClientAddressHoldsABoundedNumberOfConnections) {
  DD_REQUIRE_FIXTURES();
  TestServer server({.max_connections_per_client = 4});
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<RawConnection>(server.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawConnection extra(server.port());
  extra.send(raw_request("GET", "/health"));
  const auto answer = extra.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 503);
  EXPECT_NE(answer->body.find("too many connections"), std::string::npos) << answer->body;
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(health(server).first, 200);
}

// The answer to a request head alone: the body is never sent, so an answer proves the server did
// not wait for it.
std::optional<RawConnection::Answer> answer_to_head(const TestServer& server,
                                                    const std::string& head) {
  RawConnection connection(server.port());
  connection.send(head);
  return connection.receive();
}

TEST(Hardening, KeysAndDeclaredSizesAreCheckedBeforeAnyBodyIsRead) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto key = server.service().accounts().create_key("owner").key;
  const std::string json = "Content-Type: application/json\r\n";
  auto head = [&](const std::string& framing, const std::string& auth) {
    return "POST /v0/api/images HTTP/1.1\r\nHost: 127.0.0.1\r\n" + json + auth + framing + "\r\n";
  };
  const std::string auth = "Authorization: Bearer " + key + "\r\n";
  struct Case {
    std::string what, head;
    int status;
  };
  const std::vector<Case> cases = {
      {"no key, 17 MB declared", head("Content-Length: 17825792\r\n", ""), 401},
      {"bad key, 17 MB declared", head("Content-Length: 17825792\r\n", "x-api-key: nope\r\n"), 401},
      {"10 GiB declared", head("Content-Length: 10737418240\r\n", auth), 413},
      {"21 MiB declared", head("Content-Length: 22020096\r\n", auth), 413},
      {"negative length", head("Content-Length: -1\r\n", auth), 400},
      {"huge chunk", head("Transfer-Encoding: chunked\r\n", auth) + "FFFFFFFFFFFF\r\n", 413},
  };
  for (const auto& c : cases) {
    const auto start = Clock::now();
    const auto answer = answer_to_head(server, c.head);
    ASSERT_TRUE(answer) << c.what;
    EXPECT_EQ(answer->status, c.status) << c.what << ": " << answer->body;
    std::cout << c.what << ": " << answer->status << " after "
              << std::chrono::duration<double, std::milli>(Clock::now() - start).count() << " ms\n";
  }
  // A chunked body within the limit still works.
  RawConnection chunked(server.port());
  const std::string body = R"({"prompt": "x", "steps": 1, "width": 64, "height": 64})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  chunked.send(head("Transfer-Encoding: chunked\r\n", auth) + size + "\r\n" + body +
               "\r\n0\r\n\r\n");
  const auto answer = chunked.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
}

TEST(Hardening, KeylessHugeNestedBodiesCostNoMemory) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  server.service().accounts().create_key("owner");
  const std::string nested = std::string(8 << 20, '[') + std::string(8 << 20, ']');
  EXPECT_EQ(health(server).first, 200);
  const int64_t before = resident_bytes();
  std::vector<std::future<int>> attacks;
  for (int i = 0; i < 8; ++i)
    attacks.push_back(std::async(std::launch::async, [&] {
      RawConnection connection(server.port());
      connection.send(
          raw_request("POST", "/v0/api/images", nested, "Content-Type: application/json\r\n"));
      const auto answer = connection.receive();
      return answer ? answer->status : 0;
    }));
  for (auto& attack : attacks) EXPECT_EQ(attack.get(), 401);
  const int64_t after = resident_bytes();
  std::cout << "resident: " << before / 1e6 << " MB before, " << after / 1e6 << " MB after\n";
  EXPECT_LT(after, before + before / 10);
}

TEST(Hardening, JsonBodiesAreBoundedInDepthAndValues) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  auto reply = server.post_raw("/v0/api/images", deep, "application/json");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("nested deeper than 64"), std::string::npos) << reply.body;
  std::string wide = "{\"prompt\": [";
  for (int i = 0; i < 150000; ++i) wide += i ? ",0" : "0";
  wide += "]}";
  reply = server.post_raw("/v0/api/images", wide, "application/json");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("more than 100000 values"), std::string::npos) << reply.body;
}

TEST(Hardening, LocalModeRefusesOtherHostsAndOrigins) {
  DD_REQUIRE_FIXTURES();
  TestServer server({.cors_origins = {"https://app.example"}});
  const std::string body = R"({"prompt": "x"})";
  // DNS rebinding: a page whose own name resolves to 127.0.0.1.
  RawConnection rebound(server.port());
  rebound.send("GET /v0/api/jobs/x HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n");
  auto answer = rebound.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 421) << answer->body;
  // A "simple" cross-origin request a browser sends without a preflight.
  const auto queued_before = server.service().jobs().queued_count();
  RawConnection simple(server.port());
  simple.send(raw_request("POST", "/v0/api/images", body,
                          "Content-Type: text/plain\r\nOrigin: https://evil.example\r\n"));
  answer = simple.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 403) << answer->body;
  EXPECT_EQ(server.service().jobs().queued_count(), queued_before);
  // An allowed origin: the preflight works and the answer names it.
  RawConnection preflight(server.port());
  preflight.send(raw_request("OPTIONS", "/v0/api/images", "",
                             "Origin: https://app.example\r\nAccess-Control-Request-Method: "
                             "POST\r\nAccess-Control-Request-Headers: content-type\r\n"));
  answer = preflight.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 204);
  EXPECT_EQ(answer->headers["access-control-allow-origin"], "https://app.example");
  EXPECT_NE(answer->headers["access-control-allow-methods"].find("POST"), std::string::npos);
  RawConnection allowed(server.port());
  allowed.send(raw_request("GET", "/health", "", "Origin: https://app.example\r\n"));
  answer = allowed.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->headers["access-control-allow-origin"], "https://app.example");
  // Loopback names pass.
  for (const char* host : {"localhost:8080", "127.0.0.1", "[::1]:9"}) {
    RawConnection local(server.port());
    local.send(std::string("GET /health HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    answer = local.receive();
    ASSERT_TRUE(answer) << host;
    EXPECT_EQ(answer->status, 200) << host;
  }
}

}  // namespace
}  // namespace dd::http
