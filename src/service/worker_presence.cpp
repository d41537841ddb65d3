#include "service/worker_presence.h"

#include "service/job.h"  // now_ms
#include "service/schema_migrations.h"

namespace dd::service {

namespace {

const std::vector<Migration> kMigrations = {
    {1, "worker heartbeats", R"sql(
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY,
  models TEXT NOT NULL DEFAULT '',
  heartbeat_ms BIGINT NOT NULL
);
)sql"},
};

// Rows of workers silent this long are dropped, so the table does not grow with every restart.
constexpr int64_t kForgetAfterMs = 24 * 3600 * 1000;

}  // namespace

WorkerPresence::WorkerPresence(Database& db) : db_(db) {
  apply_migrations(db_, "workers", kMigrations);
}

void WorkerPresence::beat(const std::string& worker_id,
                          const std::vector<std::string>& loaded_models) {
  std::string models;
  for (const auto& model : loaded_models) models += (models.empty() ? "" : ",") + model;
  const int64_t now = now_ms();
  db_.transaction([&] {
    db_.prepare(
           "INSERT INTO workers (id, models, heartbeat_ms) VALUES (?1, ?2, ?3) ON CONFLICT (id) "
           "DO UPDATE SET models = excluded.models, heartbeat_ms = excluded.heartbeat_ms")
        .bind(1, worker_id)
        .bind(2, models)
        .bind(3, now)
        .run();
    db_.prepare("DELETE FROM workers WHERE heartbeat_ms < ?1").bind(1, now - kForgetAfterMs).run();
  });
}

void WorkerPresence::leave(const std::string& worker_id) {
  auto guard = db_.lock();
  db_.prepare("DELETE FROM workers WHERE id = ?1").bind(1, worker_id).run();
}

int64_t WorkerPresence::alive(int64_t within_ms) const {
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT COUNT(*) FROM workers WHERE heartbeat_ms >= ?1");
  query.bind(1, now_ms() - within_ms);
  return query.step() ? query.integer(0) : 0;
}

}  // namespace dd::service
