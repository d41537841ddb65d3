// PgConnection against a real PostgreSQL server (postgres_server.h): values round-trip exactly
// through parameters, errors carry SQLSTATE, transactions roll back; URLs are validated without
// ever echoing a password.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "postgres_server.h"
#include "service/pg_connection.h"
#include "util/error.h"

namespace dd::service {
namespace {

using test::PostgresServer;

class PgTest : public test::PostgresTest {
 protected:
  int64_t count(PgConnection& db, const std::string& table) {
    return db.exec("SELECT count(*) FROM " + table).integer(0, 0);
  }
};

TEST_F(PgTest, ValuesRoundTripThroughParameters) {
  PgConnection db(url_);
  db.exec(
      "CREATE TABLE v (s text, i bigint, d double precision, n text, b bytea, f boolean, "
      "k integer)");
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte) all_bytes += static_cast<char>(byte);
  const int64_t big = std::numeric_limits<int64_t>::max();
  const int64_t small = std::numeric_limits<int64_t>::min();
  const double third = 1.0 / 3.0;
  db.exec("INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {"text", big, third, std::nullopt, PgParam::bytes(all_bytes), true, 42});
  db.exec("INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {"", small, 1e300, std::optional<std::string>("x"), PgParam::bytes(""), false, -7});

  const auto rows = db.exec("SELECT s, i, d, n, b, f, k FROM v ORDER BY i DESC");
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_EQ(rows.columns(), 7);
  EXPECT_EQ(rows.text(0, 0), "text");
  EXPECT_EQ(rows.integer(0, 1), big);
  EXPECT_EQ(rows.real(0, 2), third);  // exact: both sides use the shortest round-trip form
  EXPECT_TRUE(rows.is_null(0, 3));
  EXPECT_EQ(rows.optional_text(0, 3), std::nullopt);
  EXPECT_THROW(rows.text(0, 3), Error);  // a NULL is not silently ""
  EXPECT_EQ(rows.bytes(0, 4), all_bytes);
  EXPECT_TRUE(rows.boolean(0, 5));
  EXPECT_EQ(rows.integer(0, 6), 42);

  EXPECT_EQ(rows.text(1, 0), "");
  EXPECT_FALSE(rows.is_null(1, 0));
  EXPECT_EQ(rows.integer(1, 1), small);
  EXPECT_EQ(rows.real(1, 2), 1e300);
  EXPECT_EQ(rows.optional_text(1, 3), "x");
  EXPECT_EQ(rows.bytes(1, 4), "");
  EXPECT_FALSE(rows.boolean(1, 5));
  EXPECT_EQ(rows.integer(1, rows.column("k")), -7);

  EXPECT_THROW(rows.column("missing"), Error);
  EXPECT_THROW(rows.integer(0, 0), Error);  // "text" is not an integer
  EXPECT_THROW(rows.text(2, 0), Error);     // no such row
  EXPECT_EQ(db.exec("UPDATE v SET k = k + 1").affected(), 2);
}

TEST_F(PgTest, HostileStringIsStoredAndReadBackUnchanged) {
  PgConnection db(url_);
  db.exec("CREATE TABLE h (id integer PRIMARY KEY, body text)");
  const std::string piece =
      "'; DROP TABLE h; -- \"quoted\" \\backslash\\ \\x00 $1 $$dollar$$ E'\\n' \t\r\n"
      "caf\xC3\xA9 \xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x99\x82 %s %n ";
  std::string hostile;
  while (hostile.size() < (1u << 20)) hostile += piece;
  db.exec("INSERT INTO h VALUES ($1, $2)", {1, hostile});
  const auto back = db.exec("SELECT body, octet_length(body) FROM h WHERE id = $1", {1});
  ASSERT_EQ(back.rows(), 1);
  EXPECT_EQ(back.text(0, 0), hostile);
  EXPECT_EQ(back.integer(0, 1), static_cast<int64_t>(hostile.size()));
  EXPECT_EQ(count(db, "h"), 1);  // the table is still there: nothing was executed as SQL

  // A NUL cannot travel in a text parameter; it is refused rather than cut short.
  EXPECT_THROW(db.exec("INSERT INTO h VALUES (2, $1)", {std::string("a\0b", 3)}), Error);
}

TEST_F(PgTest, SqlErrorsCarryMessageAndSqlstate) {
  PgConnection db(url_);
  db.exec("CREATE TABLE u (id integer PRIMARY KEY)");
  db.exec("INSERT INTO u VALUES ($1)", {1});
  try {
    db.exec("INSERT INTO u VALUES ($1)", {1});
    FAIL() << "a duplicate key was accepted";
  } catch (const PgError& error) {
    EXPECT_EQ(error.sqlstate(), "23505");
    EXPECT_NE(std::string(error.what()).find("duplicate key"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("23505"), std::string::npos) << error.what();
  }
  try {
    db.exec("SELEC 1");
    FAIL() << "a syntax error was accepted";
  } catch (const PgError& error) {
    EXPECT_EQ(error.sqlstate(), "42601");
  }
  EXPECT_THROW(db.exec("SELECT * FROM no_such_table"), Error);
  // The connection stays usable after errors.
  EXPECT_EQ(db.exec("SELECT $1::integer + 1", {41}).integer(0, 0), 42);
}

TEST_F(PgTest, TransactionsCommitOrRollBackOnAnyException) {
  PgConnection db(url_);
  PgConnection other(url_);
  db.exec("CREATE TABLE t (id integer PRIMARY KEY)");

  EXPECT_THROW(db.transaction([&] {
    db.exec("INSERT INTO t VALUES ($1)", {1});
    throw std::runtime_error("the caller changed its mind");
  }),
               std::runtime_error);
  EXPECT_EQ(count(db, "t"), 0);

  // A failing statement rolls back what the transaction did before it.
  EXPECT_THROW(db.transaction([&] {
    db.exec("INSERT INTO t VALUES ($1)", {2});
    db.exec("INSERT INTO t VALUES ($1)", {2});
  }),
               PgError);
  EXPECT_EQ(count(db, "t"), 0);

  // A nested transaction joins the outer one: its exception undoes both.
  EXPECT_THROW(db.transaction([&] {
    db.exec("INSERT INTO t VALUES ($1)", {3});
    db.transaction([&] { throw Error("inner"); });
  }),
               Error);
  EXPECT_EQ(count(other, "t"), 0);

  db.transaction([&] {
    db.exec("INSERT INTO t VALUES ($1)", {4});
    db.exec("INSERT INTO t VALUES ($1)", {5});
  });
  EXPECT_EQ(count(other, "t"), 2);  // committed: another connection sees it
}

TEST(PgUrl, BadUrlsAreClearErrorsWithoutThePassword) {
  const std::vector<std::string> bad = {
      "mysql://alice:hunter2secret@db.example/diffusiond",
      "host=db.example password=hunter2secret",
      "postgresql://alice:hunter2secret@db.example/diffusiond?no_such_option=1",
      "postgresql://alice@db.example/diffusiond?password=hunter2secret&no_such_option=1",
      "postgresql://alice:hunter2%73ecret@db.example/diffusiond?no_such_option=1",
      std::string("postgresql://alice:hunter2secret@db.example/\ndiffusiond"),
  };
  for (const auto& url : bad) {
    try {
      validate_pg_url(url);
      ADD_FAILURE() << "accepted: " << redact_pg_url(url);
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
      EXPECT_NE(message.find("***"), std::string::npos) << message;
    }
    EXPECT_THROW(PgConnection{url}, Error);
  }
  EXPECT_EQ(redact_pg_url("postgresql://alice:p%40ss@db:5432/dd?sslmode=require"),
            "postgresql://alice:***@db:5432/dd?sslmode=require");
  EXPECT_EQ(redact_pg_url("postgresql://alice@db/dd"), "postgresql://alice@db/dd");
  EXPECT_NO_THROW(validate_pg_url("postgresql://alice:secret@db.example:5432/dd"));
}

TEST(PgUrl, UnreachableServerIsAClearErrorWithoutThePassword) {
  // A socket folder that does not exist: the connection fails at once, without the network.
  const std::string url =
      "postgresql://alice:hunter2secret@/diffusiond?host=/nonexistent-dd-socket-dir&port=5432";
  try {
    PgConnection db(url);
    FAIL() << "connected to a server that does not exist";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace dd::service
