// The worker on the tiny fixture model, with real JobStore and ImageStore on a temporary
// database: jobs run to SUCCESS with PNG outputs, failures and cancellations are recorded, and
// a job interrupted by a crash or a shutdown runs again after a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/image.h"
#include "io/image_codec.h"
#include "service_worker_fixture.h"

namespace dd::service {
namespace {

TEST_F(WorkerTest, RunsAQueuedJobToSuccessWithPngOutputs) {
  worker_->start();
  JobSpec spec = tiny_spec();
  spec.params.samples = 2;
  const auto id = submit(spec);
  const Job job = wait_final(id);
  ASSERT_EQ(job.status, JobStatus::Success) << job.error;
  ASSERT_EQ(job.outputs.size(), 2u);

  // The stored spec says exactly what ran: the model's defaults filled in.
  EXPECT_EQ(job.spec.model, "sd15-tiny");
  EXPECT_EQ(job.spec.params.steps, 2);
  EXPECT_EQ(job.spec.params.width, 64);
  EXPECT_EQ(job.spec.params.sampler, "euler_a");
  EXPECT_EQ(job.spec.params.seed, 42);
  EXPECT_EQ(job.spec.params.cfg, 7.0);  // the engine default: the sidecar sets none
  EXPECT_EQ(job.progress_total, 2);

  for (size_t i = 0; i < job.outputs.size(); ++i) {
    const auto& output = job.outputs[i];
    EXPECT_EQ(output.path, id + "/" + output.name);
    EXPECT_EQ(output.name.substr(output.name.size() - 4), ".png");
    EXPECT_EQ(output.seed, 42 + static_cast<int64_t>(i));
    EXPECT_GT(output.size, 0);
    const auto record = images_->get(output.image_id, kAccount);
    ASSERT_TRUE(record);
    EXPECT_EQ(record->job_id, id);
    EXPECT_EQ(record->format, "png");
    const std::string bytes = images_->read_bytes(*record);
    EXPECT_EQ(static_cast<int64_t>(bytes.size()), output.size);
    const auto image = io::decode_png({bytes.begin(), bytes.end()}, "output");
    EXPECT_EQ(image.width, 64);
    EXPECT_EQ(image.height, 64);

    const auto file = dir_ / output.name;
    std::ofstream(file, std::ios::binary) << bytes;
    const auto text = io::read_png_text(file.string());
    ASSERT_TRUE(text.count("parameters"));
    const auto& parameters = text.at("parameters");
    EXPECT_EQ(parameters.rfind("a red square\nNegative prompt: blurry\n", 0), 0u) << parameters;
    EXPECT_NE(parameters.find("Steps: 2, Sampler: Euler a"), std::string::npos) << parameters;
    EXPECT_NE(parameters.find("Seed: " + std::to_string(42 + i)), std::string::npos);
    EXPECT_NE(parameters.find("Model: sd15-tiny"), std::string::npos) << parameters;
  }

  const auto done = wait_finished(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id, id);
  EXPECT_EQ(done[0].status, JobStatus::Success);
  const auto stats = worker_->stats().snapshot();
  EXPECT_EQ(stats.jobs_succeeded, 1u);
  EXPECT_EQ(stats.images_generated, 2u);
  EXPECT_EQ(stats.image_seconds.count, 2u);
  EXPECT_EQ(stats.step_seconds.count, 2u);
  EXPECT_EQ(stats.running_job, "");
}

// What readers of the job's events see: it started, each step's progress with a time left
// that reaches 0, a preview PNG of the first image at the chosen steps (latent-sized from the
// linear projection fitted to the tiny VAE), then its final status, and nothing after.
TEST_F(WorkerTest, PublishesStatusProgressAndPreviewEventsInOrder) {
  preview_every_ = 2;
  open();
  worker_->start();
  JobSpec spec = tiny_spec();
  spec.params.steps = 5;
  const auto id = submit(spec);
  ASSERT_EQ(wait_final(id).status, JobStatus::Success);
  wait_finished(1);
  const auto batch = events_.after(id, 0, 0);
  ASSERT_TRUE(batch.known);
  EXPECT_TRUE(batch.ended);
  std::vector<std::string> kinds;
  std::vector<int> preview_steps;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const auto& event = batch.events[i];
    EXPECT_EQ(event.id, i + 1);
    kinds.push_back(event.type == "status" ? event.data.at("status").get<std::string>()
                                           : event.type);
    if (event.type == "preview") {
      preview_steps.push_back(event.data.at("step"));
      ASSERT_TRUE(event.image);
      const auto image = io::decode_png({event.image->begin(), event.image->end()}, "preview");
      EXPECT_EQ(image.width, event.data.at("width").get<int>());
      EXPECT_EQ(image.width, 8);  // 64 pixels / the VAE's 8
    }
    if (event.type == "progress") {
      EXPECT_EQ(event.data.at("steps"), 5);
      EXPECT_GE(event.data.at("eta").get<double>(), 0.0);
      if (event.data.at("step") == 5) {
        EXPECT_EQ(event.data.at("eta").get<double>(), 0.0);
      }
    }
  }
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"IN_PROGRESS", "progress", "preview", "progress", "progress",
                                      "preview", "progress", "preview", "progress", "SUCCESS"}));
  EXPECT_EQ(preview_steps, (std::vector<int>{2, 4, 5}));
  const auto progress = events_.progress(id);
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->step, 5);
  EXPECT_EQ(progress->preview_step, 5);
  EXPECT_TRUE(progress->ended);
  // Nothing follows an ended job's last event: a reader does not wait for more.
  EXPECT_TRUE(events_.after(id, batch.events.size(), 5000).events.empty());
}

TEST_F(WorkerTest, ARandomSeedIsChosenAndStored) {
  JobSpec spec = tiny_spec();
  spec.params.seed = -1;
  spec.model = "TINY";  // an alias, any case
  spec.format = "jpeg";
  const auto id = submit(spec);
  ASSERT_TRUE(worker_->run_one());
  const Job job = *jobs_->get_any(id);
  ASSERT_EQ(job.status, JobStatus::Success) << job.error;
  ASSERT_TRUE(job.spec.params.seed);
  EXPECT_GE(*job.spec.params.seed, 0);
  ASSERT_EQ(job.outputs.size(), 1u);
  EXPECT_EQ(job.outputs[0].seed, *job.spec.params.seed);
  EXPECT_EQ(job.outputs[0].name.substr(job.outputs[0].name.size() - 4), ".jpg");
  const auto record = images_->get(job.outputs[0].image_id, kAccount);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->format, "jpeg");
  const std::string bytes = images_->read_bytes(*record);
  EXPECT_EQ(io::sniff_image_format({bytes.begin(), bytes.end()}), "jpeg");
  EXPECT_FALSE(worker_->run_one());  // nothing else queued
}

TEST_F(WorkerTest, FailuresAreRecordedWithTheReason) {
  JobSpec unknown_model = tiny_spec();
  unknown_model.model = "nope";
  JobSpec unknown_lora = tiny_spec();
  unknown_lora.loras.push_back({"missing-lora", "", 1.0, nlohmann::json::object()});
  JobSpec bad_size = tiny_spec();
  bad_size.params.width = 65;
  JobSpec corrupt_image = tiny_spec();
  corrupt_image.init_image_path = (dir_ / "corrupt.png").string();
  std::ofstream(dir_ / "corrupt.png") << "\x89PNG\r\n\x1a\n garbage";
  const std::vector<std::pair<JobSpec, std::string>> cases{
      {unknown_model, "unknown model 'nope'"},
      {unknown_lora, "unknown LoRA 'missing-lora'"},
      {bad_size, "width must be a multiple of 8"},
      {corrupt_image, "init image"},
  };
  worker_->start();
  for (const auto& [spec, reason] : cases) {
    const Job job = wait_final(submit(spec));
    EXPECT_EQ(job.status, JobStatus::Failed);
    EXPECT_NE(job.error.find(reason), std::string::npos) << job.error;
    EXPECT_TRUE(job.outputs.empty());
  }
  EXPECT_EQ(wait_finished(cases.size()).size(), cases.size());
  EXPECT_EQ(worker_->stats().snapshot().jobs_failed, cases.size());

  const Job after = wait_final(submit(tiny_spec()));  // the thread survived them all
  EXPECT_EQ(after.status, JobStatus::Success) << after.error;
}

TEST_F(WorkerTest, AppliesLorasAndImg2Img) {
  io::Image input;
  input.width = 64;
  input.height = 48;
  input.rgb.resize(64 * 48 * 3);
  for (size_t i = 0; i < input.rgb.size(); ++i) input.rgb[i] = static_cast<uint8_t>(i * 7);
  io::write_png((dir_ / "input.png").string(), input);
  JobSpec spec = tiny_spec();
  spec.init_image_path = (dir_ / "input.png").string();
  spec.params.strength = 0.5;
  spec.loras.push_back({"tiny-lora", "", 0.8, nlohmann::json::object()});
  const auto id = submit(spec);
  ASSERT_TRUE(worker_->run_one());
  const Job job = *jobs_->get_any(id);
  ASSERT_EQ(job.status, JobStatus::Success) << job.error;
  EXPECT_EQ(job.spec.params.width, 64);  // the input's size
  EXPECT_EQ(job.spec.params.height, 48);
  const auto record = images_->get(job.outputs.at(0).image_id, kAccount);
  EXPECT_EQ(record->width, 64);
  EXPECT_EQ(record->height, 48);
}

TEST_F(WorkerTest, CancelsARunningJobWithinAStep) {
  worker_->start();
  JobSpec spec = tiny_spec();
  spec.params.steps = 500;
  const auto id = submit(spec);
  const Job running =
      wait_for(id, [](const Job& job) { return job.progress_step >= 1 || is_final(job.status); });
  ASSERT_EQ(running.status, JobStatus::InProgress);
  ASSERT_TRUE(jobs_->cancel(id, kAccount));
  const Job job = wait_final(id);
  EXPECT_EQ(job.status, JobStatus::Cancelled);
  EXPECT_LT(job.progress_step, 500);
  EXPECT_TRUE(job.outputs.empty());
  ASSERT_EQ(wait_finished(1).size(), 1u);
  EXPECT_EQ(finished()[0].status, JobStatus::Cancelled);
  EXPECT_EQ(worker_->stats().snapshot().jobs_cancelled, 1u);
}

TEST_F(WorkerTest, AJobInterruptedByACrashRunsAfterRestart) {
  const auto id = submit(tiny_spec());
  ASSERT_TRUE(jobs_->claim_next());  // the process "dies" while running it
  EXPECT_EQ(jobs_->get_any(id)->status, JobStatus::InProgress);

  open();  // restart
  EXPECT_EQ(jobs_->requeue_interrupted(), 1);
  worker_->start();
  const Job job = wait_final(id);
  EXPECT_EQ(job.status, JobStatus::Success) << job.error;
  EXPECT_EQ(job.outputs.size(), 1u);
}

TEST_F(WorkerTest, StopLeavesTheRunningJobForTheNextStart) {
  worker_->start();
  JobSpec spec = tiny_spec();
  spec.params.steps = 500;
  const auto id = submit(spec);
  wait_for(id, [](const Job& job) { return job.progress_step >= 1 || is_final(job.status); });
  worker_->stop();
  EXPECT_EQ(jobs_->get_any(id)->status, JobStatus::InProgress);
  EXPECT_TRUE(finished().empty());

  open();  // restart
  ASSERT_EQ(jobs_->requeue_interrupted(), 1);
  JobSpec shorter = jobs_->get_any(id)->spec;
  shorter.params.steps = 2;  // keep the test short
  jobs_->update_spec(id, shorter);
  ASSERT_TRUE(worker_->run_one());
  EXPECT_EQ(jobs_->get_any(id)->status, JobStatus::Success);
}

}  // namespace
}  // namespace dd::service
