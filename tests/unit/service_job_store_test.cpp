// JobStore: records, history, tenancy, queue order (FIFO per account, round-robin across
// accounts), cancellation, crash recovery and concurrent claims (the job record itself:
// service_job_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "postgres_server.h"
#include "service/job_store.h"
#include "util/error.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;

NewJob job_for(const std::string& account, const std::string& prompt) {
  NewJob job;
  job.account_id = account;
  job.dialect = "jobs";
  job.spec.params.prompt = prompt;
  return job;
}

std::vector<JobStatus> history(const Job& job) {
  std::vector<JobStatus> out;
  for (const auto& change : job.statuses) out.push_back(change.status);
  return out;
}

// A database file in a fresh temporary folder, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("dd-jobs-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

class JobStoreTest : public ::testing::Test {
 protected:
  Database db{test::test_database(":memory:")};
  JobStore store{db};
};

TEST_F(JobStoreTest, CreateThenGet) {
  auto request = job_for("acct-a", "a cat");
  request.spec.params.seed = 42;
  request.webhook_url = "http://127.0.0.1:9/hook";
  request.webhook_id = "hook-1";
  const Job created = store.create(request);
  EXPECT_EQ(created.id.size(), 36u);
  EXPECT_EQ(created.transaction_id.size(), 36u);
  EXPECT_NE(created.id, created.transaction_id);
  EXPECT_EQ(created.status, JobStatus::Created);
  EXPECT_EQ(created.type, "IMAGE_INFERENCE");
  EXPECT_GT(created.created_ms, 0);

  const auto got = store.get(created.id, "acct-a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->account_id, "acct-a");
  EXPECT_EQ(got->dialect, "jobs");
  EXPECT_EQ(got->spec.params.prompt, "a cat");
  EXPECT_EQ(got->spec.params.seed, 42);
  EXPECT_EQ(got->webhook_url, "http://127.0.0.1:9/hook");
  EXPECT_EQ(got->webhook_id, "hook-1");
  EXPECT_EQ(got->transaction_id, created.transaction_id);
  ASSERT_EQ(got->statuses.size(), 1u);
  EXPECT_EQ(got->statuses[0].status, JobStatus::Created);
  EXPECT_FALSE(store.get("no-such-job", "acct-a"));
  EXPECT_THROW(store.create(job_for("", "x")), Error);
}

TEST_F(JobStoreTest, OtherAccountsCannotSeeOrCancel) {
  const Job job = store.create(job_for("acct-a", "mine"));
  EXPECT_FALSE(store.get(job.id, "acct-b"));
  EXPECT_TRUE(store.get_any(job.id));
  EXPECT_TRUE(store.list("acct-b", 10, 0).empty());
  EXPECT_EQ(store.count("acct-b"), 0);
  EXPECT_FALSE(store.cancel(job.id, "acct-b"));
  EXPECT_EQ(store.get(job.id, "acct-a")->status, JobStatus::Created);
}

TEST_F(JobStoreTest, HistoryIsNewestFirstWithDistinctIds) {
  const Job job = store.create(job_for("a", "x"));
  ASSERT_TRUE(store.claim_next());
  store.set_progress(job.id, 3, 10);
  EXPECT_EQ(store.get_any(job.id)->progress_step, 3);
  EXPECT_EQ(store.get_any(job.id)->progress_total, 10);

  OutputFile output;
  output.name = "f.png";
  output.path = job.id + "/f.png";
  output.created_ms = 5;
  output.size = 99;
  output.image_id = "image_1";
  output.seed = 7;
  output.inference_seconds = 1.5;
  EXPECT_TRUE(store.succeed(job.id, {output}));

  const Job done = *store.get_any(job.id);
  EXPECT_EQ(done.status, JobStatus::Success);
  EXPECT_EQ(history(done),
            (std::vector{JobStatus::Success, JobStatus::InProgress, JobStatus::Created}));
  std::set<std::string> ids;
  for (const auto& change : done.statuses) ids.insert(change.id);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_GE(done.statuses[0].created_ms, done.statuses[2].created_ms);
  ASSERT_EQ(done.outputs.size(), 1u);
  EXPECT_EQ(done.outputs[0].path, job.id + "/f.png");
  EXPECT_EQ(done.outputs[0].size, 99);
  EXPECT_EQ(done.outputs[0].image_id, "image_1");
  EXPECT_EQ(done.outputs[0].seed, 7);
  EXPECT_DOUBLE_EQ(done.outputs[0].inference_seconds, 1.5);
}

TEST_F(JobStoreTest, FinishedJobsNeverChangeAgain) {
  const Job job = store.create(job_for("a", "x"));
  store.claim_next();
  EXPECT_TRUE(store.fail(job.id, "model exploded"));
  EXPECT_FALSE(store.succeed(job.id, {}));
  EXPECT_FALSE(store.fail(job.id, "again"));
  EXPECT_FALSE(store.mark_cancelled(job.id));
  EXPECT_FALSE(store.cancel(job.id, "a"));
  const Job failed = *store.get_any(job.id);
  EXPECT_EQ(failed.status, JobStatus::Failed);
  EXPECT_EQ(failed.error, "model exploded");
  EXPECT_EQ(failed.statuses.size(), 3u);
  EXPECT_FALSE(store.succeed("unknown", {}));
}

TEST_F(JobStoreTest, CurrentIsTheRunningJobElseTheOldestQueued) {
  EXPECT_FALSE(store.current("a"));
  const auto first = store.create(job_for("a", "1")).id;
  const auto second = store.create(job_for("a", "2")).id;
  store.create(job_for("b", "3"));
  EXPECT_EQ(store.current("a")->id, first);
  ASSERT_EQ(store.claim_next()->id, first);
  EXPECT_EQ(store.current("a")->id, first);
  EXPECT_TRUE(store.succeed(first, {}));
  EXPECT_EQ(store.current("a")->id, second);  // queued, after b's turn
  ASSERT_TRUE(store.claim_next());            // b's
  ASSERT_EQ(store.claim_next()->id, second);
  EXPECT_EQ(store.current("a")->status, JobStatus::InProgress);
  EXPECT_TRUE(store.cancel(second, "a"));
  EXPECT_TRUE(store.mark_cancelled(second));
  EXPECT_FALSE(store.current("a"));
}

TEST_F(JobStoreTest, FifoWithinAnAccount) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(store.create(job_for("a", std::to_string(i))).id);
  for (const auto& id : ids) {
    const auto claimed = store.claim_next();
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->id, id);
    EXPECT_EQ(claimed->status, JobStatus::InProgress);
  }
  EXPECT_FALSE(store.claim_next());
}

TEST_F(JobStoreTest, RoundRobinAcrossAccounts) {
  const auto a1 = store.create(job_for("A", "a1")).id;
  const auto a2 = store.create(job_for("A", "a2")).id;
  const auto a3 = store.create(job_for("A", "a3")).id;
  const auto b1 = store.create(job_for("B", "b1")).id;
  std::vector<std::string> order;
  while (auto job = store.claim_next()) order.push_back(job->id);
  EXPECT_EQ(order, (std::vector{a1, b1, a2, a3}));
}

TEST_F(JobStoreTest, AccountServedLongAgoGoesBeforeTheBusyOne) {
  store.create(job_for("A", "a1"));
  store.claim_next();  // A served
  store.create(job_for("B", "b1"));
  const auto b2 = store.create(job_for("B", "b2")).id;
  store.claim_next();  // B served (b1), after A
  const auto a2 = store.create(job_for("A", "a2")).id;
  std::vector<std::string> order;
  while (auto job = store.claim_next()) order.push_back(job->id);
  EXPECT_EQ(order, (std::vector{a2, b2}));
}

TEST_F(JobStoreTest, CancelQueuedJobAtOnce) {
  const Job job = store.create(job_for("a", "x"));
  EXPECT_TRUE(store.cancel(job.id, "a"));
  const Job cancelled = *store.get_any(job.id);
  EXPECT_EQ(cancelled.status, JobStatus::Cancelled);
  EXPECT_EQ(history(cancelled), (std::vector{JobStatus::Cancelled, JobStatus::Created}));
  EXPECT_FALSE(store.claim_next());
  EXPECT_FALSE(store.cancel(job.id, "a"));
}

TEST_F(JobStoreTest, CancelRunningJobFlagsItForTheWorker) {
  const Job job = store.create(job_for("a", "x"));
  store.claim_next();
  EXPECT_FALSE(store.cancel_requested(job.id));
  EXPECT_TRUE(store.cancel(job.id, "a"));
  EXPECT_TRUE(store.cancel_requested(job.id));
  EXPECT_EQ(store.get_any(job.id)->status, JobStatus::InProgress);
  EXPECT_TRUE(store.mark_cancelled(job.id));
  const Job cancelled = *store.get_any(job.id);
  EXPECT_EQ(history(cancelled),
            (std::vector{JobStatus::Cancelled, JobStatus::InProgress, JobStatus::Created}));
  EXPECT_FALSE(store.cancel_requested("unknown"));
}

TEST_F(JobStoreTest, CountsAndQueueLength) {
  const auto a = store.create(job_for("a", "1")).id;
  const auto b = store.create(job_for("a", "2")).id;
  store.create(job_for("b", "3"));
  store.create(job_for("b", "4"));
  EXPECT_EQ(store.queued_count(), 4);
  store.claim_next();  // a
  store.claim_next();  // job 3 (account b)
  store.succeed(a, {});
  store.cancel(b, "a");
  EXPECT_EQ(store.queued_count(), 1);
  const auto counts = store.counts();
  EXPECT_EQ(counts.at(JobStatus::Created), 1);
  EXPECT_EQ(counts.at(JobStatus::InProgress), 1);
  EXPECT_EQ(counts.at(JobStatus::Success), 1);
  EXPECT_EQ(counts.at(JobStatus::Failed), 0);
  EXPECT_EQ(counts.at(JobStatus::Cancelled), 1);
}

TEST_F(JobStoreTest, ListIsNewestFirstAndPaginated) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(store.create(job_for("a", std::to_string(i))).id);
  store.create(job_for("b", "other"));
  const auto first = store.list("a", 2, 0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].id, ids[4]);
  EXPECT_EQ(first[1].id, ids[3]);
  const auto rest = store.list("a", 10, 2);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[2].id, ids[0]);
  EXPECT_EQ(rest[0].statuses.size(), 1u);
  EXPECT_EQ(store.count("a"), 5);
  EXPECT_TRUE(store.list("a", -1, 0).empty());
}

TEST_F(JobStoreTest, UpdateSpecStoresTheChosenSeed) {
  const Job job = store.create(job_for("a", "x"));
  JobSpec spec = job.spec;
  spec.params.seed = 987654321;
  store.update_spec(job.id, spec);
  EXPECT_EQ(store.get_any(job.id)->spec.params.seed, 987654321);
}

TEST(JobStoreRestartTest, InterruptedJobsRunAgainAfterACrash) {
  TempDir dir;
  const std::string path = dir.file("jobs.sqlite");
  std::string running, queued, cancelling, done;
  {
    // The first "process": it stops with jobs running; a crash would leave the same committed
    // state (every change is one transaction), which the kill -9 HTTP test checks for real.
    Database db(test::test_database(path));
    JobStore store(db);
    running = store.create(job_for("a", "running")).id;
    cancelling = store.create(job_for("b", "cancel me")).id;
    done = store.create(job_for("a", "done")).id;
    queued = store.create(job_for("a", "queued")).id;
    EXPECT_EQ(store.claim_next()->id, running);
    EXPECT_EQ(store.claim_next()->id, cancelling);
    EXPECT_EQ(store.claim_next()->id, done);
    store.succeed(done, {});
    store.set_progress(running, 2, 5);
    store.cancel(cancelling, "b");
  }
  Database db(test::test_database(path));
  JobStore store(db);
  EXPECT_EQ(store.requeue_interrupted(), 1);
  const Job again = *store.get_any(running);
  EXPECT_EQ(again.status, JobStatus::Created);
  EXPECT_EQ(again.progress_step, 0);
  EXPECT_EQ(history(again),
            (std::vector{JobStatus::Created, JobStatus::InProgress, JobStatus::Created}));
  EXPECT_EQ(store.get_any(cancelling)->status, JobStatus::Cancelled);
  EXPECT_EQ(store.get_any(done)->status, JobStatus::Success);
  EXPECT_EQ(store.get_any(queued)->status, JobStatus::Created);
  EXPECT_EQ(store.count("a") + store.count("b"), 4);

  // Both queued jobs run again, the interrupted one first (it was accepted first).
  EXPECT_EQ(store.claim_next()->id, running);
  EXPECT_EQ(store.claim_next()->id, queued);
  EXPECT_FALSE(store.claim_next());
  EXPECT_EQ(store.requeue_interrupted(), 2);  // a second crash loses nothing either
}

// Two workers, each with its own connection to the same file (as two processes would have),
// race for the queue: every job is claimed exactly once.
TEST(JobStoreConcurrencyTest, ParallelClaimsNeverShareAJob) {
  TempDir dir;
  const std::string path = dir.file("jobs.sqlite");
  constexpr int kJobs = 60;
  {
    Database db(test::test_database(path));
    JobStore store(db);
    for (int i = 0; i < kJobs; ++i)
      store.create(job_for(i % 3 == 0 ? "a" : "b", std::to_string(i)));
  }
  std::vector<std::string> claimed[2];
  auto worker = [&](int index) {
    Database db(test::test_database(path));
    JobStore store(db);
    while (auto job = store.claim_next()) claimed[index].push_back(job->id);
  };
  std::thread first(worker, 0), second(worker, 1);
  first.join();
  second.join();
  std::set<std::string> all(claimed[0].begin(), claimed[0].end());
  all.insert(claimed[1].begin(), claimed[1].end());
  EXPECT_EQ(claimed[0].size() + claimed[1].size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
}

TEST(JobStoreConcurrencyTest, SharedConnectionClaimsNeverShareAJob) {
  Database db(test::test_database(":memory:"));
  JobStore store(db);
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) store.create(job_for("a", std::to_string(i)));
  std::vector<std::string> claimed[2];
  auto worker = [&](int index) {
    while (auto job = store.claim_next()) claimed[index].push_back(job->id);
  };
  std::thread first(worker, 0), second(worker, 1);
  first.join();
  second.join();
  std::set<std::string> all(claimed[0].begin(), claimed[0].end());
  all.insert(claimed[1].begin(), claimed[1].end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(claimed[0].size() + claimed[1].size(), static_cast<size_t>(kJobs));
}

}  // namespace
}  // namespace dd::service
