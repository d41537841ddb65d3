#include "service/pg_migrations.h"

#include <algorithm>
#include <set>

namespace dd::service {

namespace {

// The advisory lock every migrating node takes (any fixed 64-bit number; this one spells
// "dd-schem" in ASCII). Transaction-level: the server releases it at COMMIT or ROLLBACK, and
// when a node dies mid-migration, so a crash never leaves it held.
constexpr int64_t kMigrationLock = 0x64642d736368656d;

void check_declared(const std::vector<PgMigration>& migrations) {
  int previous = 0;
  for (const auto& migration : migrations) {
    if (migration.version <= previous)
      throw Error("schema migrations must be numbered from 1 in ascending order; version " +
                  std::to_string(migration.version) + " ('" + migration.name + "') follows " +
                  std::to_string(previous));
    if (migration.sql.empty())
      throw Error("schema migration " + std::to_string(migration.version) + " has no SQL");
    previous = migration.version;
  }
}

void lock_migrations(PgConnection& db) {
  db.exec("SELECT pg_advisory_xact_lock($1)", {static_cast<int64_t>(kMigrationLock)});
}

std::vector<int> recorded_versions(PgConnection& db) {
  const auto result = db.exec("SELECT version FROM schema_migrations ORDER BY version");
  std::vector<int> versions;
  for (int row = 0; row < result.rows(); ++row)
    versions.push_back(static_cast<int>(result.integer(row, 0)));
  return versions;
}

}  // namespace

std::vector<int> pg_schema_versions(PgConnection& db) {
  const auto exists = db.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists.boolean(0, 0)) return {};
  return recorded_versions(db);
}

std::vector<int> apply_pg_migrations(PgConnection& db, const std::vector<PgMigration>& migrations) {
  check_declared(migrations);
  std::set<int> declared;
  for (const auto& migration : migrations) declared.insert(migration.version);
  const int newest = migrations.empty() ? 0 : migrations.back().version;

  // The table itself is created under the lock too: two sessions running CREATE TABLE IF NOT
  // EXISTS at the same moment can both find it absent, and one then fails.
  db.transaction([&] {
    lock_migrations(db);
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    for (const int version : recorded_versions(db)) {
      if (declared.count(version)) continue;
      throw Error("the database's schema has version " + std::to_string(version) +
                  (version > newest ? ", newer than this diffusiond knows (up to " +
                                          std::to_string(newest) + "); upgrade diffusiond"
                                    : ", which this diffusiond does not know") +
                  "; refusing to use it");
    }
  });

  std::vector<int> applied;
  for (const auto& migration : migrations) {
    db.transaction([&] {
      // Under the lock, a node that waited sees what the node before it applied.
      lock_migrations(db);
      const auto done =
          db.exec("SELECT 1 FROM schema_migrations WHERE version = $1", {migration.version});
      if (done.rows() > 0) return;
      try {
        db.run_script(migration.sql);
      } catch (const PgError& error) {
        throw PgError(error.sqlstate(), "schema migration " + std::to_string(migration.version) +
                                            " ('" + migration.name + "') failed: " + error.what());
      }
      db.exec("INSERT INTO schema_migrations (version) VALUES ($1)", {migration.version});
      applied.push_back(migration.version);
    });
  }
  return applied;
}

}  // namespace dd::service
