// The queue side of JobStore: claiming (fair across accounts, preferring loaded models, rows
// locked with SKIP LOCKED on PostgreSQL), leases, and putting running jobs back in the queue
// when their worker went away.
#include <algorithm>
#include <functional>

#include "service/job_store.h"
#include "service/job_store_sql.h"

namespace dd::service {

namespace {

// Running jobs selected by `where` (SQL on jobs, parameters ?1...) back to the queue, or to
// CANCELLED when their cancel was asked for; returns how many were queued again. Inside a
// transaction; on PostgreSQL rows another node is requeueing are skipped.
int requeue_running(Database& db, const std::string& where,
                    const std::function<void(Statement&)>& bind) {
  std::vector<std::pair<std::string, bool>> running;  // id, cancel was requested
  {
    auto query = db.prepare(
        "SELECT id, cancel_requested FROM jobs WHERE status = 'IN_PROGRESS' AND " + where +
        " ORDER BY seq" + (db.dialect() == SqlDialect::Postgres ? " FOR UPDATE SKIP LOCKED" : ""));
    bind(query);
    while (query.step()) running.emplace_back(query.text(0), query.integer(1) != 0);
  }
  int requeued = 0;
  for (const auto& [id, cancelled] : running) {
    // A job whose cancel was asked for before its worker went away stays cancelled.
    const auto target = cancelled ? JobStatus::Cancelled : JobStatus::Created;
    move_status(db, id, target, {JobStatus::InProgress});
    db.prepare(
          "UPDATE jobs SET cancel_requested = 0, progress_step = 0, progress_total = 0, "
          "worker_id = '', lease_until_ms = 0 WHERE id = ?1")
        .bind(1, id)
        .run();
    if (!cancelled) ++requeued;
  }
  if (requeued > 0) db.notify(kQueueChannel);
  return requeued;
}

// Moves a queued job to IN_PROGRESS for the claiming worker and records its account as served
// (round-robin); false when another node took it first. Inside a transaction.
bool take(Database& db, const std::string& id, const std::string& account,
          const ClaimOptions& options, int64_t now) {
  if (!move_status(db, id, JobStatus::InProgress, {JobStatus::Created})) return false;
  db.prepare(
        "UPDATE jobs SET cancel_requested = 0, progress_step = 0, progress_total = 0, "
        "worker_id = ?2, lease_until_ms = ?3 WHERE id = ?1")
      .bind(1, id)
      .bind(2, options.worker_id)
      .bind(3, options.lease_ms > 0 ? now + options.lease_ms : int64_t{0})
      .run();
  db.prepare(
        "INSERT INTO account_queue (account_id, last_served) "
        "VALUES (?1, (SELECT COALESCE(MAX(last_served), 0) + 1 FROM account_queue)) "
        "ON CONFLICT (account_id) DO UPDATE SET last_served = excluded.last_served")
      .bind(1, account)
      .run();
  return true;
}

}  // namespace

std::optional<Job> JobStore::claim_next(const ClaimOptions& options) {
  std::string claimed;
  db_.transaction([&] {
    // Jobs for a loaded model (or waiting longer than the affinity window) first; then the
    // account served least recently (never served first), then its oldest job; ties between
    // accounts go to the oldest job.
    const int64_t now = now_ms();
    std::string preferred = "?1 = 0";
    for (size_t i = 0; i < options.loaded_models.size(); ++i)
      preferred += " OR j.model = ?" + std::to_string(i + 3);
    auto pick = db_.prepare(
        "SELECT j.id, j.account_id FROM jobs j "
        "LEFT JOIN account_queue q ON q.account_id = j.account_id WHERE j.status = 'CREATED' "
        "ORDER BY CASE WHEN " +
        preferred +
        " OR j.created_ms < ?2 THEN 0 ELSE 1 END, "
        "COALESCE(q.last_served, -1), j.seq LIMIT 1" +
        (db_.dialect() == SqlDialect::Postgres ? " FOR UPDATE OF j SKIP LOCKED" : ""));
    pick.bind(1, static_cast<int64_t>(options.loaded_models.size()))
        .bind(2, now - options.affinity_ms);
    for (size_t i = 0; i < options.loaded_models.size(); ++i)
      pick.bind(static_cast<int>(i + 3), options.loaded_models[i]);
    if (!pick.step()) return;
    const std::string id = pick.text(0);
    if (take(db_, id, pick.text(1), options, now)) claimed = id;
  });
  if (claimed.empty()) return std::nullopt;
  return get_any(claimed);
}

std::vector<Job> JobStore::queued_for_model(const std::string& model, int limit) const {
  std::vector<std::string> ids;
  {
    auto guard = db_.lock();
    auto query = db_.prepare(
        "SELECT id FROM jobs WHERE status = 'CREATED' AND model = ?1 ORDER BY seq LIMIT ?2");
    query.bind(1, model).bind(2, std::max(limit, 0));
    while (query.step()) ids.push_back(query.text(0));
  }
  std::vector<Job> jobs;
  for (const auto& id : ids)
    if (auto job = get_any(id)) jobs.push_back(std::move(*job));
  return jobs;
}

std::optional<Job> JobStore::claim(const std::string& id, const ClaimOptions& options) {
  bool claimed = false;
  db_.transaction([&] {
    auto owner = db_.prepare(
        "SELECT account_id FROM jobs WHERE id = ?1 AND status = 'CREATED'" +
        std::string(db_.dialect() == SqlDialect::Postgres ? " FOR UPDATE SKIP LOCKED" : ""));
    owner.bind(1, id);
    if (owner.step()) claimed = take(db_, id, owner.text(0), options, now_ms());
  });
  if (!claimed) return std::nullopt;
  return get_any(id);
}

bool JobStore::renew_lease(const std::string& id, const std::string& worker_id, int64_t lease_ms) {
  auto guard = db_.lock();
  db_.prepare(
         "UPDATE jobs SET lease_until_ms = ?3 "
         "WHERE id = ?1 AND worker_id = ?2 AND status = 'IN_PROGRESS'")
      .bind(1, id)
      .bind(2, worker_id)
      .bind(3, now_ms() + lease_ms)
      .run();
  return db_.changes() > 0;
}

int JobStore::requeue_expired(int64_t now) {
  int requeued = 0;
  db_.transaction([&] {
    requeued = requeue_running(db_, "lease_until_ms > 0 AND lease_until_ms < ?1",
                               [&](Statement& query) { query.bind(1, now); });
  });
  return requeued;
}

bool JobStore::release(const std::string& id, const std::string& worker_id) {
  int requeued = 0;
  db_.transaction([&] {
    requeued = requeue_running(db_, "id = ?1 AND worker_id = ?2",
                               [&](Statement& query) { query.bind(1, id).bind(2, worker_id); });
  });
  return requeued > 0;
}

int JobStore::requeue_interrupted() {
  int requeued = 0;
  db_.transaction([&] { requeued = requeue_running(db_, "1 = 1", [](Statement&) {}); });
  return requeued;
}

}  // namespace dd::service
