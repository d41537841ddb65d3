// JobEvents: numbering, reading after an id, waiting for the next event, and the bounds on what
// is kept.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/job_events.h"

namespace dd::service {
namespace {

TEST(JobEvents, NumbersEachJobsEventsFromOneAndResumesAfterAnId) {
  JobEvents events;
  EXPECT_EQ(events.publish("a", "status", {{"status", "IN_PROGRESS"}}), 1u);
  EXPECT_EQ(events.publish("b", "status", {{"status", "IN_PROGRESS"}}), 1u);
  EXPECT_EQ(events.publish("a", "progress", {{"step", 1}, {"steps", 3}}), 2u);
  EXPECT_EQ(events.publish("a", "progress", {{"step", 2}, {"steps", 3}}), 3u);
  const auto rest = events.after("a", 1, 0);
  ASSERT_EQ(rest.events.size(), 2u);
  EXPECT_EQ(rest.events[0].id, 2u);
  EXPECT_EQ(rest.events[1].data.at("step"), 2);
  EXPECT_TRUE(rest.known);
  EXPECT_FALSE(rest.ended);
  EXPECT_TRUE(events.after("a", 3, 0).events.empty());
  EXPECT_TRUE(events.after("a", 99, 0).events.empty());  // a number from the future: nothing
  EXPECT_FALSE(events.after("unknown", 0, 0).known);
  EXPECT_FALSE(events.progress("unknown"));
  EXPECT_EQ(events.progress("a")->step, 2);
}

TEST(JobEvents, AWaitingReaderWakesOnTheNextEventOrTheEnd) {
  JobEvents events;
  events.publish("a", "status", {{"status", "IN_PROGRESS"}});
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    events.publish("a", "progress", {{"step", 1}, {"steps", 1}});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    events.end("a");
  });
  const auto next = events.after("a", 1, 60000);
  ASSERT_EQ(next.events.size(), 1u);
  EXPECT_EQ(next.events[0].type, "progress");
  const auto last = events.after("a", 2, 60000);  // returns at the end, not after a minute
  EXPECT_TRUE(last.events.empty());
  EXPECT_TRUE(last.ended);
  writer.join();
}

TEST(JobEvents, KeepsTheBytesOfTheLatestPreviewsOnly) {
  JobEvents events;
  const size_t count = JobEvents::kMaxPreviewImages + 3;
  for (size_t i = 0; i < count; ++i)
    events.publish("a", "preview", {{"step", i + 1}},
                   std::make_shared<const std::string>("png" + std::to_string(i)));
  const auto all = events.after("a", 0, 0).events;
  ASSERT_EQ(all.size(), count);  // every event is kept, for readers that resume
  for (size_t i = 0; i < count; ++i) EXPECT_EQ(bool(all[i].image), i >= 3) << i;
  EXPECT_EQ(*events.progress("a")->preview, "png" + std::to_string(count - 1));
}

TEST(JobEvents, ForgetsTheOldestFinishedJobs) {
  JobEvents events;
  for (size_t i = 0; i <= JobEvents::kKeptFinished; ++i) {
    events.publish("job" + std::to_string(i), "status", {{"status", "SUCCESS"}});
    events.end("job" + std::to_string(i));
  }
  EXPECT_FALSE(events.progress("job0"));
  EXPECT_TRUE(events.progress("job1"));
  EXPECT_TRUE(events.progress("job1")->ended);
}

TEST(JobEvents, KeepsFewerFinishedJobsWhenTheirPreviewsAreLarge) {
  JobEvents events;
  // Each job holds a quarter of the budget in previews: four fit, a fifth pushes out the first.
  const auto quarter = std::make_shared<const std::string>(JobEvents::kFinishedImageBytes / 4, 'x');
  for (int i = 0; i < 5; ++i) {
    const std::string id = "job" + std::to_string(i);
    events.publish(id, "preview", {{"step", 1}}, quarter);
    events.end(id);
  }
  EXPECT_FALSE(events.progress("job0"));
  EXPECT_TRUE(events.progress("job1"));
  EXPECT_TRUE(events.progress("job4"));
  // A single job larger than the whole budget is still kept while it is the newest.
  const auto huge = std::make_shared<const std::string>(JobEvents::kFinishedImageBytes + 1, 'x');
  events.publish("huge", "preview", {{"step", 1}}, huge);
  events.end("huge");
  EXPECT_TRUE(events.progress("huge"));
  EXPECT_FALSE(events.progress("job4"));
}

}  // namespace
}  // namespace dd::service
