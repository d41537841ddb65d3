#include "service/pg_connection.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "service/transaction_steps.h"

namespace dd::service {

namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};

// Where a URL's password lies: the spans (offset, length) of its raw spellings in the URL.
std::vector<std::pair<size_t, size_t>> password_spans(const std::string& url) {
  std::vector<std::pair<size_t, size_t>> spans;
  // Any scheme (a mistyped mysql:// URL carries a password just the same); without one, a
  // key=value string may still carry password=..., looked for below.
  const size_t separator = url.find("://");
  size_t start = 0;
  if (separator != std::string::npos && separator < url.find_first_of("/?@")) {
    start = separator + 3;
    const size_t authority_end = std::min(url.find_first_of("/?", start), url.size());
    const size_t at = url.rfind('@', authority_end - 1);
    if (at != std::string::npos && at >= start) {
      const size_t colon = url.find(':', start);
      if (colon < at) spans.emplace_back(colon + 1, at - colon - 1);
    }
  }
  // password=VALUE in a query string (or a key=value string): up to the next & or space.
  for (size_t pos = url.find("password=", start); pos != std::string::npos;
       pos = url.find("password=", pos + 1)) {
    if (pos > 0 && std::isalnum(static_cast<unsigned char>(url[pos - 1]))) continue;  // sslpassword
    const size_t value = pos + std::strlen("password=");
    const size_t end = std::min(url.find_first_of("& ", value), url.size());
    spans.emplace_back(value, end - value);
  }
  return spans;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr ==
            text.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string scrub(std::string message, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t pos = message.find(secret); pos != std::string::npos;
         pos = message.find(secret, pos + 3))
      message.replace(pos, secret.size(), "***");
  }
  return message;
}

std::vector<std::string> secrets_of(const std::string& url) {
  std::vector<std::string> secrets;
  for (const auto& [offset, length] : password_spans(url)) {
    secrets.push_back(url.substr(offset, length));
    secrets.push_back(percent_decode(url.substr(offset, length)));
  }
  return secrets;
}

// libpq's messages end with a newline; ours are one line.
std::string trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "unknown error" : text;
}

// SQL in messages is cut short: a statement can be long, and it says enough in its first line.
std::string excerpt(const std::string& sql) {
  std::string out = sql.substr(0, std::min(sql.find('\n'), size_t{120}));
  return out.size() < sql.size() ? out + "..." : out;
}

void ignore_notice(void*, const char*) {}

}  // namespace

std::string redact_pg_url(const std::string& url) {
  std::string out = url;
  auto spans = password_spans(url);
  // Replace from the back, so that earlier offsets stay valid.
  std::sort(spans.rbegin(), spans.rend());
  for (const auto& [offset, length] : spans) out.replace(offset, length, "***");
  return out;
}

void validate_pg_url(const std::string& url) {
  bool has_scheme = false;
  for (const auto scheme : kSchemes) has_scheme |= url.compare(0, scheme.size(), scheme) == 0;
  if (!has_scheme)
    throw Error("database URL '" + redact_pg_url(url) +
                "' must start with postgresql:// (for example "
                "postgresql://user:password@host:5432/diffusiond)");
  for (const char c : url)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw Error("database URL '" + redact_pg_url(url) + "' contains a control character");
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &message);
  if (!options) {
    const std::string why = scrub(trimmed(message), secrets_of(url));
    PQfreemem(message);
    throw Error("database URL '" + redact_pg_url(url) + "' is not valid: " + why);
  }
  PQconninfoFree(options);
}

PgParam::PgParam(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  value_ = std::string(buffer, result.ptr);
}

PgParam PgParam::bytes(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "\\x";
  text.reserve(2 + 2 * data.size());
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    text += kHex[byte >> 4];
    text += kHex[byte & 15];
  }
  return PgParam(std::move(text));
}

int PgResult::column(const std::string& name) const {
  const int index = PQfnumber(result_, name.c_str());
  if (index < 0) throw Error("postgresql: the result has no column '" + name + "'");
  return index;
}

int64_t PgResult::affected() const {
  const char* text = PQcmdTuples(result_);
  int64_t value = 0;
  std::from_chars(text, text + std::strlen(text), value);
  return value;
}

bool PgResult::is_null(int row, int column) const {
  if (row < 0 || row >= rows() || column < 0 || column >= columns())
    throw Error("postgresql: no value at row " + std::to_string(row) + ", column " +
                std::to_string(column));
  return PQgetisnull(result_, row, column) != 0;
}

const char* PgResult::checked(int row, int column) const {
  if (is_null(row, column))
    throw Error(std::string("postgresql: column '") + PQfname(result_, column) + "' is NULL");
  return PQgetvalue(result_, row, column);
}

std::string PgResult::text(int row, int column) const {
  const char* value = checked(row, column);
  return std::string(value, PQgetlength(result_, row, column));
}

std::optional<std::string> PgResult::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}

int64_t PgResult::integer(int row, int column) const {
  const std::string value = text(row, column);
  int64_t out = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (error != std::errc() || end != value.data() + value.size())
    throw Error(std::string("postgresql: column '") + PQfname(result_, column) + "' value '" +
                excerpt(value) + "' is not an integer");
  return out;
}

double PgResult::real(int row, int column) const {
  const std::string value = text(row, column);
  double out = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (error != std::errc() || end != value.data() + value.size())
    throw Error(std::string("postgresql: column '") + PQfname(result_, column) + "' value '" +
                excerpt(value) + "' is not a number");
  return out;
}

bool PgResult::boolean(int row, int column) const {
  const std::string value = text(row, column);
  if (value == "t") return true;
  if (value == "f") return false;
  throw Error(std::string("postgresql: column '") + PQfname(result_, column) + "' value '" +
              excerpt(value) + "' is not a boolean");
}

std::string PgResult::bytes(int row, int column) const {
  const std::string value = text(row, column);
  if (value.size() % 2 != 0 || value.compare(0, 2, "\\x") != 0)
    throw Error(std::string("postgresql: column '") + PQfname(result_, column) +
                "' is not bytea in hex format");
  std::string out(value.size() / 2 - 1, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned byte = 0;
    const char* digits = value.data() + 2 + 2 * i;
    if (std::from_chars(digits, digits + 2, byte, 16).ptr != digits + 2)
      throw Error(std::string("postgresql: column '") + PQfname(result_, column) +
                  "' is not bytea in hex format");
    out[i] = static_cast<char>(byte);
  }
  return out;
}

PgConnection::PgConnection(const std::string& url)
    : redacted_url_(redact_pg_url(url)), secrets_(secrets_of(url)) {
  validate_pg_url(url);
  conn_ = PQconnectdb(url.c_str());
  if (!conn_) throw Error("postgresql: out of memory connecting to " + redacted_url_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string why = scrub(trimmed(PQerrorMessage(conn_)), secrets_);
    PQfinish(conn_);
    throw Error("postgresql: cannot connect to " + redacted_url_ + ": " + why);
  }
  // Notices ("there is no transaction in progress", ...) would go to stderr; they are not errors.
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::reconnect() {
  auto guard = lock();
  PQreset(conn_);
  if (!alive()) return false;
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  return true;
}

void PgConnection::fail(PGresult* result, const std::string& sql) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  std::string message = primary ? trimmed(primary) : trimmed(PQerrorMessage(conn_));
  if (detail) message += " (" + trimmed(detail) + ")";
  const std::string sqlstate = state ? state : "";
  PQclear(result);
  throw PgError(sqlstate, "postgresql: " + scrub(message, secrets_) +
                              (sqlstate.empty() ? "" : " [SQLSTATE " + sqlstate + "]") + " in '" +
                              excerpt(sql) + "'");
}

PgResult PgConnection::exec(const std::string& sql, const std::vector<PgParam>& params) {
  auto guard = lock();
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.size());
  for (const auto& param : params) {
    values.push_back(param.value() ? param.value()->c_str() : nullptr);
    lengths.push_back(param.value() ? static_cast<int>(param.value()->size()) : 0);
  }
  // Text parameters are NUL-terminated for the server: one with a NUL inside would be cut short.
  for (const auto& param : params)
    if (param.value() && param.value()->find('\0') != std::string::npos)
      throw Error("postgresql: a text parameter contains a NUL byte (use PgParam::bytes) in '" +
                  excerpt(sql) + "'");
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                  values.data(), lengths.data(), nullptr, /*resultFormat=*/0);
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result, sql);
  return PgResult(result);
}

std::vector<std::string> PgConnection::wait_for_notifications(int timeout_ms) {
  auto guard = lock();
  std::vector<std::string> payloads;
  auto drain = [&] {
    while (PGnotify* notice = PQnotifies(conn_)) {
      payloads.emplace_back(notice->extra ? notice->extra : "");
      PQfreemem(notice);
    }
  };
  auto consume = [this] {
    if (!PQconsumeInput(conn_))
      throw Error("postgresql: the listening connection to " + redacted_url_ + " was lost");
  };
  consume();
  drain();
  if (!payloads.empty()) return payloads;
  pollfd entry{PQsocket(conn_), POLLIN, 0};
  if (::poll(&entry, 1, timeout_ms) <= 0) return payloads;  // timed out, or a signal
  consume();
  drain();
  return payloads;
}

void PgConnection::run_script(const std::string& sql) {
  auto guard = lock();
  PGresult* result = PQexec(conn_, sql.c_str());
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result, sql);
  PQclear(result);
}

void PgConnection::transaction(const std::function<void()>& body) {
  auto guard = lock();
  // After a failed COMMIT the server has already ended the transaction; ROLLBACK is then a
  // harmless no-op.
  run_transaction(
      in_transaction_, body, [this] { exec("BEGIN"); }, [this] { exec("COMMIT"); },
      [this] { PQclear(PQexec(conn_, "ROLLBACK")); });
}

}  // namespace dd::service
