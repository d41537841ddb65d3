#pragma once
// The stores' database: SQLite (a file in the data directory, the single-machine default) or
// PostgreSQL (a postgresql:// URL, shared by API nodes and workers on several machines). Stores
// write their SQL once for both: statements number parameters ?1, ?2, ... (rewritten to $1, $2
// for PostgreSQL), bind typed values, and run in transactions that roll back on any exception;
// schema SQL uses the neutral spellings of ddl(). Every store takes `lock()` around its
// statements, so one Database can be shared by the HTTP threads and the worker.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "service/database_backend.h"
#include "util/error.h"

namespace dd::service {

// The database cannot be reached right now (PostgreSQL stopped or restarting, the network
// down). Nothing was changed; the HTTP layer answers 503 and the node reconnects by itself.
struct DatabaseUnavailable : Error {
  using Error::Error;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementBackend> backend) : backend_(std::move(backend)) {}

  // Parameters are numbered from 1, as in SQL's ?1, ?2, ...
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind_null(int index);
  Statement& bind_optional(int index, const std::optional<std::string>& value);

  // Advances to the next row: true while there is one. Errors are a dd::Error.
  bool step() { return backend_->step(); }
  // Runs a statement that returns no rows.
  void run();
  void reset() { backend_->reset(); }

  // Columns are numbered from 0. NULL reads as "" and 0; ask is_null() to tell.
  std::string text(int column) const { return backend_->text(column); }
  int64_t integer(int column) const { return backend_->integer(column); }
  double real(int column) const { return backend_->real(column); }
  bool is_null(int column) const { return backend_->is_null(column); }

 private:
  std::unique_ptr<StatementBackend> backend_;
};

class Database {
 public:
  // A SQLite file (created if needed; ":memory:" for tests) or a postgresql:// URL.
  explicit Database(const std::string& path_or_url);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  static bool is_postgres_url(const std::string& text);

  SqlDialect dialect() const { return backend_->dialect(); }
  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mutex_); }
  // Runs several ;-separated statements without parameters: only SQL that is part of the binary.
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  // Runs `body` in one transaction (SQLite: IMMEDIATE, so writers queue up; PostgreSQL: READ
  // COMMITTED, so statements guard their own preconditions); commits, or rolls back and
  // rethrows. A transaction begun inside another joins it.
  void transaction(const std::function<void()>& body);
  int64_t changes() const;
  // The file path, or the URL with its password replaced by ***.
  std::string path() const { return backend_->description(); }

  // Inside transaction(): waits until no other transaction, on any node, holds the section
  // `name` (PostgreSQL: a transaction-level advisory lock; SQLite's write transactions already
  // run one at a time).
  void exclusive(const std::string& name);
  // Wakes every node LISTENing on `channel` (PostgreSQL NOTIFY; inside a transaction, once it
  // commits) with `payload` (under 8000 bytes); nothing on SQLite, whose only node is woken
  // directly.
  void notify(const std::string& channel, const std::string& payload = "");
  // Schema SQL in the neutral spelling, for this dialect: "{serial_key}" is an auto-numbered
  // integer primary key, "{rowid}" at the start of a column list an insertion-ordered `rowid`
  // column (SQLite has it built in), and BIGINT columns hold 64-bit integers in both.
  std::string ddl(const std::string& neutral) const;

 private:
  std::unique_ptr<DatabaseBackend> backend_;
  std::recursive_mutex mutex_;
};

}  // namespace dd::service
