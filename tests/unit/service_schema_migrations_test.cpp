// Versioned schema migrations (schema_migrations.h) against a real PostgreSQL server, where
// several nodes may migrate one database at once: each migration runs once, in order, under
// concurrency; a failing one is rolled back and named; a newer schema is refused.
#include <gtest/gtest.h>

#include <latch>
#include <set>
#include <thread>

#include "postgres_server.h"
#include "service/schema_migrations.h"
#include "util/error.h"

namespace dd::service {
namespace {

using test::PostgresServer;

class SchemaMigrationsTest : public test::PostgresTest {
 protected:
  int64_t count(Database& db, const std::string& table) {
    auto query = db.prepare("SELECT count(*) FROM " + table);
    query.step();
    return query.integer(0);
  }
};

std::vector<Migration> three_migrations() {
  // Each depends on the one before: out of order, or twice, they fail.
  return {
      {1, "log table", "CREATE TABLE log (version integer, note text)"},
      {2, "first row", "INSERT INTO log VALUES (2, 'two'); INSERT INTO log VALUES (2, 'again')"},
      {3, "a column", "ALTER TABLE log ADD COLUMN extra integer; INSERT INTO log VALUES (3)"},
  };
}

TEST_F(SchemaMigrationsTest, MigrationsApplyOnceInOrderAndRecordTheirVersions) {
  Database db(url_);
  EXPECT_TRUE(schema_versions(db, "test").empty());
  auto migrations = three_migrations();
  EXPECT_EQ(apply_migrations(db, "test", migrations), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(schema_versions(db, "test"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(count(db, "log"), 3);
  EXPECT_EQ(count(db, "schema_migrations WHERE applied_ms > 0"), 3);

  EXPECT_TRUE(apply_migrations(db, "test", migrations).empty());  // nothing new
  EXPECT_EQ(count(db, "log"), 3);

  // A later binary adds migration 5: only it runs.
  migrations.push_back({5, "another row", "INSERT INTO log VALUES (5)"});
  EXPECT_EQ(apply_migrations(db, "test", migrations), (std::vector<int>{5}));
  EXPECT_EQ(schema_versions(db, "test"), (std::vector<int>{1, 2, 3, 5}));
}

TEST_F(SchemaMigrationsTest, FailingMigrationIsRolledBackAndNamed) {
  Database db(url_);
  auto migrations = three_migrations();
  migrations.push_back({4, "broken", "INSERT INTO log VALUES (4); SELECT * FROM no_such_table"});
  try {
    apply_migrations(db, "test", migrations);
    FAIL() << "a failing migration was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no_such_table"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("migration 4 ('broken')"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(schema_versions(db, "test"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(count(db, "log WHERE version = 4"), 0);
}

TEST_F(SchemaMigrationsTest, MalformedMigrationListsAreRefused) {
  Database db(url_);
  EXPECT_THROW(apply_migrations(db, "test", {{2, "b", "SELECT 1"}, {1, "a", "SELECT 1"}}), Error);
  EXPECT_THROW(apply_migrations(db, "test", {{1, "a", "SELECT 1"}, {1, "a", "SELECT 1"}}), Error);
  EXPECT_THROW(apply_migrations(db, "test", {{0, "zero", "SELECT 1"}}), Error);
  EXPECT_THROW(apply_migrations(db, "test", {{1, "empty", ""}}), Error);
  EXPECT_TRUE(schema_versions(db, "test").empty());  // refused before touching the database
}

TEST_F(SchemaMigrationsTest, DatabaseNewerThanTheBinaryIsRefused) {
  Database db(url_);
  apply_migrations(db, "test", three_migrations());
  db.exec("INSERT INTO schema_migrations (component, version, applied_ms) VALUES ('test', 99, 1)");
  auto with_four = three_migrations();
  with_four.push_back({4, "not yet", "INSERT INTO log VALUES (4)"});
  try {
    apply_migrations(db, "test", with_four);
    FAIL() << "a database with an unknown schema version was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("99"), std::string::npos) << message;
    EXPECT_NE(message.find("newer"), std::string::npos) << message;
  }
  EXPECT_EQ(count(db, "log WHERE version = 4"), 0);  // nothing applied on a refused database
}

TEST_F(SchemaMigrationsTest, ConcurrentNodesApplyEachMigrationExactlyOnce) {
  // Several rounds, each on a fresh database, so the two nodes meet at different points.
  for (int round = 0; round < 4; ++round) {
    const std::string url = round == 0 ? url_ : server_->create_database();
    constexpr int kNodes = 3;
    std::vector<std::vector<int>> applied(kNodes);
    std::vector<std::string> errors(kNodes);
    std::latch ready(kNodes);
    std::vector<std::thread> nodes;
    for (int node = 0; node < kNodes; ++node) {
      nodes.emplace_back([&, node] {
        try {
          Database db(url);
          ready.arrive_and_wait();
          applied[node] = apply_migrations(db, "test", three_migrations());
        } catch (const std::exception& error) {
          errors[node] = error.what();
        }
      });
    }
    for (auto& node : nodes) node.join();
    std::multiset<int> all;
    for (int node = 0; node < kNodes; ++node) {
      EXPECT_EQ(errors[node], "") << "node " << node << " in round " << round;
      all.insert(applied[node].begin(), applied[node].end());
    }
    EXPECT_EQ(all, (std::multiset<int>{1, 2, 3})) << "round " << round;
    Database db(url);
    EXPECT_EQ(count(db, "log"), 3) << "round " << round;
    EXPECT_EQ(schema_versions(db, "test"), (std::vector<int>{1, 2, 3}));
  }
}

}  // namespace
}  // namespace dd::service
