#pragma once
// The worker tests' fixture (service_worker_test.cpp, service_worker_batch_test.cpp): the tiny
// SD 1.5 fixture model with a sidecar (2 steps, 64x64), real JobStore and ImageStore on a
// temporary database (SQLite, or PostgreSQL with DD_TEST_DATABASE), and helpers to submit jobs
// and wait for them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "postgres_server.h"
#include "service/crypto.h"
#include "service/worker.h"
#include "test_support.h"

namespace dd::service {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const std::string kAccount = "acct-1";

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DD_REQUIRE_FIXTURES();
    const fs::path fixtures = fs::path(test::fixtures_dir()) / "models";
    dir_ = fs::temp_directory_path() / ("dd-worker-" + random_hex(8));
    fs::create_directories(dir_ / "models" / "loras");
    fs::create_directory_symlink(fixtures / "sd15-tiny", dir_ / "models" / "sd15-tiny");
    fs::create_symlink(fixtures / "lora" / "sd15-tiny-lora.safetensors",
                       dir_ / "models" / "loras" / "tiny-lora.safetensors");
    std::ofstream(dir_ / "models" / "sd15-tiny.json")
        << R"({"aliases": ["tiny"], "defaults": {"steps": 2, "width": 64, "height": 64}})";
    models_ = std::make_unique<ModelRegistry>((dir_ / "models").string(), 0, torch::kFloat32);
    open();
  }

  void TearDown() override {
    if (worker_) worker_->stop();
    worker_.reset();
    images_.reset();
    jobs_.reset();
    db_.reset();
    models_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Opens the stores on the database file (again, after a simulated restart).
  void open() {
    worker_.reset();
    images_.reset();
    jobs_.reset();
    db_ = std::make_unique<Database>(test::test_database((dir_ / "db.sqlite").string()));
    jobs_ = std::make_unique<JobStore>(*db_);
    images_ = std::make_unique<ImageStore>(*db_, (dir_ / "data").string());
    worker_ = std::make_unique<Worker>(
        *jobs_, *images_, *models_, events_,
        [this](const Job& job) {
          std::lock_guard lock(finished_mutex_);
          finished_.push_back(job);
        },
        preview_every_);
  }

  std::string submit(const JobSpec& spec) {
    NewJob job;
    job.account_id = kAccount;
    job.dialect = "jobs";
    job.spec = spec;
    const auto id = jobs_->create(job).id;
    worker_->wake();
    return id;
  }

  // Polls until `done(job)` holds (or 120 s passed).
  Job wait_for(const std::string& id, const std::function<bool(const Job&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto job = jobs_->get_any(id);
      if (job && done(*job)) return *job;
      std::this_thread::sleep_for(1ms);
    }
    ADD_FAILURE() << "job " << id << " did not reach the expected state";
    return *jobs_->get_any(id);
  }

  Job wait_final(const std::string& id) {
    return wait_for(id, [](const Job& job) { return is_final(job.status); });
  }

  std::vector<Job> finished() {
    std::lock_guard lock(finished_mutex_);
    return finished_;
  }

  // The jobs reported to on_finished, once there are `count` (it runs just after the store
  // records the end, so a poller can see the status first).
  std::vector<Job> wait_finished(size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (finished().size() < count && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return finished();
  }

  static JobSpec tiny_spec() {
    JobSpec spec;
    spec.params.prompt = "a red square";
    spec.params.negative_prompt = "blurry";
    spec.params.seed = 42;
    spec.params.sampler = "Euler a";
    return spec;
  }

  fs::path dir_;
  std::unique_ptr<ModelRegistry> models_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<JobStore> jobs_;
  std::unique_ptr<ImageStore> images_;
  JobEvents events_;
  int preview_every_ = 0;
  std::unique_ptr<Worker> worker_;
  std::mutex finished_mutex_;
  std::vector<Job> finished_;
};

}  // namespace dd::service
