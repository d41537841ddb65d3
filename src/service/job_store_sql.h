#pragma once
// Row-level steps shared by the two files of JobStore (job_store.cpp, job_queue.cpp).
#include <initializer_list>
#include <string>

#include "service/database.h"
#include "service/job.h"

namespace dd::service {

// Appends a status change to the job's history.
void record_status(Database& db, const std::string& job_id, JobStatus status);
// Moves a job to `to` if its status is one of `from` (and, given a worker, that worker holds
// it), recording the change; false otherwise. Callers hold a transaction, so the check and the
// history row are one atomic step.
bool move_status(Database& db, const std::string& id, JobStatus to,
                 std::initializer_list<JobStatus> from, const std::string& worker_id = {});

}  // namespace dd::service
