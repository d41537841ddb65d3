// GetBodyServer over real sockets: a GET with a body to a POST path is served as the POST (seed
// 002's `curl -X GET ... -d '{...}'`), other GET bodies are dropped without corrupting the next
// request on a keep-alive connection, pipelined requests are answered in order, and an oversized
// request head is refused without taking the server down.
#include <gtest/gtest.h>

#include <thread>

#include "http/get_body_server.h"
#include "http_raw_connection.h"
#include "http_test_server.h"
#include "test_support.h"

namespace dd::test {
namespace {

// A bare GetBodyServer whose routes echo the method, path and body they received.
class EchoServer {
 public:
  static constexpr size_t kMaxBody = 1024;

  EchoServer() {
    server_.set_payload_max_length(kMaxBody);
    server_.set_keep_alive_max_count(100);
    server_.serve_get_with_body_as_post("/echo");
    const auto echo = [](const httplib::Request& request, httplib::Response& response) {
      response.set_content(request.method + " " + request.path + " [" + request.body + "]",
                           "text/plain");
    };
    server_.Get("/echo", echo);
    server_.Post("/echo", echo);
    server_.Get("/other", echo);
    server_.Options("/other", echo);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~EchoServer() {
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }

 private:
  http::GetBodyServer server_;
  int port_ = 0;
  std::thread thread_;
};

// "hello world" in two chunks. httplib 0.11 reads no trailer fields after the last chunk;
// bodies GetBodyServer drops may have them.
std::string chunked(const std::string& method, const std::string& path,
                    const std::string& trailer = "") {
  return method + " " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n" +
         trailer + "\r\n";
}

// Sends `request` on the connection and expects a 200 echo.
void expect_echo(RawConnection& connection, const std::string& request, const std::string& echoed) {
  ASSERT_TRUE(connection.send(request));
  const auto answer = connection.receive();
  ASSERT_TRUE(answer.has_value()) << request;
  EXPECT_EQ(answer->status, 200) << request;
  EXPECT_EQ(answer->body, echoed) << request;
}

TEST(GetBodyServer, GetWithABodyToAPostPathIsServedAsThePost) {
  EchoServer server;
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.ok());
  expect_echo(connection,
              raw_request("GET", "/echo", R"({"a": 1})", "Content-Type: application/json\r\n"),
              R"(POST /echo [{"a": 1}])");
  expect_echo(connection, chunked("GET", "/echo"), "POST /echo [hello world]");
  expect_echo(connection, raw_request("GET", "/echo?x=1", "b"), "POST /echo [b]");
  expect_echo(connection, raw_request("GET", "/echo"), "GET /echo []");
}

TEST(GetBodyServer, OtherBodiesAreDroppedAndTheConnectionKeepsWorking) {
  EchoServer server;
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.ok());
  expect_echo(connection, raw_request("GET", "/other", R"({"ignored": true})"), "GET /other []");
  expect_echo(connection, raw_request("GET", "/echo", "next"), "POST /echo [next]");
  expect_echo(connection, chunked("GET", "/other", "X-Trailer: 1\r\n"), "GET /other []");
  expect_echo(connection, raw_request("OPTIONS", "/other", "xyz"), "OPTIONS /other []");
  expect_echo(connection, raw_request("POST", "/echo", "last"), "POST /echo [last]");
}

TEST(GetBodyServer, PipelinedRequestsAreAnsweredInOrder) {
  EchoServer server;
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE(connection.send(raw_request("GET", "/other", "dropped") + chunked("GET", "/echo") +
                              raw_request("GET", "/echo", "1") +
                              chunked("GET", "/other", "X-Trailer: 1\r\n") +
                              raw_request("POST", "/echo", "2") + raw_request("GET", "/other")));
  for (const std::string expected : {"GET /other []", "POST /echo [hello world]", "POST /echo [1]",
                                     "GET /other []", "POST /echo [2]", "GET /other []"}) {
    const auto answer = connection.receive();
    ASSERT_TRUE(answer.has_value()) << expected;
    EXPECT_EQ(answer->status, 200);
    EXPECT_EQ(answer->body, expected);
  }
}

TEST(GetBodyServer, ExpectContinueIsAnsweredBeforeADroppedBodyIsRead) {
  EchoServer server;
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE(connection.send(
      "GET /other HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  const auto interim = connection.receive();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  expect_echo(connection, "body" + raw_request("GET", "/other"), "GET /other []");
  expect_echo(connection, raw_request("GET", "/other"), "GET /other []");
}

TEST(GetBodyServer, ABodyThatCannotBeDroppedEndsTheConnectionAfterTheAnswer) {
  EchoServer server;
  const std::vector<std::string> requests = {
      // Over the payload limit: not read.
      "GET /other HTTP/1.1\r\nHost: x\r\nContent-Length: " +
          std::to_string(EchoServer::kMaxBody + 1) + "\r\n\r\n",
      "GET /other HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n",
      "GET /other HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "GET /other HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const auto& request : requests) {
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.ok());
    ASSERT_TRUE(connection.send(request));
    auto answer = connection.receive();
    ASSERT_TRUE(answer.has_value()) << request;
    EXPECT_EQ(answer->status, 200) << request;
    EXPECT_EQ(answer->body, "GET /other []") << request;
    EXPECT_EQ(answer->headers["connection"], "close") << request;
    EXPECT_TRUE(connection.closed_by_server()) << request;
  }
  RawConnection fresh(server.port());
  expect_echo(fresh, raw_request("GET", "/other"), "GET /other []");
}

std::string oversized_head() {
  std::string request = "GET /other HTTP/1.1\r\nHost: x\r\n";
  while (request.size() <= http::GetBodyServer::kMaxHeadBytes)
    request +=
        "X-Filler-" + std::to_string(request.size()) + ": " + std::string(1000, 'a') + "\r\n";
  return request + "\r\n";
}

TEST(GetBodyServer, AHeadOverTheCapIsRefusedAndTheServerStaysUp) {
  EchoServer server;
  {
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.send(oversized_head()));
    const auto answer = connection.receive();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 400);
    EXPECT_TRUE(connection.closed_by_server());
  }
  RawConnection fresh(server.port());
  expect_echo(fresh, raw_request("GET", "/other"), "GET /other []");
}

// The real server: the seed's GET answers exactly like the POST, and errors keep its JSON shape.
TEST(GetBodyServer, SeedGenerationExampleSentWithGetAnswersLikeThePost) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const nlohmann::json body = {{"model", "stabilityai/stable-diffusion-xl-base-1.0"},
                               {"prompt", "insert your prompt here"},
                               {"num_steps", 2},
                               {"guidance_scale", 9},
                               {"width", 64},
                               {"height", 64},
                               {"negative_prompt", nullptr},
                               {"seed", 1234}};
  const auto posted = server.post("/api/v1/images/generation", body);
  ASSERT_EQ(posted.status, 200) << posted.body;
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.send(
      raw_request("GET", "/api/v1/images/generation", body.dump(),
                  "Authorization: Bearer local\r\nContent-Type: application/json\r\n")));
  const auto got = connection.receive();
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->status, 200) << got->body;
  auto got_json = nlohmann::json::parse(got->body);
  auto posted_json = posted.json;
  // Everything but the measured time is the same.
  got_json["data"][0].erase("timings");
  posted_json["data"][0].erase("timings");
  EXPECT_EQ(got_json, posted_json);

  // Without a body the GET is answered like an empty POST.
  const auto empty_post = server.post_raw("/api/v1/images/generation", "", "application/json");
  ASSERT_TRUE(connection.send(raw_request("GET", "/api/v1/images/generation")));
  const auto empty_get = connection.receive();
  ASSERT_TRUE(empty_get.has_value());
  EXPECT_EQ(empty_get->status, empty_post.status);
  EXPECT_EQ(nlohmann::json::parse(empty_get->body), empty_post.json);
}

TEST(GetBodyServer, TheRealServerRefusesAnOversizedHeadWithItsJsonError) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  {
    RawConnection connection(server.port());
    ASSERT_TRUE(connection.send(oversized_head()));
    const auto answer = connection.receive();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 400);
    const auto json = nlohmann::json::parse(answer->body, nullptr, false);
    EXPECT_EQ(json["success"], false) << answer->body;
    EXPECT_EQ(json["error"]["code"], "bad_request") << answer->body;
    EXPECT_TRUE(connection.closed_by_server());
  }
  EXPECT_EQ(server.get("/health").status, 200);
}

}  // namespace
}  // namespace dd::test
