#pragma once
// Durable jobs in SQLite: every job with its status history, spec, outputs and error. An
// accepted job is never lost: jobs queued or running when the process died are queued again
// by requeue_interrupted() at start-up. Jobs are claimed FIFO within an account and
// round-robin across accounts, so one busy account cannot starve the others.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "service/database.h"
#include "service/job.h"

namespace dd::service {

// The PostgreSQL channel notified when jobs are queued (or queued again): idle workers LISTEN on
// it instead of polling.
inline constexpr const char* kQueueChannel = "diffusiond_jobs";

struct NewJob {
  std::string account_id;
  std::string dialect;
  JobSpec spec;
  std::string webhook_url;
  std::string webhook_id;
};

// How a worker claims: who it is, for how long the claim holds unless renewed, and which models
// it has loaded. The defaults are the single-machine worker's: no lease (a crash is repaired at
// start-up by requeue_interrupted) and no model preference.
struct ClaimOptions {
  std::string worker_id;
  int64_t lease_ms = 0;
  // Jobs for these models come first while they are recent: a job that has waited longer than
  // affinity_ms is no longer passed over, so no model starves.
  std::vector<std::string> loaded_models;
  int64_t affinity_ms = 30000;
};

class JobStore {
 public:
  explicit JobStore(Database& db);  // creates its tables if needed

  Job create(const NewJob& job);  // status CREATED, new id and transaction id
  // A job of this account; another account's job is "not found" (nullopt).
  std::optional<Job> get(const std::string& id, const std::string& account_id) const;
  std::optional<Job> get_any(const std::string& id) const;
  // Jobs of an account, newest first.
  std::vector<Job> list(const std::string& account_id, int limit, int offset) const;
  int64_t count(const std::string& account_id) const;  // all jobs of the account
  // The account's current job, what AUTOMATIC1111's /progress and /interrupt act on: its
  // running job (the oldest, should it have several), else its oldest queued one; nullopt when
  // it has neither.
  std::optional<Job> current(const std::string& account_id) const;

  // Moves the next queued job to IN_PROGRESS and returns it (nullopt when none is queued).
  // On PostgreSQL the pick skips rows another node is claiming (FOR UPDATE SKIP LOCKED).
  std::optional<Job> claim_next(const ClaimOptions& options = {});
  // Queued jobs for `model`, oldest first: the candidates a worker may batch with a job.
  std::vector<Job> queued_for_model(const std::string& model, int limit) const;
  // Claims this queued job (as claim_next would); nullopt when it is no longer queued.
  std::optional<Job> claim(const std::string& id, const ClaimOptions& options = {});
  // Extends the lease of a job `worker_id` holds; false when it no longer holds it (the lease
  // ran out and the job was queued again, or it ended): the worker must drop its work.
  bool renew_lease(const std::string& id, const std::string& worker_id, int64_t lease_ms);
  // Jobs whose lease ran out before `now_ms` (their worker died) back to CREATED, or to
  // CANCELLED when their cancel had been asked for; returns how many were queued again.
  int requeue_expired(int64_t now_ms);
  // A worker stopping gracefully hands its running job back to the queue at once.
  bool release(const std::string& id, const std::string& worker_id);
  void set_progress(const std::string& id, int step, int total);
  void update_spec(const std::string& id, const JobSpec& spec);  // e.g. the seed chosen
  // A finished job never changes status again: these return false (and change nothing) when
  // the job is unknown or already finished, or, given a worker_id, when that worker no longer
  // holds it (so a job never succeeds twice, even when a worker outlives its lease).
  bool succeed(const std::string& id, const std::vector<OutputFile>& outputs,
               const std::string& worker_id = {});
  bool fail(const std::string& id, const std::string& error, const std::string& worker_id = {});
  // A queued job is cancelled at once; a running one is flagged and the worker stops it
  // within one step. False when the job is unknown to the account or already finished.
  bool cancel(const std::string& id, const std::string& account_id);
  bool cancel_requested(const std::string& id) const;
  bool mark_cancelled(const std::string& id, const std::string& worker_id = {});
  // At start-up: IN_PROGRESS jobs (the process died while running them) back to CREATED, in
  // their original queue order; one whose cancel had been requested becomes CANCELLED instead.
  // Returns how many were queued again.
  int requeue_interrupted();

  int64_t queued_count() const;
  std::map<JobStatus, int64_t> counts() const;

 private:
  Database& db_;
};

}  // namespace dd::service
