#pragma once
// Versioned schema migrations, the same for SQLite and PostgreSQL. Each store declares its
// migrations (numbered from 1, ascending, never renumbered once released) under its own
// component name; the database records each applied one in schema_migrations(component,
// version, applied_ms). Each runs once, in its own transaction, inside the section
// "schema-migrations" (database.h `exclusive`), so nodes that start together against one
// PostgreSQL database never apply a migration twice, and one that fails leaves nothing behind.
// A database that records a version this binary does not declare (written by a newer
// diffusiond) is refused rather than used with a schema the binary does not understand.
#include <string>
#include <vector>

#include "service/database.h"

namespace dd::service {

struct Migration {
  int version = 0;   // 1, 2, 3, ...: the order they run in
  std::string name;  // a few words for messages ("jobs and statuses")
  std::string sql;   // neutral schema SQL (Database::ddl), ;-separated, no BEGIN/COMMIT
};

// Applies, in order, each of `migrations` of `component` the database has not recorded yet;
// returns the versions this call applied (empty when the schema was already current). Throws a
// dd::Error when the list is malformed, when the database records an unknown version of the
// component, or when a migration fails (naming it; it is rolled back, earlier ones stay).
std::vector<int> apply_migrations(Database& db, const std::string& component,
                                  const std::vector<Migration>& migrations);

// The versions of `component` the database records, ascending (empty before its first).
std::vector<int> schema_versions(Database& db, const std::string& component);

}  // namespace dd::service
