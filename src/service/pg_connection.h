#pragma once
// A small RAII layer over libpq, the PostgreSQL counterpart of database.h: one connection opened
// from a `postgresql://` URL, parameterised statements only (every value travels as a text
// parameter of PQexecParams, never spliced into SQL), typed accessors on results, and
// transactions that roll back on any exception. Errors carry PostgreSQL's message and SQLSTATE,
// so callers can tell a unique violation or a serialization failure from a broken connection.
// A PGconn must not be used by two threads at once: every call takes the connection's lock,
// and `lock()` lets a caller hold it across several statements, as with Database.
#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace dd::service {

// An error reported by the PostgreSQL server (or by libpq for a statement): the message names
// the statement, `sqlstate()` is the five-character SQLSTATE ("23505" for a unique violation),
// or "" when the server sent none (a lost connection).
class PgError : public Error {
 public:
  PgError(std::string sqlstate, const std::string& message)
      : Error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// Checks that `url` is a postgresql:// (or postgres://) URL libpq accepts; throws a dd::Error
// naming what is wrong, with any password replaced by "***".
void validate_pg_url(const std::string& url);
// `url` with its password (user:PASSWORD@ or ?password=) replaced by "***", for messages and logs.
std::string redact_pg_url(const std::string& url);

// One statement parameter: a value in PostgreSQL's text input format, or NULL.
class PgParam {
 public:
  PgParam(std::string text) : value_(std::move(text)) {}  // NOLINT: implicit by design
  PgParam(const char* text) : value_(std::string(text)) {}
  PgParam(int64_t value) : value_(std::to_string(value)) {}
  PgParam(int value) : value_(std::to_string(value)) {}
  PgParam(double value);
  PgParam(bool value) : value_(value ? "true" : "false") {}
  PgParam(std::nullopt_t) {}
  PgParam(const std::optional<std::string>& value) : value_(value) {}
  // Bytes for a bytea column, in bytea's hex input format (\x0a1b...).
  static PgParam bytes(std::string_view data);

  const std::optional<std::string>& value() const { return value_; }

 private:
  std::optional<std::string> value_;
};

// The rows of one statement. Rows and columns are numbered from 0. Accessors throw a dd::Error
// when the value is NULL (ask `is_null` first) or not of the asked type.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  ~PgResult() { PQclear(result_); }
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const { return PQntuples(result_); }
  int columns() const { return PQnfields(result_); }
  // The column numbered by its name; a dd::Error when there is none.
  int column(const std::string& name) const;
  // Rows inserted, updated or deleted by the statement (0 for other statements).
  int64_t affected() const;

  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  int64_t integer(int row, int column) const;
  double real(int row, int column) const;
  bool boolean(int row, int column) const;
  // A bytea column (PostgreSQL's hex output format) as its bytes.
  std::string bytes(int row, int column) const;

 private:
  const char* checked(int row, int column) const;
  PGresult* result_;
};

class PgConnection {
 public:
  // Connects; a dd::Error (password redacted) when the URL is invalid or the server refuses.
  explicit PgConnection(const std::string& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mutex_); }
  // Runs one statement with $1, $2, ... bound to `params`; a PgError when it fails.
  PgResult exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs several ;-separated statements without parameters. Only for SQL that is part of the
  // binary (schema migrations), never for anything built from input.
  void run_script(const std::string& sql);
  // Runs `body` in one transaction; commits, or rolls back and rethrows. A transaction begun
  // inside another joins it (the outer one commits or rolls back the whole).
  void transaction(const std::function<void()>& body);
  // Whether the connection to the server is still up.
  bool alive() const { return PQstatus(conn_) == CONNECTION_OK; }
  // Connects again with the same parameters (after the server restarted); true when that worked.
  bool reconnect();
  bool in_transaction() const { return in_transaction_; }
  // Waits up to `timeout_ms` for NOTIFYs on the channels this connection LISTENs to and returns
  // the payloads of every one that arrived (empty after the timeout). A dd::Error when the
  // connection is lost. Only for a connection kept for listening: it holds the connection's
  // lock while it waits.
  std::vector<std::string> wait_for_notifications(int timeout_ms);
  // The URL it was opened with, password redacted.
  const std::string& url() const { return redacted_url_; }

 private:
  [[noreturn]] void fail(PGresult* result, const std::string& sql);
  PGconn* conn_ = nullptr;
  std::string redacted_url_;
  std::vector<std::string> secrets_;  // password spellings scrubbed from libpq's messages
  std::recursive_mutex mutex_;
  bool in_transaction_ = false;
};

}  // namespace dd::service
