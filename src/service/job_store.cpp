#include "service/job_store.h"

#include <algorithm>

#include "service/crypto.h"
#include "service/job_store_sql.h"
#include "service/schema_migrations.h"
#include "util/error.h"

namespace dd::service {

namespace {

// `seq` orders the queue (FIFO) and the listings; account_queue remembers when each account
// was last served, so claim_next() can go round-robin across accounts.
const std::vector<Migration> kMigrations = {
    {1, "jobs, statuses and the account queue", R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  seq {serial_key},
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  type TEXT NOT NULL,
  dialect TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  outputs TEXT NOT NULL DEFAULT '[]',
  error TEXT NOT NULL DEFAULT '',
  webhook_url TEXT NOT NULL DEFAULT '',
  webhook_id TEXT NOT NULL DEFAULT '',
  cancel_requested BIGINT NOT NULL DEFAULT 0,
  progress_step BIGINT NOT NULL DEFAULT 0,
  progress_total BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, seq);
CREATE INDEX IF NOT EXISTS jobs_by_account ON jobs(account_id, seq);
CREATE TABLE IF NOT EXISTS job_statuses (
  seq {serial_key},
  id TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL REFERENCES jobs(id),
  status TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_statuses_by_job ON job_statuses(job_id, seq);
CREATE TABLE IF NOT EXISTS account_queue (
  account_id TEXT PRIMARY KEY,
  last_served BIGINT NOT NULL
);
)sql"},
    // Several workers: the worker holding a running job and until when (its lease), and the
    // model, so a worker can prefer jobs for the models it has loaded.
    {2, "leases and job models", R"sql(
ALTER TABLE jobs ADD COLUMN worker_id TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT '';
)sql"},
};

const char* const kJobColumns =
    "id, account_id, transaction_id, type, dialect, created_ms, spec, status, outputs, error, "
    "webhook_url, webhook_id, progress_step, progress_total";

nlohmann::json parse_stored(const std::string& text, const std::string& job_id,
                            const char* column) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw Error("database: job " + job_id + " has a corrupt '" + column + "' column");
  }
}

JobStatus status_from_column(const std::string& text, const std::string& job_id) {
  const auto status = parse_status(text);
  if (!status) throw Error("database: job " + job_id + " has unknown status '" + text + "'");
  return *status;
}

// A row selected with kJobColumns, without its status history.
Job job_from_row(const Statement& row) {
  Job job;
  job.id = row.text(0);
  job.account_id = row.text(1);
  job.transaction_id = row.text(2);
  job.type = row.text(3);
  job.dialect = row.text(4);
  job.created_ms = row.integer(5);
  job.spec = JobSpec::from_json(parse_stored(row.text(6), job.id, "spec"));
  job.status = status_from_column(row.text(7), job.id);
  job.outputs = outputs_from_json(parse_stored(row.text(8), job.id, "outputs"), job.id);
  job.error = row.text(9);
  job.webhook_url = row.text(10);
  job.webhook_id = row.text(11);
  job.progress_step = static_cast<int>(row.integer(12));
  job.progress_total = static_cast<int>(row.integer(13));
  return job;
}

std::vector<StatusChange> load_statuses(Database& db, const std::string& job_id) {
  auto query = db.prepare(
      "SELECT id, status, created_ms FROM job_statuses WHERE job_id = ?1 ORDER BY seq DESC");
  query.bind(1, job_id);
  std::vector<StatusChange> statuses;
  while (query.step())
    statuses.push_back(
        {query.text(0), status_from_column(query.text(1), job_id), query.integer(2)});
  return statuses;
}

// Runs a query selecting kJobColumns and completes each job with its history.
std::vector<Job> load_jobs(Database& db, Statement& query) {
  std::vector<Job> jobs;
  while (query.step()) jobs.push_back(job_from_row(query));
  for (auto& job : jobs) job.statuses = load_statuses(db, job.id);
  return jobs;
}

}  // namespace

void record_status(Database& db, const std::string& job_id, JobStatus status) {
  db.prepare("INSERT INTO job_statuses (id, job_id, status, created_ms) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, new_uuid())
      .bind(2, job_id)
      .bind(3, status_name(status))
      .bind(4, now_ms())
      .run();
}

bool move_status(Database& db, const std::string& id, JobStatus to,
                 std::initializer_list<JobStatus> from, const std::string& worker_id) {
  std::string allowed;
  for (const auto status : from)
    allowed += std::string(allowed.empty() ? "" : ", ") + "'" + status_name(status) + "'";
  db.prepare("UPDATE jobs SET status = ?1 WHERE id = ?2 AND status IN (" + allowed +
             ") AND (?3 = '' OR worker_id = ?3)")
      .bind(1, status_name(to))
      .bind(2, id)
      .bind(3, worker_id)
      .run();
  if (db.changes() == 0) return false;
  record_status(db, id, to);
  return true;
}

namespace {

std::optional<JobStatus> current_status(Database& db, const std::string& id) {
  auto query = db.prepare("SELECT status FROM jobs WHERE id = ?1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return status_from_column(query.text(0), id);
}

}  // namespace

JobStore::JobStore(Database& db) : db_(db) { apply_migrations(db_, "jobs", kMigrations); }

Job JobStore::create(const NewJob& request) {
  if (request.account_id.empty()) throw Error("a job needs an account");
  Job job;
  job.id = new_uuid();
  job.transaction_id = new_uuid();
  job.account_id = request.account_id;
  job.dialect = request.dialect;
  job.created_ms = now_ms();
  job.spec = request.spec;
  job.webhook_url = request.webhook_url;
  job.webhook_id = request.webhook_id;
  db_.transaction([&] {
    db_.prepare(
           "INSERT INTO jobs (id, account_id, transaction_id, type, dialect, created_ms, spec, "
           "status, webhook_url, webhook_id, model) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
        .bind(1, job.id)
        .bind(2, job.account_id)
        .bind(3, job.transaction_id)
        .bind(4, job.type)
        .bind(5, job.dialect)
        .bind(6, job.created_ms)
        .bind(7, job.spec.to_json().dump())
        .bind(8, status_name(JobStatus::Created))
        .bind(9, job.webhook_url)
        .bind(10, job.webhook_id)
        .bind(11, job.spec.model)
        .run();
    record_status(db_, job.id, JobStatus::Created);
    db_.notify(kQueueChannel);
  });
  return *get_any(job.id);
}

std::optional<Job> JobStore::get(const std::string& id, const std::string& account_id) const {
  auto guard = db_.lock();
  auto query = db_.prepare(std::string("SELECT ") + kJobColumns +
                           " FROM jobs WHERE id = ?1 AND account_id = ?2");
  query.bind(1, id).bind(2, account_id);
  auto jobs = load_jobs(db_, query);
  if (jobs.empty()) return std::nullopt;
  return std::move(jobs.front());
}

std::optional<Job> JobStore::get_any(const std::string& id) const {
  auto guard = db_.lock();
  auto query = db_.prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?1");
  query.bind(1, id);
  auto jobs = load_jobs(db_, query);
  if (jobs.empty()) return std::nullopt;
  return std::move(jobs.front());
}

std::vector<Job> JobStore::list(const std::string& account_id, int limit, int offset) const {
  auto guard = db_.lock();
  auto query = db_.prepare(std::string("SELECT ") + kJobColumns +
                           " FROM jobs WHERE account_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3");
  query.bind(1, account_id).bind(2, std::max(limit, 0)).bind(3, std::max(offset, 0));
  return load_jobs(db_, query);
}

std::optional<Job> JobStore::current(const std::string& account_id) const {
  auto guard = db_.lock();
  auto query = db_.prepare(std::string("SELECT ") + kJobColumns +
                           " FROM jobs WHERE account_id = ?1 AND status IN ('IN_PROGRESS', "
                           "'CREATED') ORDER BY status = 'IN_PROGRESS' DESC, seq LIMIT 1");
  query.bind(1, account_id);
  auto jobs = load_jobs(db_, query);
  if (jobs.empty()) return std::nullopt;
  return std::move(jobs.front());
}

int64_t JobStore::count(const std::string& account_id) const {
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT COUNT(*) FROM jobs WHERE account_id = ?1");
  query.bind(1, account_id);
  query.step();
  return query.integer(0);
}

void JobStore::set_progress(const std::string& id, int step, int total) {
  auto guard = db_.lock();
  db_.prepare(
         "UPDATE jobs SET progress_step = ?1, progress_total = ?2 "
         "WHERE id = ?3 AND status = 'IN_PROGRESS'")
      .bind(1, step)
      .bind(2, total)
      .bind(3, id)
      .run();
}

void JobStore::update_spec(const std::string& id, const JobSpec& spec) {
  auto guard = db_.lock();
  db_.prepare("UPDATE jobs SET spec = ?1 WHERE id = ?2")
      .bind(1, spec.to_json().dump())
      .bind(2, id)
      .run();
}

bool JobStore::succeed(const std::string& id, const std::vector<OutputFile>& outputs,
                       const std::string& worker_id) {
  bool moved = false;
  db_.transaction([&] {
    moved = move_status(db_, id, JobStatus::Success, {JobStatus::Created, JobStatus::InProgress},
                        worker_id);
    if (!moved) return;
    db_.prepare("UPDATE jobs SET outputs = ?1, progress_step = progress_total WHERE id = ?2")
        .bind(1, outputs_to_json(outputs).dump())
        .bind(2, id)
        .run();
  });
  return moved;
}

bool JobStore::fail(const std::string& id, const std::string& error, const std::string& worker_id) {
  bool moved = false;
  db_.transaction([&] {
    moved = move_status(db_, id, JobStatus::Failed, {JobStatus::Created, JobStatus::InProgress},
                        worker_id);
    if (!moved) return;
    db_.prepare("UPDATE jobs SET error = ?1 WHERE id = ?2").bind(1, error).bind(2, id).run();
  });
  return moved;
}

bool JobStore::cancel(const std::string& id, const std::string& account_id) {
  bool accepted = false;
  db_.transaction([&] {
    auto owner = db_.prepare("SELECT 1 FROM jobs WHERE id = ?1 AND account_id = ?2");
    owner.bind(1, id).bind(2, account_id);
    if (!owner.step()) return;
    const auto status = current_status(db_, id);
    if (status == JobStatus::Created) {
      accepted = move_status(db_, id, JobStatus::Cancelled, {JobStatus::Created});
    } else if (status == JobStatus::InProgress) {
      db_.prepare("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1").bind(1, id).run();
      accepted = true;
    }
  });
  return accepted;
}

bool JobStore::cancel_requested(const std::string& id) const {
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT cancel_requested FROM jobs WHERE id = ?1");
  query.bind(1, id);
  return query.step() && query.integer(0) != 0;
}

bool JobStore::mark_cancelled(const std::string& id, const std::string& worker_id) {
  bool moved = false;
  db_.transaction([&] {
    moved = move_status(db_, id, JobStatus::Cancelled, {JobStatus::Created, JobStatus::InProgress},
                        worker_id);
  });
  return moved;
}

int64_t JobStore::queued_count() const {
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT COUNT(*) FROM jobs WHERE status = 'CREATED'");
  query.step();
  return query.integer(0);
}

std::map<JobStatus, int64_t> JobStore::counts() const {
  std::map<JobStatus, int64_t> counts = {{JobStatus::Created, 0},
                                         {JobStatus::InProgress, 0},
                                         {JobStatus::Success, 0},
                                         {JobStatus::Failed, 0},
                                         {JobStatus::Cancelled, 0}};
  auto guard = db_.lock();
  auto query = db_.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status");
  while (query.step()) {
    if (const auto status = parse_status(query.text(0))) counts[*status] = query.integer(1);
  }
  return counts;
}

}  // namespace dd::service
