// OpenAI's streamed image answers (API.md section 5, `stream: true`) against a real server with
// the tiny models: the events' order, names, shapes and indices, the images they carry, errors
// before and during the stream, and a client that leaves early.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "http/openai_stream.h"
#include "http_openai_fixture.h"
#include "http_raw_connection.h"
#include "io/base64.h"
#include "io/image_codec.h"

namespace dd::test {
namespace {

using nlohmann::json;

struct Event {
  std::string name;
  json data;
};

// The SSE body as its events (comment lines skipped; every data line must be JSON).
std::vector<Event> parse_events(const std::string& body) {
  std::vector<Event> events;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find("\n\n", at);
    if (end == std::string::npos) end = body.size();
    const std::string block = body.substr(at, end - at);
    at = end + 2;
    Event event;
    std::string data;
    size_t line_at = 0;
    while (line_at < block.size()) {
      size_t line_end = block.find('\n', line_at);
      if (line_end == std::string::npos) line_end = block.size();
      const std::string line = block.substr(line_at, line_end - line_at);
      line_at = line_end + 1;
      if (line.rfind("event: ", 0) == 0) event.name = line.substr(7);
      if (line.rfind("data: ", 0) == 0) data += line.substr(6);
    }
    if (event.name.empty() && data.empty()) continue;
    event.data = json::parse(data);
    events.push_back(std::move(event));
  }
  return events;
}

struct Streamed {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<Event> events;
};

Streamed stream(const TestServer& server, const json& body, const std::string& key) {
  const auto reply = server.post("/v1/images/generations", body, key);
  Streamed out{reply.status, reply.content_type, reply.body, {}};
  if (reply.status == 200) out.events = parse_events(reply.body);
  return out;
}

io::Image decode_as(const std::string& b64, const std::string& format) {
  const auto bytes = io::base64_decode(b64, "b64_json");
  EXPECT_EQ(io::sniff_image_format(bytes), format);
  return io::decode_image(bytes, "b64_json");
}

const std::set<std::string> kPartialKeys = {
    "type",    "b64_json",   "created_at",    "size",
    "quality", "background", "output_format", "partial_image_index"};
const std::set<std::string> kCompletedKeys = {"type",    "b64_json",   "created_at",    "size",
                                              "quality", "background", "output_format", "usage"};

TEST(OpenAiStreamSchedule, PartialImagesAreSpreadOverTheRun) {
  // 8 steps, 2 partial images: the first at a third of the run or later, the second at two.
  EXPECT_FALSE(http::preview_due(0, 2, 2, 8));
  EXPECT_TRUE(http::preview_due(0, 2, 4, 8));
  EXPECT_FALSE(http::preview_due(1, 2, 4, 8));
  EXPECT_TRUE(http::preview_due(1, 2, 6, 8));
  EXPECT_FALSE(http::preview_due(2, 2, 8, 8));  // only two were asked for
  EXPECT_TRUE(http::preview_due(0, 3, 1, 4));
  EXPECT_TRUE(http::preview_due(2, 3, 3, 4));
  EXPECT_FALSE(http::preview_due(0, 0, 4, 4));
  EXPECT_FALSE(http::preview_due(0, 1, 1, 0));  // no step count: nothing is due
}

TEST_F(OpenAiApi, StreamSendsPartialImagesThenTheImage) {
  const auto reply = stream(*server_,
                            {{"prompt", "a lighthouse"},
                             {"size", "64x64"},
                             {"steps", 8},
                             {"seed", 5},
                             {"stream", true},
                             {"partial_images", 2}},
                            key_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "text/event-stream");
  ASSERT_EQ(reply.events.size(), 3u) << reply.body.substr(0, 500);
  for (int i = 0; i < 2; ++i) {
    const auto& event = reply.events[i];
    EXPECT_EQ(event.name, "image_generation.partial_image");
    EXPECT_EQ(event.data["type"], event.name);
    EXPECT_EQ(keys_of(event.data), kPartialKeys);
    EXPECT_EQ(event.data["partial_image_index"], i);
    EXPECT_EQ(event.data["size"], "64x64");
    EXPECT_EQ(event.data["output_format"], "png");
    EXPECT_TRUE(event.data["created_at"].is_number_integer());
    const auto image = decode_as(event.data["b64_json"], "png");
    EXPECT_EQ(image.width, 64);  // a latent-sized preview is sent at the output size
    EXPECT_EQ(image.height, 64);
  }
  const auto& done = reply.events[2];
  EXPECT_EQ(done.name, "image_generation.completed");
  EXPECT_EQ(done.data["type"], done.name);
  EXPECT_EQ(keys_of(done.data), kCompletedKeys);
  EXPECT_EQ(done.data["size"], "64x64");
  EXPECT_EQ(done.data["background"], "opaque");
  EXPECT_TRUE(done.data["usage"]["total_tokens"].is_number_integer());
  const auto image = decode_as(done.data["b64_json"], "png");
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 64);
  EXPECT_NE(done.data["b64_json"], reply.events[1].data["b64_json"]);

  // The same request unstreamed makes the same pixels: streaming changes only the answer.
  const auto plain = server_->post("/v1/images/generations",
                                   {{"prompt", "a lighthouse"},
                                    {"size", "64x64"},
                                    {"steps", 8},
                                    {"seed", 5},
                                    {"response_format", "b64_json"}},
                                   key_);
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(decode_as(plain.json["data"][0]["b64_json"], "png").rgb, image.rgb);
}

TEST_F(OpenAiApi, StreamWithoutPartialImagesSendsOnlyTheImageInItsFormat) {
  const auto reply = stream(*server_,
                            {{"prompt", "a cup"},
                             {"size", "128x64"},
                             {"stream", true},
                             {"output_format", "webp"},
                             {"response_format", "url"}},  // streams are always b64_json
                            key_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(reply.events.size(), 1u) << reply.body.substr(0, 500);
  EXPECT_EQ(reply.events[0].name, "image_generation.completed");
  EXPECT_EQ(reply.events[0].data["output_format"], "webp");
  EXPECT_EQ(reply.events[0].data["size"], "128x64");
  const auto image = decode_as(reply.events[0].data["b64_json"], "webp");
  EXPECT_EQ(image.width, 128);
  EXPECT_EQ(image.height, 64);
}

TEST_F(OpenAiApi, StreamedPartialImagesComeInTheOutputFormat) {
  const auto reply = stream(*server_,
                            {{"prompt", "a boat"},
                             {"size", "64x64"},
                             {"steps", 4},
                             {"stream", true},
                             {"partial_images", 3},
                             {"output_format", "jpeg"}},
                            key_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(reply.events.size(), 4u) << reply.body.substr(0, 500);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(reply.events[i].data["partial_image_index"], i);
    EXPECT_EQ(reply.events[i].data["output_format"], "jpeg");
    decode_as(reply.events[i].data["b64_json"], "jpeg");
  }
  EXPECT_EQ(reply.events[3].name, "image_generation.completed");
  decode_as(reply.events[3].data["b64_json"], "jpeg");
}

TEST_F(OpenAiApi, StreamParametersAreChecked) {
  const json base = {{"prompt", "x"}, {"size", "64x64"}, {"stream", true}};
  for (const json& bad : {json(4), json(-1), json(1.5), json("2"), json(true)}) {
    auto body = base;
    body["partial_images"] = bad;
    expect_openai_error(server_->post("/v1/images/generations", body, key_), 400, "partial_images");
  }
  for (const json& bad : {json("yes"), json(1), json::array()}) {
    auto body = base;
    body["stream"] = bad;
    expect_openai_error(server_->post("/v1/images/generations", body, key_), 400, "stream");
  }
  auto several = base;
  several["n"] = 2;
  expect_openai_error(server_->post("/v1/images/generations", several, key_), 400, "n");
  auto bad_size = base;
  bad_size["size"] = "65x65";  // refused before the stream starts: a plain JSON error
  const auto reply = server_->post("/v1/images/generations", bad_size, key_);
  expect_openai_error(reply, 400, "size");
  EXPECT_EQ(reply.content_type, "application/json");
  expect_openai_error(server_->post("/v1/images/generations", base, "sk-wrong"), 401, "",
                      "authentication_error");
}

TEST_F(OpenAiApi, StreamedEditsUseTheEditEventNames) {
  const auto picture = png_of(gradient(64, 64));
  const auto reply = edit({{"image", picture, "in.png", "image/png"},
                           {"mask", picture, "mask.png", "image/png"},
                           {"prompt", "a window", "", ""},
                           {"stream", "true", "", ""},
                           {"partial_images", "1", "", ""},
                           {"steps", "4", "", ""}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "text/event-stream");
  const auto events = parse_events(reply.body);
  ASSERT_EQ(events.size(), 2u) << reply.body.substr(0, 500);
  EXPECT_EQ(events[0].name, "image_edit.partial_image");
  EXPECT_EQ(events[0].data["partial_image_index"], 0);
  EXPECT_EQ(events[1].name, "image_edit.completed");
  EXPECT_EQ(decode_as(events[1].data["b64_json"], "png").width, 64);
}

TEST_F(OpenAiApi, AClientThatLeavesEarlyStillGetsItsImageStored) {
  const auto leaver = server_->service().accounts().create_key("stream-leaver");
  {
    RawConnection connection(server_->port());
    ASSERT_TRUE(connection.ok());
    const std::string body =
        json({{"prompt", "a kite"}, {"size", "64x64"}, {"stream", true}, {"partial_images", 3}})
            .dump();
    ASSERT_TRUE(connection.send(raw_request(
        "POST", "/v1/images/generations", body,
        "Content-Type: application/json\r\nAuthorization: Bearer " + leaver.key + "\r\n")));
  }  // closed before any event
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (server_->service().images().count(leaver.account_id, "") == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(server_->service().images().count(leaver.account_id, ""), 1);
  // The server still answers afterwards.
  EXPECT_EQ(server_->get("/v1/models", key_).status, 200);
}

TEST(OpenAiStreamErrors, AJobThatDoesNotFinishEndsTheStreamWithAnErrorEvent) {
  DD_REQUIRE_FIXTURES();
  TestServer server({.start_worker = false, .sync_timeout_ms = 300});  // the job stays queued
  const auto key = server.service().accounts().create_key("waiter").key;
  const auto reply =
      stream(server, {{"prompt", "x"}, {"stream", true}, {"partial_images", 1}}, key);
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(reply.events.size(), 1u) << reply.body;
  EXPECT_EQ(reply.events[0].name, "error");
  EXPECT_EQ(reply.events[0].data["type"], "error");
  const auto& error = reply.events[0].data["error"];
  EXPECT_EQ(keys_of(error), (std::set<std::string>{"message", "type", "param", "code"}));
  EXPECT_EQ(error["code"], "timeout");
  EXPECT_NE(error["message"].get<std::string>().find("cancelled"), std::string::npos);
}

TEST_F(OpenAiApi, OpenApiDescribesTheStreamFields) {
  const auto reply = server_->get("/openapi.json");
  ASSERT_EQ(reply.status, 200);
  const auto& properties = reply.json["paths"]["/v1/images/generations"]["post"]["requestBody"]
                                     ["content"]["application/json"]["schema"]["properties"];
  EXPECT_EQ(properties["stream"]["type"], "boolean");
  EXPECT_EQ(properties["partial_images"]["type"], "integer");
  EXPECT_EQ(properties["partial_images"]["maximum"], 3);
}

}  // namespace
}  // namespace dd::test
