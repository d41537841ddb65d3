// Several nodes on one PostgreSQL database (postgres_server.h): claims never overlap (FOR UPDATE
// SKIP LOCKED), a dead worker's lease runs out and its job runs elsewhere but succeeds once,
// leases renew, a stopping worker hands its job back, loaded models come first without starving
// others, heartbeats, NOTIFY wakes a listener, live events relayed between nodes, one delivery
// per job, and a connection killed under a node is DatabaseUnavailable once and then re-opened.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <set>
#include <thread>

#include "postgres_server.h"
#include "service/event_relay.h"
#include "service/job_store.h"
#include "service/pg_listener.h"
#include "service/webhooks.h"
#include "service/worker_presence.h"

namespace dd::service {
namespace {

using test::PostgresServer;

NewJob job_for(const std::string& account, const std::string& model = "") {
  NewJob job;
  job.account_id = account;
  job.dialect = "jobs";
  job.spec.model = model;
  job.spec.params.prompt = "a cat";
  return job;
}

ClaimOptions worker(const std::string& id, int64_t lease_ms = 60000,
                    std::vector<std::string> loaded = {}) {
  ClaimOptions options;
  options.worker_id = id;
  options.lease_ms = lease_ms;
  options.loaded_models = std::move(loaded);
  return options;
}

class ClusterTest : public test::PostgresTest {};

TEST_F(ClusterTest, NodesClaimingAtOnceNeverShareAJob) {
  constexpr int kJobs = 40;
  constexpr int kNodes = 4;
  {
    Database db(url_);
    JobStore store(db);
    for (int i = 0; i < kJobs; ++i) store.create(job_for(i % 2 ? "a" : "b"));
  }
  std::vector<std::vector<std::string>> claimed(kNodes);
  std::latch ready(kNodes);
  std::vector<std::thread> nodes;
  for (int node = 0; node < kNodes; ++node) {
    nodes.emplace_back([&, node] {
      Database db(url_);  // each node its own connection
      JobStore store(db);
      ready.arrive_and_wait();
      std::string id = "w";  // appended, not concatenated: GCC 12 misreads the + here
      id += std::to_string(node);
      while (const auto job = store.claim_next(worker(id))) claimed[node].push_back(job->id);
    });
  }
  for (auto& node : nodes) node.join();
  std::set<std::string> all;
  size_t total = 0;
  for (const auto& ids : claimed) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, size_t{kJobs});
  EXPECT_EQ(all.size(), size_t{kJobs});  // no job claimed twice
}

TEST_F(ClusterTest, AnExpiredLeaseRunsTheJobElsewhereAndItSucceedsOnce) {
  Database node_a(url_), node_b(url_);
  JobStore a(node_a), b(node_b);
  const auto created = a.create(job_for("acct"));
  const auto first = a.claim_next(worker("worker-a", 1000));
  ASSERT_TRUE(first);
  EXPECT_EQ(b.requeue_expired(now_ms()), 0);  // still leased
  // worker-a dies: nothing renews; once the lease has run out any node queues it again.
  EXPECT_EQ(b.requeue_expired(now_ms() + 5000), 1);
  EXPECT_EQ(b.get_any(created.id)->status, JobStatus::Created);
  const auto second = b.claim_next(worker("worker-b"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, created.id);
  // worker-a was only slow, not dead: it can no longer renew or record anything.
  EXPECT_FALSE(a.renew_lease(created.id, "worker-a", 1000));
  EXPECT_FALSE(a.succeed(created.id, {}, "worker-a"));
  EXPECT_FALSE(a.fail(created.id, "late", "worker-a"));
  EXPECT_TRUE(b.renew_lease(created.id, "worker-b", 1000));
  EXPECT_TRUE(b.succeed(created.id, {}, "worker-b"));
  const auto done = a.get_any(created.id);
  EXPECT_EQ(done->status, JobStatus::Success);
  int successes = 0;
  for (const auto& change : done->statuses) successes += change.status == JobStatus::Success;
  EXPECT_EQ(successes, 1);
}

TEST_F(ClusterTest, AStoppingWorkerHandsItsJobBackAndACancelledOneStaysCancelled) {
  Database db(url_);
  JobStore store(db);
  const auto job = store.create(job_for("acct"));
  ASSERT_TRUE(store.claim_next(worker("w1")));
  EXPECT_FALSE(store.release(job.id, "someone-else"));
  EXPECT_TRUE(store.release(job.id, "w1"));
  EXPECT_EQ(store.get_any(job.id)->status, JobStatus::Created);

  ASSERT_TRUE(store.claim_next(worker("w2", 1000)));
  EXPECT_TRUE(store.cancel(job.id, "acct"));  // running: flagged for its worker
  EXPECT_EQ(store.requeue_expired(now_ms() + 5000), 0);
  EXPECT_EQ(store.get_any(job.id)->status, JobStatus::Cancelled);
}

TEST_F(ClusterTest, LoadedModelsComeFirstButALongWaitingJobIsNotPassedOver) {
  Database db(url_);
  JobStore store(db);
  const auto other = store.create(job_for("a", "model-b"));
  const auto loaded = store.create(job_for("a", "model-a"));
  auto options = worker("w", 60000, {"model-a"});
  EXPECT_EQ(store.claim_next(options)->id, loaded.id);  // newer, but its model is loaded
  store.succeed(loaded.id, {}, "w");

  const auto waiting = store.create(job_for("a", "model-b"));
  store.create(job_for("a", "model-a"));
  options.affinity_ms = -60000;                        // every queued job has now waited "too long"
  EXPECT_EQ(store.claim_next(options)->id, other.id);  // plain queue order again
  EXPECT_NE(waiting.id, other.id);
}

TEST_F(ClusterTest, HeartbeatsCountLiveWorkers) {
  Database db(url_);
  WorkerPresence presence(db);
  EXPECT_EQ(presence.alive(10000), 0);
  presence.beat("w1", {"m1", "m2"});
  presence.beat("w2", {});
  presence.beat("w1", {"m1"});
  EXPECT_EQ(presence.alive(10000), 2);
  presence.leave("w2");
  EXPECT_EQ(presence.alive(10000), 1);
  EXPECT_EQ(presence.alive(-1000), 0);  // none beat in the future
}

TEST_F(ClusterTest, QueueingAJobWakesAListenerOnAnotherConnection) {
  std::atomic<int> wakes{0};
  PgListener listener(url_, kQueueChannel, [&](const std::string&) { ++wakes; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (wakes == 0 && std::chrono::steady_clock::now() < deadline)  // the first: connected
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(wakes.load(), 1);
  const int before = wakes;
  Database db(url_);
  JobStore store(db);
  store.create(job_for("acct"));
  while (wakes == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(wakes.load(), before);
}

TEST_F(ClusterTest, AJobGetsOneWebhookDeliveryEvenWhenTwoNodesEnqueueIt) {
  Database node_a(url_), node_b(url_);
  WebhookSender a(node_a, {}, true), b(node_b, {}, true);
  const auto first = a.enqueue("job-1", "acct", "http://127.0.0.1:9/hook", "{}");
  const auto second = b.enqueue("job-1", "acct", "http://127.0.0.1:9/hook", "{}");
  EXPECT_EQ(first, second);
  EXPECT_EQ(a.deliveries("job-1").size(), 1u);
}

TEST_F(ClusterTest, ALostConnectionIsUnavailableOnceThenReopened) {
  Database node(url_);
  JobStore store(node);
  const auto job = store.create(job_for("acct"));
  int64_t pid = 0;
  {
    auto query = node.prepare("SELECT pg_backend_pid()");
    ASSERT_TRUE(query.step());
    pid = query.integer(0);
  }
  Database admin(url_);
  admin.prepare("SELECT pg_terminate_backend(?1)").bind(1, pid).run();
  // The first statement finds the connection gone: nothing done, DatabaseUnavailable (503).
  EXPECT_THROW(store.get_any(job.id), DatabaseUnavailable);
  // The next one reconnects by itself.
  const auto again = store.get_any(job.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, job.id);
}

TEST_F(ClusterTest, LiveEventsOfAJobOnOneNodeReachTheOthersOnce) {
  Database db_a(url_), db_b(url_);
  JobEvents events_a, events_b;
  EventRelay a(db_a, url_, events_a, "node-a"), b(db_b, url_, events_b, "node-b");
  events_a.observe([&](const std::string& job, const std::string& type,
                       const nlohmann::json& data) { a.send(job, type, data); });
  // Node b listens once its connection is up: publish until an event gets through.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int published = 0;
  while (!events_b.progress("job-1") && std::chrono::steady_clock::now() < deadline) {
    events_a.publish("job-1", "progress", {{"step", ++published}, {"steps", 100}});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(events_b.progress("job-1"));
  events_a.publish("job-1", "preview", {{"step", 1}}, std::make_shared<std::string>("png"));
  events_a.publish("job-1", "status", {{"status", "SUCCESS"}});
  events_a.end("job-1");
  while (!events_b.progress("job-1")->ended && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto relayed = events_b.after("job-1", 0, 0);
  EXPECT_TRUE(relayed.ended);
  ASSERT_FALSE(relayed.events.empty());
  EXPECT_EQ(relayed.events.back().type, "status");  // previews stay on their node
  EXPECT_EQ(relayed.events.back().data["status"], "SUCCESS");
  for (const auto& event : relayed.events) EXPECT_NE(event.type, "preview");
  // Node a's own notifications come back to it too, and are not published twice.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(events_a.after("job-1", 0, 0).events.size(), size_t(published + 2));
}

}  // namespace
}  // namespace dd::service
