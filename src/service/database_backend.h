#pragma once
// What Database (database.h) needs from a database engine: SQLite for one machine
// (sqlite_backend.cpp), PostgreSQL for several (pg_backend.cpp). Only database.cpp and the two
// backends include this; the stores see Database and Statement.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace dd::service {

enum class SqlDialect { Sqlite, Postgres };

// One prepared statement; parameters and columns numbered as in Statement.
class StatementBackend {
 public:
  virtual ~StatementBackend() = default;
  virtual void bind_text(int index, const std::string& value) = 0;
  virtual void bind_integer(int index, int64_t value) = 0;
  virtual void bind_real(int index, double value) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual std::string text(int column) const = 0;
  virtual int64_t integer(int column) const = 0;
  virtual double real(int column) const = 0;
  virtual bool is_null(int column) const = 0;
};

class DatabaseBackend {
 public:
  virtual ~DatabaseBackend() = default;
  virtual SqlDialect dialect() const = 0;
  virtual std::unique_ptr<StatementBackend> prepare(const std::string& sql) = 0;
  // Several ;-separated statements without parameters (schema SQL that is part of the binary).
  virtual void exec(const std::string& script) = 0;
  // Commits, or rolls back and rethrows; a transaction begun inside another joins it.
  virtual void transaction(const std::function<void()>& body) = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual int64_t changes() const = 0;
  virtual std::string description() const = 0;  // a file path, or a URL without its password
};

std::unique_ptr<DatabaseBackend> open_sqlite_backend(const std::string& path);
std::unique_ptr<DatabaseBackend> open_pg_backend(const std::string& url);

}  // namespace dd::service
