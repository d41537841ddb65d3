#pragma once
// Versioned schema migrations for a PostgreSQL database. The caller declares its migrations
// (numbered, in ascending order); the database records each applied one in
// schema_migrations(version integer primary key, applied_at timestamptz). Each migration runs
// once, in its own transaction, under a transaction-level advisory lock, so nodes that start
// together against one database never apply a migration twice, and a migration that fails leaves
// nothing behind. A database that records a version this binary does not declare (written by a
// newer diffusiond) is refused rather than used with a schema the binary does not understand.
#include <string>
#include <vector>

#include "service/pg_connection.h"

namespace dd::service {

struct PgMigration {
  int version = 0;   // 1, 2, 3, ...: the order they run in; never renumbered once released
  std::string name;  // a few words for messages ("jobs and statuses")
  std::string sql;   // one or more ;-separated statements; no BEGIN/COMMIT of its own
};

// Applies, in order, each of `migrations` the database has not recorded yet; returns the
// versions this call applied (empty when the schema was already current). Throws a dd::Error
// when the list is malformed, when the database records an unknown version, or when a migration
// fails (naming it; that migration is rolled back, earlier ones stay applied).
std::vector<int> apply_pg_migrations(PgConnection& db, const std::vector<PgMigration>& migrations);

// The versions the database records, ascending (empty before the first migration).
std::vector<int> pg_schema_versions(PgConnection& db);

}  // namespace dd::service
