// Batching across requests in the worker (worker_batch.cpp) on the tiny fixture model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "io/image.h"
#include "io/image_codec.h"
#include "service_worker_fixture.h"

namespace dd::service {
namespace {

// Jobs that can share a pass run as one batch (generate_batch.h), each with its own prompt, seed,
// guidance and images, the pixels it gets alone (within one 8-bit step); one that differs in
// steps waits for its own run.
TEST_F(WorkerTest, BatchesQueuedJobsThatShareAPassEachWithItsOwnImages) {
  JobSpec base = tiny_spec();
  base.model = "sd15-tiny";  // as Service::submit records it: batches are found by model
  std::vector<JobSpec> specs(3, base);
  specs[1].params.prompt = "a blue circle";
  specs[1].params.seed = 7;
  specs[1].params.cfg = 3.0;
  specs[2].params.seed = 9;
  JobSpec different = base;
  different.params.steps = 3;
  auto pixels = [&](const std::string& id) {
    const auto job = jobs_->get_any(id);
    EXPECT_EQ(job->status, JobStatus::Success) << job->error;
    const auto record = images_->get(job->outputs.at(0).image_id, kAccount);
    const auto bytes = images_->read_bytes(*record);
    return io::decode_png(std::vector<uint8_t>(bytes.begin(), bytes.end()), "output").rgb;
  };
  std::vector<std::vector<uint8_t>> alone;
  for (const auto& spec : specs) {
    const auto id = submit(spec);
    ASSERT_TRUE(worker_->run_one());
    alone.push_back(pixels(id));
  }

  worker_->batch_up_to(4);
  std::vector<std::string> ids;
  for (const auto& spec : specs) ids.push_back(submit(spec));
  const auto later = submit(different);
  ASSERT_TRUE(worker_->run_one());  // the three that match, in one pass
  EXPECT_EQ(jobs_->get_any(later)->status, JobStatus::Created);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto batched = pixels(ids[i]);
    ASSERT_EQ(batched.size(), alone[i].size());
    int worst = 0;
    for (size_t k = 0; k < batched.size(); ++k)
      worst = std::max(worst, std::abs(int(batched[k]) - int(alone[i][k])));
    EXPECT_LE(worst, 1) << "job " << i;
  }
  EXPECT_NE(pixels(ids[0]), pixels(ids[1]));
  ASSERT_TRUE(worker_->run_one());
  EXPECT_EQ(jobs_->get_any(later)->status, JobStatus::Success);
}

}  // namespace
}  // namespace dd::service
