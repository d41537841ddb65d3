// GET /v0/api/jobs/:id/events over real sockets: progress and previews arrive while the job
// runs, previews decode as PNGs, a reader that reconnects with Last-Event-ID misses nothing, the
// stream ends with the job object; plus the job object's `progress` and the preview endpoint.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image.h"
#include "test_support.h"

namespace dd::http {
namespace {

using test::TestServer;

struct SseEvent {
  uint64_t id = 0;  // 0: the frame had none
  std::string type;
  nlohmann::json data;
  std::string job_status;  // the stored job's status when the event was read
};

// Reads an event stream, frame by frame; `keep_reading` decides after each whether to go on.
class SseReader {
 public:
  std::vector<SseEvent> read(TestServer& server, const std::string& path,
                             const httplib::Headers& headers,
                             const std::function<bool(const SseEvent&)>& keep_reading,
                             const std::string& job_id = "") {
    std::vector<SseEvent> events;
    std::string buffer;
    auto client = server.client();
    client.set_read_timeout(120, 0);
    const auto result = client.Get(
        path, headers,
        [&](const httplib::Response& response) {
          status = response.status;
          content_type = response.get_header_value("Content-Type");
          return true;
        },
        [&](const char* data, size_t size) {
          buffer.append(data, size);
          size_t end;
          while ((end = buffer.find("\n\n")) != std::string::npos) {
            const std::string frame = buffer.substr(0, end);
            buffer.erase(0, end + 2);
            if (frame.rfind(":", 0) == 0) continue;  // a comment (keep-alive)
            SseEvent event;
            std::istringstream lines(frame);
            for (std::string line; std::getline(lines, line);) {
              if (line.rfind("id: ", 0) == 0) event.id = std::stoull(line.substr(4));
              if (line.rfind("event: ", 0) == 0) event.type = line.substr(7);
              if (line.rfind("data: ", 0) == 0) event.data = nlohmann::json::parse(line.substr(6));
            }
            if (!job_id.empty())
              event.job_status =
                  service::status_name(server.service().jobs().get_any(job_id)->status);
            events.push_back(event);
            if (!keep_reading(event)) return false;
          }
          return true;
        });
    completed = bool(result);
    return events;
  }

  int status = 0;
  std::string content_type;
  bool completed = false;
};

std::string submit(TestServer& server, int steps, const std::string& key = "") {
  const auto created = server.post(
      "/v0/api/images", {{"prompt", "a lighthouse"}, {"steps", steps}, {"seed", 5}}, key);
  EXPECT_EQ(created.status, 200) << created.body;
  return created.json.value("jobId", "");
}

TEST(JobEventsApi, StreamsProgressAndPreviewsWhileTheJobRunsThenTheJob) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.preview_every = 2;
  TestServer server(options);
  const int steps = 8;
  const std::string id = submit(server, steps);
  SseReader reader;
  const auto events = reader.read(
      server, "/v0/api/jobs/" + id + "/events", {}, [](const auto&) { return true; }, id);
  EXPECT_EQ(reader.status, 200);
  EXPECT_EQ(reader.content_type, "text/event-stream");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "job");
  EXPECT_EQ(events.back().data.at("status"), "SUCCESS");
  EXPECT_EQ(events.back().data.at("outputFiles").size(), 1u);

  int progress = 0, previews = 0, seen_running = 0;
  uint64_t last_id = 0;
  for (const auto& event : events) {
    if (event.id) {
      EXPECT_EQ(event.id, last_id + 1) << "ids are consecutive";
      last_id = event.id;
    }
    if (event.type == "progress") {
      ++progress;
      EXPECT_EQ(event.data.at("step"), progress);
      EXPECT_EQ(event.data.at("steps"), steps);
      EXPECT_GE(event.data.at("elapsed").get<double>(), 0.0);
      EXPECT_GE(event.data.at("eta").get<double>(), 0.0);
      // Read while the job was still running, not replayed after it.
      if (event.job_status == "IN_PROGRESS") ++seen_running;
    }
    if (event.type == "preview") {
      ++previews;
      const auto png = io::base64_decode(event.data.at("image").get<std::string>(), "preview");
      const auto image = io::decode_png(png, "preview");
      EXPECT_EQ(image.width, event.data.at("width").get<int>());
      EXPECT_EQ(image.height, event.data.at("height").get<int>());
      EXPECT_GT(image.width, 0);
    }
  }
  EXPECT_EQ(progress, steps);
  EXPECT_EQ(previews, steps / 2);
  EXPECT_GT(seen_running, 0);

  // After the end: the job object carries its progress and the latest preview's URL.
  const auto job = server.get("/v0/api/jobs/" + id);
  ASSERT_EQ(job.status, 200);
  const auto& polled = job.json.at("job").at("progress");
  EXPECT_EQ(polled.at("step"), steps);
  EXPECT_EQ(polled.at("steps"), steps);
  EXPECT_EQ(polled.at("eta"), 0.0);
  EXPECT_EQ(polled.at("preview_url"), server.base_url() + "/v0/api/jobs/" + id + "/preview");
  const auto preview = server.get("/v0/api/jobs/" + id + "/preview");
  ASSERT_EQ(preview.status, 200);
  EXPECT_EQ(preview.content_type, "image/png");
  EXPECT_NO_THROW(io::decode_png({preview.body.begin(), preview.body.end()}, "preview"));
}

TEST(JobEventsApi, AReaderThatReconnectsWithLastEventIdMissesNothing) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.preview_every = 1;
  TestServer server(options);
  const std::string id = submit(server, 6);
  const std::string path = "/v0/api/jobs/" + id + "/events";
  SseReader first;
  const auto before =
      first.read(server, path, {}, [](const SseEvent& event) { return event.id < 4; });
  ASSERT_FALSE(before.empty());
  ASSERT_EQ(before.back().id, 4u);
  SseReader second;
  const auto after =
      second.read(server, path, {{"Last-Event-ID", "4"}}, [](const auto&) { return true; });
  SseReader whole;
  const auto all = whole.read(server, path, {}, [](const auto&) { return true; });
  std::vector<uint64_t> joined, everything;
  for (const auto* part : {&before, &after})
    for (const auto& event : *part)
      if (event.id) joined.push_back(event.id);
  for (const auto& event : all)
    if (event.id) everything.push_back(event.id);
  EXPECT_EQ(joined, everything);
  EXPECT_EQ(after.back().type, "job");
  // The query parameter does the same for clients that cannot set headers.
  SseReader by_query;
  const auto rest =
      by_query.read(server, path + "?last_event_id=" + std::to_string(everything.size() - 1), {},
                    [](const auto&) { return true; });
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, everything.back());
  EXPECT_EQ(rest[1].type, "job");
}

TEST(JobEventsApi, AQueuedJobCancelledByItsOwnerEndsItsStream) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.start_worker = false;
  TestServer server(options);
  const std::string id = submit(server, 2);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server.post("/v0/api/jobs/" + id + "/cancel", nlohmann::json::object());
  });
  SseReader reader;
  const auto events =
      reader.read(server, "/v0/api/jobs/" + id + "/events", {}, [](const auto&) { return true; });
  canceller.join();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "status");
  EXPECT_EQ(events[0].data.at("status"), "CREATED");
  EXPECT_EQ(events[1].type, "job");
  EXPECT_EQ(events[1].data.at("status"), "CANCELLED");
  EXPECT_EQ(server.get("/v0/api/jobs/" + id + "/preview").status, 404);
}

TEST(JobEventsApi, FollowsTheJobsAuthAndRefusesABadLastEventId) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto alice = server.service().accounts().create_key("alice").key;
  const auto bob = server.service().accounts().create_key("bob").key;
  const std::string id = submit(server, 2, alice);
  server.wait_for_job(id, alice);
  EXPECT_EQ(server.get("/v0/api/jobs/" + id + "/events").status, 401);
  EXPECT_EQ(server.get("/v0/api/jobs/" + id + "/events", bob).status, 404);
  EXPECT_EQ(server.get("/v0/api/jobs/" + id + "/preview", bob).status, 404);
  EXPECT_EQ(server.get("/v0/api/jobs/nope/events", alice).status, 404);
  EXPECT_EQ(server.get("/v0/api/jobs/" + id + "/events?last_event_id=-1", alice).status, 400);
  EXPECT_EQ(
      server.get("/v0/api/jobs/" + id + "/events?last_event_id=99999999999999999999", alice).status,
      400);
  const auto ended = server.get("/v0/api/jobs/" + id + "/events", alice);
  ASSERT_EQ(ended.status, 200);
  EXPECT_NE(ended.body.find("event: job\n"), std::string::npos);
}

}  // namespace
}  // namespace dd::http
