#include "postgres_server.h"

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "service/pg_connection.h"
#include "util/error.h"

extern char** environ;

namespace dd::test {

namespace {

namespace fs = std::filesystem;

constexpr int kPort = 5432;  // names the socket file only; no TCP port is opened

// The newest /usr/lib/postgresql/<version>/bin holding initdb, pg_ctl and postgres, or "".
std::string find_bin_dir() {
  glob_t found{};
  std::vector<std::pair<int, std::string>> candidates;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) {
      const fs::path bin = fs::path(found.gl_pathv[i]).parent_path();
      if (!fs::exists(bin / "pg_ctl") || !fs::exists(bin / "postgres")) continue;
      candidates.emplace_back(std::atoi(bin.parent_path().filename().c_str()), bin.string());
    }
  }
  globfree(&found);
  if (candidates.empty()) return "";
  return std::max_element(candidates.begin(), candidates.end())->second;
}

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() > 3000 ? "..." + all.substr(all.size() - 3000) : all;
}

// The environment for the server's programs: ours without PG* variables (PGDATA, PGPORT, ...
// would override what we pass) and with the C locale (a locale missing here makes initdb fail).
std::vector<std::string> server_environment() {
  std::vector<std::string> out;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    if (text.rfind("PG", 0) == 0 || text.rfind("LC_", 0) == 0 || text.rfind("LANG", 0) == 0)
      continue;
    out.push_back(text);
  }
  out.push_back("LC_ALL=C");
  return out;
}

}  // namespace

std::string PostgresServer::unavailable_reason() {
  if (find_bin_dir().empty())
    return "PostgreSQL's server programs (initdb, pg_ctl, postgres) are not installed under "
           "/usr/lib/postgresql/*/bin";
  if (geteuid() == 0 && !getpwnam("postgres"))
    return "running as root, and there is no `postgres` system user to run the server as";
  return "";
}

void PostgresServer::run_as_server_user(const std::vector<std::string>& args,
                                        const std::string& log, const std::string& what) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const auto environment = server_environment();
  std::vector<char*> envp;
  for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  // initdb and postgres refuse to run as root: as root, the child becomes `postgres` (the user
  // Debian's package creates) before it runs them.
  const bool as_root = geteuid() == 0;
  const passwd* user = as_root ? getpwnam("postgres") : nullptr;
  if (as_root && !user) throw Error("no `postgres` system user to run " + what + " as");
  const uid_t uid = user ? user->pw_uid : 0;
  const gid_t gid = user ? user->pw_gid : 0;

  const pid_t pid = fork();
  if (pid < 0) throw Error(what + ": fork failed: " + std::strerror(errno));
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    if (as_root && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) _exit(125);
    if (chdir(root_.c_str()) != 0) _exit(124);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error(what + ": waitpid failed: " + std::strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(what + " failed (status " + std::to_string(status) + "); its log:\n" +
                tail_of(log) + "\nserver log:\n" + tail_of(root_ + "/server.log"));
}

PostgresServer::PostgresServer() : bin_(find_bin_dir()) {
  if (bin_.empty()) throw Error(unavailable_reason());
  // Under /tmp, not $TMPDIR: a Unix socket's path must stay under about 100 bytes.
  char dir[] = "/tmp/dd-pg-XXXXXX";
  if (!mkdtemp(dir)) throw Error(std::string("cannot create a temporary folder: ") + dir);
  root_ = dir;
  try {
    if (geteuid() == 0) {
      const passwd* user = getpwnam("postgres");
      if (!user) throw Error(unavailable_reason());
      if (chown(root_.c_str(), user->pw_uid, user->pw_gid) != 0 || chmod(root_.c_str(), 0711) != 0)
        throw Error("cannot hand " + root_ + " to the postgres user");
    }
    const std::string data = root_ + "/data";
    run_as_server_user({bin_ + "/initdb", "--pgdata=" + data, "--username=postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C", "--no-sync"},
                       root_ + "/commands.log", "initdb");
    // Only this folder's socket: no TCP listener, and only its owner (and root) can reach it.
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "\nlisten_addresses = ''\n"
         << "unix_socket_directories = '" << root_ << "'\n"
         << "unix_socket_permissions = 0700\n"
         << "port = " << kPort << "\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "shared_buffers = 16MB\nmax_connections = 40\n";
    conf.close();
    if (!conf) throw Error("cannot write " + data + "/postgresql.conf");
    run_as_server_user({bin_ + "/pg_ctl", "--pgdata=" + data, "--log=" + root_ + "/server.log",
                        "--wait", "--timeout=120", "start"},
                       root_ + "/commands.log", "pg_ctl start");
    started_ = true;
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    throw;
  }
}

PostgresServer::~PostgresServer() {
  if (started_) {
    const std::string data = root_ + "/data";
    try {
      run_as_server_user({bin_ + "/pg_ctl", "--pgdata=" + data, "--mode=immediate", "--wait",
                          "--timeout=60", "stop"},
                         root_ + "/commands.log", "pg_ctl stop");
    } catch (const std::exception&) {
      // pg_ctl could not stop it: end the postmaster by its pid file, so no server outlives us.
      std::ifstream pid_file(data + "/postmaster.pid");
      pid_t pid = 0;
      if (pid_file >> pid && pid > 0) kill(pid, SIGKILL);
    }
  }
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

std::string PostgresServer::url_for(const std::string& database) const {
  return "postgresql:///" + database + "?host=" + root_ + "&port=" + std::to_string(kPort) +
         "&user=postgres";
}

std::string PostgresServer::create_database() {
  const std::string name = "dd_test_" + std::to_string(++databases_);
  service::PgConnection admin(url());
  admin.exec("CREATE DATABASE " + name);
  return url_for(name);
}

std::string test_database(const std::string& sqlite_path) {
  const char* engine = std::getenv("DD_TEST_DATABASE");
  if (!engine || std::string(engine) != "postgresql") return sqlite_path;
  static std::mutex mutex;
  static std::unique_ptr<PostgresServer> server;
  static std::map<std::string, std::string> by_path;
  std::lock_guard lock(mutex);
  if (!server) {
    const std::string why = PostgresServer::unavailable_reason();
    if (!why.empty()) throw Error("DD_TEST_DATABASE=postgresql, but " + why);
    server = std::make_unique<PostgresServer>();
  }
  if (sqlite_path == ":memory:") return server->create_database();
  auto [entry, added] = by_path.try_emplace(sqlite_path);
  if (added) entry->second = server->create_database();
  return entry->second;
}

}  // namespace dd::test
