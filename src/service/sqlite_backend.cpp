// The single-machine database: one SQLite connection in WAL mode (readers never block the
// writer, and a crash never leaves a half-written transaction).
#include <sqlite3.h>

#include "service/database_backend.h"
#include "service/transaction_steps.h"
#include "util/error.h"

namespace dd::service {

namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw Error("database: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

class SqliteStatement : public StatementBackend {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      fail(db, "cannot prepare '" + sql + "'");
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind_text(int index, const std::string& value) override {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                            SQLITE_TRANSIENT));
  }
  void bind_integer(int index, int64_t value) override {
    check(sqlite3_bind_int64(stmt_, index, value));
  }
  void bind_real(int index, double value) override {
    check(sqlite3_bind_double(stmt_, index, value));
  }
  void bind_null(int index) override { check(sqlite3_bind_null(stmt_, index)); }

  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "step");
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string text(int column) const override {
    const auto* data = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
  }
  int64_t integer(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const override { return sqlite3_column_double(stmt_, column); }
  bool is_null(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) fail(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteBackend : public DatabaseBackend {
 public:
  explicit SqliteBackend(const std::string& path) : path_(path) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error("database: cannot open " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");  // WAL + NORMAL: durable across process crashes
    exec("PRAGMA foreign_keys=ON");
  }
  ~SqliteBackend() override { sqlite3_close(db_); }

  SqlDialect dialect() const override { return SqlDialect::Sqlite; }
  std::unique_ptr<StatementBackend> prepare(const std::string& sql) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }
  void exec(const std::string& sql) override {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message ? message : "unknown error";
      sqlite3_free(message);
      throw Error("database: " + text + " in '" + sql + "'");
    }
  }
  void transaction(const std::function<void()>& body) override {
    run_transaction(
        in_transaction_, body, [this] { exec("BEGIN IMMEDIATE"); }, [this] { exec("COMMIT"); },
        [this] { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); });
  }
  int64_t changes() const override { return sqlite3_changes(db_); }
  std::string description() const override { return path_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  bool in_transaction_ = false;
};

}  // namespace

std::unique_ptr<DatabaseBackend> open_sqlite_backend(const std::string& path) {
  return std::make_unique<SqliteBackend>(path);
}

}  // namespace dd::service
