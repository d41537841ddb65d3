#include "service/schema_migrations.h"

#include <chrono>
#include <set>

namespace dd::service {

namespace {

constexpr const char* kSection = "schema-migrations";

void check_declared(const std::string& component, const std::vector<Migration>& migrations) {
  int previous = 0;
  for (const auto& migration : migrations) {
    if (migration.version <= previous)
      throw Error(component + ": schema migrations must be numbered from 1 in ascending order; " +
                  "version " + std::to_string(migration.version) + " ('" + migration.name +
                  "') follows " + std::to_string(previous));
    if (migration.sql.empty())
      throw Error(component + ": schema migration " + std::to_string(migration.version) +
                  " has no SQL");
    previous = migration.version;
  }
}

// The table itself is created inside the section too: two PostgreSQL sessions running CREATE
// TABLE IF NOT EXISTS at the same moment can both find it absent, and one then fails.
void create_table(Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version BIGINT NOT "
      "NULL, applied_ms BIGINT NOT NULL, PRIMARY KEY (component, version))");
}

std::vector<int> recorded_versions(Database& db, const std::string& component) {
  auto query =
      db.prepare("SELECT version FROM schema_migrations WHERE component = ?1 ORDER BY version");
  query.bind(1, component);
  std::vector<int> versions;
  while (query.step()) versions.push_back(static_cast<int>(query.integer(0)));
  return versions;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<int> schema_versions(Database& db, const std::string& component) {
  std::vector<int> versions;
  db.transaction([&] {
    db.exclusive(kSection);
    create_table(db);
    versions = recorded_versions(db, component);
  });
  return versions;
}

std::vector<int> apply_migrations(Database& db, const std::string& component,
                                  const std::vector<Migration>& migrations) {
  check_declared(component, migrations);
  std::set<int> declared;
  for (const auto& migration : migrations) declared.insert(migration.version);
  const int newest = migrations.empty() ? 0 : migrations.back().version;

  auto guard = db.lock();
  for (const int version : schema_versions(db, component)) {
    if (declared.count(version)) continue;
    throw Error("the database's " + component + " schema has version " + std::to_string(version) +
                (version > newest ? ", newer than this diffusiond knows (up to " +
                                        std::to_string(newest) + "); upgrade diffusiond"
                                  : ", which this diffusiond does not know") +
                "; refusing to use it");
  }

  std::vector<int> applied;
  for (const auto& migration : migrations) {
    db.transaction([&] {
      // Inside the section, a node that waited sees what the node before it applied.
      db.exclusive(kSection);
      auto done =
          db.prepare("SELECT 1 FROM schema_migrations WHERE component = ?1 AND version = ?2");
      done.bind(1, component).bind(2, migration.version);
      if (done.step()) return;
      try {
        db.exec(db.ddl(migration.sql));
      } catch (const DatabaseUnavailable&) {
        throw;
      } catch (const Error& error) {
        throw Error(component + ": schema migration " + std::to_string(migration.version) + " ('" +
                    migration.name + "') failed: " + error.what());
      }
      db.prepare(
            "INSERT INTO schema_migrations (component, version, applied_ms) VALUES (?1, ?2, ?3)")
          .bind(1, component)
          .bind(2, migration.version)
          .bind(3, now_ms())
          .run();
      applied.push_back(migration.version);
    });
  }
  return applied;
}

}  // namespace dd::service
