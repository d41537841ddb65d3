#pragma once
// A small RAII layer over SQLite: one connection in WAL mode (readers never block the writer,
// and a crash never leaves a half-written transaction), prepared statements with typed binds,
// and transactions that roll back on any exception. Every store takes `lock()` around its
// statements, so one Database can be shared by the HTTP threads and the worker.
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace dd::service {

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are numbered from 1, as in SQL's ?1, ?2, ...
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind_null(int index);
  Statement& bind_optional(int index, const std::optional<std::string>& value);

  // Advances to the next row: true while there is one. Errors are a dd::Error.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();

  // Columns are numbered from 0.
  std::string text(int column) const;
  int64_t integer(int column) const;
  double real(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens (creating if needed) the database file; ":memory:" for tests.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mutex_); }
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  // Runs `body` in one IMMEDIATE transaction; commits, or rolls back and rethrows.
  void transaction(const std::function<void()>& body);
  int64_t changes() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mutex_;
};

}  // namespace dd::service
