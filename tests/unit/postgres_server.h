#pragma once
// A real PostgreSQL server for tests, from Debian's packages (scripts/setup installs them):
// initdb into a fresh temporary folder, started with pg_ctl on a Unix socket inside that folder
// and no TCP listener, so tests running side by side never meet. Stopped and removed by the
// destructor. initdb and postgres refuse to run as root; as root they run as the `postgres`
// system user (runuser), which owns the folder. Durability is switched off (fsync=off): a test
// server is thrown away, and this makes it start and run much faster.
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dd::test {

class PostgresServer {
 public:
  // Initialises and starts the server; a dd::Error with the server's log when that fails.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Why a server cannot be started here ("" when it can): the programs or the user are missing.
  static std::string unavailable_reason();

  // A URL for the server's `postgres` database (as its superuser, over the socket).
  std::string url() const { return url_for("postgres"); }
  // Creates a fresh, empty database and returns its URL.
  std::string create_database();

 private:
  std::string url_for(const std::string& database) const;
  void run_as_server_user(const std::vector<std::string>& argv, const std::string& log,
                          const std::string& what);
  std::string bin_;   // /usr/lib/postgresql/<version>/bin
  std::string root_;  // the temporary folder: data/, the socket, logs
  int databases_ = 0;
  bool started_ = false;
};

// The database a store test opens: `sqlite_path` itself, or, when the environment variable
// DD_TEST_DATABASE is "postgresql", a PostgreSQL database on one server shared by the test
// process (started on first use), so the same store tests run against both engines. ":memory:"
// gets a fresh database each time; a file path gets the same database each time it is opened
// (tests that reopen a store see what they wrote).
std::string test_database(const std::string& sqlite_path);

}  // namespace dd::test

#define DD_REQUIRE_POSTGRES()                                                             \
  do {                                                                                    \
    const std::string reason = ::dd::test::PostgresServer::unavailable_reason();          \
    if (!reason.empty()) GTEST_SKIP() << reason << "; run scripts/setup to install them"; \
  } while (0)

namespace dd::test {

// A test suite with one server for the whole suite (initdb takes about a second) and a fresh
// database for every test (url_); its tests skip when the server programs are missing.
class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (PostgresServer::unavailable_reason().empty()) server_ = new PostgresServer();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    DD_REQUIRE_POSTGRES();
    ASSERT_NE(server_, nullptr) << "the PostgreSQL test server did not start";
    url_ = server_->create_database();
  }

  static inline PostgresServer* server_ = nullptr;
  std::string url_;
};

}  // namespace dd::test
