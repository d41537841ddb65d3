// The several-machine database: one PostgreSQL connection per node (pg_connection.h), with
// statements written for SQLite's ?N placeholders rewritten to $N, and a lost connection
// reported as DatabaseUnavailable and re-opened on the next statement outside a transaction.
#include <charconv>
#include <optional>
#include <vector>

#include "service/database.h"
#include "service/pg_connection.h"

namespace dd::service {

namespace {

// ?1, ?2, ... outside quoted text become $1, $2, ...; a bare ? is refused (stores number theirs).
std::string dollar_placeholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      if (i + 1 >= sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9')
        throw Error("database: unnumbered ? placeholder in '" + sql + "'");
      out += '$';
      continue;
    }
    out += c;
  }
  return out;
}

// SQLSTATE classes meaning the server or the link went away, not that the statement was wrong.
bool connection_lost(const PgError& error) {
  const std::string& state = error.sqlstate();
  return state.empty() || state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" ||
         state == "57P03";
}

class PgBackend;

class PgStatement : public StatementBackend {
 public:
  PgStatement(PgBackend& backend, std::string sql) : backend_(backend), sql_(std::move(sql)) {}

  void bind_text(int index, const std::string& value) override { slot(index) = PgParam(value); }
  void bind_integer(int index, int64_t value) override { slot(index) = PgParam(value); }
  void bind_real(int index, double value) override { slot(index) = PgParam(value); }
  void bind_null(int index) override { slot(index) = PgParam(std::nullopt); }

  bool step() override;
  void reset() override {
    result_.reset();
    params_.clear();
  }

  std::string text(int column) const override {
    return is_null(column) ? std::string() : result_->text(row_, column);
  }
  int64_t integer(int column) const override {
    if (is_null(column)) return 0;
    const std::string value = result_->text(row_, column);
    if (value == "t" || value == "f") return value == "t";  // booleans read as SQLite's 1 and 0
    return result_->integer(row_, column);
  }
  double real(int column) const override {
    return is_null(column) ? 0.0 : result_->real(row_, column);
  }
  bool is_null(int column) const override {
    if (!result_ || row_ < 0 || row_ >= result_->rows())
      throw Error("database: no current row in '" + sql_ + "'");
    return result_->is_null(row_, column);
  }

 private:
  PgParam& slot(int index) {
    if (index < 1) throw Error("database: parameters are numbered from 1");
    if (static_cast<size_t>(index) > params_.size())
      params_.resize(static_cast<size_t>(index), PgParam(std::nullopt));
    return params_[static_cast<size_t>(index) - 1];
  }

  PgBackend& backend_;
  std::string sql_;
  std::vector<PgParam> params_;
  std::optional<PgResult> result_;
  int row_ = -1;
};

class PgBackend : public DatabaseBackend {
 public:
  explicit PgBackend(const std::string& url) : connection_(url) {}

  SqlDialect dialect() const override { return SqlDialect::Postgres; }
  std::unique_ptr<StatementBackend> prepare(const std::string& sql) override {
    return std::make_unique<PgStatement>(*this, dollar_placeholders(sql));
  }
  void exec(const std::string& script) override {
    guarded([&] { connection_.run_script(script); });
  }
  void transaction(const std::function<void()>& body) override {
    guarded([&] { connection_.transaction(body); });
  }
  int64_t changes() const override { return changes_; }
  std::string description() const override { return connection_.url(); }

  PgResult run(const std::string& sql, const std::vector<PgParam>& params) {
    std::optional<PgResult> result;
    guarded([&] { result.emplace(connection_.exec(sql, params)); });
    changes_ = result->affected();
    return std::move(*result);
  }

 private:
  // Runs `action` on a live connection, re-opening a lost one first (never inside a
  // transaction: its earlier statements died with the old connection); a lost connection is
  // DatabaseUnavailable, every other error passes unchanged.
  template <typename Action>
  void guarded(Action&& action) {
    auto guard = connection_.lock();
    if (!connection_.alive()) {
      if (connection_.in_transaction())
        throw DatabaseUnavailable("the connection to the database was lost mid-transaction");
      if (!connection_.reconnect())
        throw DatabaseUnavailable("the database (" + connection_.url() + ") is unreachable");
    }
    try {
      action();
    } catch (const PgError& error) {
      if (!connection_lost(error) && connection_.alive()) throw;
      throw DatabaseUnavailable(std::string("the database is unavailable: ") + error.what());
    }
  }

  PgConnection connection_;
  int64_t changes_ = 0;
};

bool PgStatement::step() {
  if (!result_) {
    result_.emplace(backend_.run(sql_, params_));
    row_ = 0;
  } else {
    ++row_;
  }
  return row_ < result_->rows();
}

}  // namespace

std::unique_ptr<DatabaseBackend> open_pg_backend(const std::string& url) {
  return std::make_unique<PgBackend>(url);
}

}  // namespace dd::service
