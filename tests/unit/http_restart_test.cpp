// Durability: `diffusiond serve` killed with SIGKILL while a job runs and others wait; after a
// restart on the same data directory every accepted job completes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "http_test_server.h"
#include "serve_process.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

namespace fs = std::filesystem;

// The server as the test's data needs it: the tiny fixture models, sd15-tiny by default.
test::ServeProcess serve(const std::string& data_dir, int port) {
  return test::ServeProcess(DD_BINARY, port,
                            {"--models-dir", test::tiny_models_dir(), "--data-dir", data_dir,
                             "--default-model", "sd15-tiny"});
}

nlohmann::json get_job(const test::ServeProcess& server, const std::string& id) {
  auto c = server.client();
  auto r = c.Get(("/v0/api/jobs/" + id).c_str());
  return r && r->status == 200 ? nlohmann::json::parse(r->body)["job"] : nlohmann::json();
}

TEST(Restart, KilledServerFinishesEveryAcceptedJobAfterRestart) {
  DD_REQUIRE_FIXTURES();
  const std::string data_dir =
      (fs::temp_directory_path() / ("dd_restart_" + service::random_hex(6))).string();
  const int port = test::free_port();
  std::vector<std::string> ids;
  {
    test::ServeProcess server = serve(data_dir, port);
    ASSERT_TRUE(server.wait_healthy(30));
    auto c = server.client();
    for (int i = 0; i < 4; ++i) {
      const nlohmann::json body = {
          {"prompt", "job " + std::to_string(i)}, {"width", 128}, {"height", 128}, {"steps", 30}};
      auto r = c.Post("/v0/api/images", body.dump(), "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      ids.push_back(nlohmann::json::parse(r->body)["jobId"]);
    }
    // Kill while the first job runs (and the others wait).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (get_job(server, ids[0]).value("status", "") != "IN_PROGRESS" &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(get_job(server, ids[0]).value("status", ""), "IN_PROGRESS");
    EXPECT_EQ(get_job(server, ids[3]).value("status", ""), "CREATED");
    server.kill_now();
  }
  test::ServeProcess restarted = serve(data_dir, port);
  ASSERT_TRUE(restarted.wait_healthy(30));
  for (const auto& id : ids) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    nlohmann::json job;
    while (std::chrono::steady_clock::now() < deadline) {
      job = get_job(restarted, id);
      if (job.value("status", "") == "SUCCESS" || job.value("status", "") == "FAILED") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(job.value("status", ""), "SUCCESS") << job.dump();
    ASSERT_EQ(job["outputFiles"].size(), 1u);
    auto c = restarted.client();
    auto file = c.Get(("/files/" + job["outputFiles"][0]["path"].get<std::string>()).c_str());
    ASSERT_TRUE(file);
    EXPECT_EQ(file->status, 200);
    EXPECT_EQ(static_cast<int64_t>(file->body.size()),
              job["outputFiles"][0]["size"].get<int64_t>());
  }
  // The interrupted job shows it was queued again.
  const auto first = get_job(restarted, ids[0]);
  int created = 0;
  for (const auto& s : first["statuses"]) created += s["status"] == "CREATED";
  EXPECT_EQ(created, 2) << first["statuses"].dump();
  fs::remove_all(data_dir);
}

}  // namespace
}  // namespace dd::http
