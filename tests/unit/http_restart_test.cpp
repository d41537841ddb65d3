// Durability: `diffusiond serve` killed with SIGKILL while a job runs and others wait; after a
// restart on the same data directory every accepted job completes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "http_test_server.h"
#include "service/crypto.h"
#include "test_support.h"

extern char** environ;

namespace dd::http {
namespace {

namespace fs = std::filesystem;

class ServeProcess {
 public:
  ServeProcess(const std::string& data_dir, int port) : port_(port) {
    std::vector<std::string> args = {DD_BINARY,         "serve",
                                     "--port",          std::to_string(port),
                                     "--models-dir",    test::tiny_models_dir(),
                                     "--data-dir",      data_dir,
                                     "--default-model", "sd15-tiny"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~ServeProcess() { kill_now(); }

  bool wait_healthy(int timeout_s) const {
    httplib::Client client("127.0.0.1", port_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto r = client.Get("/health"); r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

nlohmann::json get_job(const ServeProcess& server, const std::string& id) {
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
    ServeProcess server(data_dir, port);
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
  ServeProcess restarted(data_dir, port);
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
