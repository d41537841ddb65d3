#include "cli/serve_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/model_choice.h"
#include "cli/service_options.h"
#include "http/server.h"
#include "service/accounts.h"
#include "service/service.h"

namespace dd::cli {

namespace {

struct ServeArgs {
  ServiceArgs node;
  http::HttpOptions http;
  int max_body_mb = 20;
  bool no_worker = false;
};

http::HttpServer* g_server = nullptr;

void stop_on_signal(int) {
  if (g_server) g_server->stop();
}

// SIGHUP reads the models directory again. The handler only writes a byte to a pipe (safe in a
// signal handler; never blocks: the pipe does not wait when full, and one byte pending is as
// good as many); a thread reading the pipe rescans.
volatile std::sig_atomic_t g_hangup_pipe = -1;

void note_hangup(int) {
  const int saved_errno = errno;
  const int fd = g_hangup_pipe;
  if (fd >= 0) {
    const char byte = 'h';
    [[maybe_unused]] const auto written = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

class RescanOnHangup {
 public:
  explicit RescanOnHangup(service::ModelRegistry& models) {
    if (::pipe2(fds_, O_CLOEXEC) != 0 || ::fcntl(fds_[1], F_SETFL, O_NONBLOCK) != 0)
      throw Error("cannot create the pipe for SIGHUP");
    thread_ = std::thread([this, &models] { rescan_on_each_byte(models); });
    g_hangup_pipe = fds_[1];
    struct sigaction action {};
    action.sa_handler = note_hangup;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGHUP, &action, &previous_);
  }
  RescanOnHangup(const RescanOnHangup&) = delete;
  RescanOnHangup& operator=(const RescanOnHangup&) = delete;
  ~RescanOnHangup() {
    ::sigaction(SIGHUP, &previous_, nullptr);
    g_hangup_pipe = -1;
    ::close(fds_[1]);  // the reader sees the end of the pipe and returns
    thread_.join();
    ::close(fds_[0]);
  }

 private:
  void rescan_on_each_byte(service::ModelRegistry& models) {
    char byte = 0;
    for (;;) {
      const auto got = ::read(fds_[0], &byte, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got != 1) return;
      try {
        models.rescan();
        std::cerr << "diffusiond: SIGHUP: " << models.list().size()
                  << " model(s) in the models directory, default '" << models.default_model_id()
                  << "'" << std::endl;
      } catch (const std::exception& e) {
        std::cerr << "diffusiond: SIGHUP: rescan failed: " << e.what() << std::endl;
      }
    }
  }

  int fds_[2] = {-1, -1};
  std::thread thread_;
  struct sigaction previous_ {};
};

void run_serve(ServeArgs& args) {
  args.http.max_body_bytes = static_cast<size_t>(args.max_body_mb) << 20;
  if (args.no_worker && args.node.service.database.empty())
    throw Error("serve: --no-worker needs --database (a queue shared with `diffusiond worker`)");
  args.node.service.run_worker = !args.no_worker;
  finish_service_options(args.node);
  const auto& options = args.node.service;
  service::Service service(options, http::webhook_body(args.http, options));
  http::HttpServer server(service, args.http);
  service.start();
  g_server = &server;
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  const RescanOnHangup rescan_on_hangup(service.models());
  std::cerr << "diffusiond: serving " << service.models().list().size() << " model(s) from "
            << options.models_dir << " on http://" << args.http.host << ":" << args.http.port
            << (service.accounts().any_keys() ? " (API keys required)" : " (local mode, no keys)")
            << std::endl;
  server.listen();
  g_server = nullptr;
  service.stop();
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  args->node.service.models_dir = builtin_models_dir();
  auto* cmd = app.add_subcommand("serve", "Serve the HTTP APIs of ../shared/API.md");
  cmd->add_option("--host", args->http.host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", args->http.port, "Port")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  add_service_options(cmd, args->node);
  cmd->add_flag("--no-worker", args->no_worker,
                "With --database: serve the APIs only, loading no model; `diffusiond worker` "
                "nodes run the jobs");
  cmd->add_option("--max-queue", args->node.service.max_queue, "Queued jobs before answering 429")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--max-body-mb", args->max_body_mb, "Largest request body")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--insecure-no-auth", args->http.insecure_no_auth,
                "Serve a non-loopback address without API keys");
  cmd->add_option("--cors-origin", args->http.cors_origins,
                  "A browser origin (e.g. https://app.example.com) allowed to call the API; "
                  "repeatable. Without one, every cross-origin request is refused");
  cmd->add_option("--max-connections-per-client", args->http.max_connections_per_client,
                  "Connections one client address may hold at once")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10000}));
  cmd->callback([args, &exit_code] {
    run_serve(*args);
    exit_code = 0;
  });
}

void add_keys_command(CLI::App& app, int& exit_code) {
  auto data_dir = std::make_shared<std::string>("data");
  auto database = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  auto* keys = app.add_subcommand("keys", "Manage API keys (stored hashed in DATA_DIR)");
  keys->require_subcommand(1);
  keys->add_option("--data-dir", *data_dir, "The server's data directory")->capture_default_str();
  add_database_option(keys, *database);
  auto open = [data_dir, database] {
    if (!database->empty()) return std::make_unique<service::Database>(*database);
    std::filesystem::create_directories(*data_dir);
    return std::make_unique<service::Database>(
        (std::filesystem::path(*data_dir) / "diffusiond.db").string());
  };
  auto* create = keys->add_subcommand("create", "Create a key for the account NAME (shown once)");
  create->add_option("--name", *name, "Account name")->required();
  create->callback([open, name, &exit_code] {
    auto db = open();
    const auto key = service::Accounts(*db).create_key(*name);
    std::cout << key.key << "\n";
    std::cerr << "key " << key.key_id << " for account '" << key.name
              << "' created; store it now, it is not shown again\n";
    exit_code = 0;
  });
  auto* list = keys->add_subcommand("list", "List keys (never their secrets)");
  list->callback([open, &exit_code] {
    auto db = open();
    for (const auto& key : service::Accounts(*db).list())
      std::cout << key.key_id << "  " << std::left << std::setw(20) << key.name << " " << key.prefix
                << "…  " << (key.revoked ? "revoked" : "active") << "\n";
    exit_code = 0;
  });
  auto* revoke =
      keys->add_subcommand("revoke", "Revoke a key by id, or every key of an account by name");
  revoke->add_option("key", *target, "Key id (key_…) or account name")->required();
  revoke->callback([open, target, &exit_code] {
    auto db = open();
    if (!service::Accounts(*db).revoke(*target)) throw Error("no active key '" + *target + "'");
    std::cerr << "revoked " << *target << "\n";
    exit_code = 0;
  });
  auto rotate = std::make_shared<bool>(false);
  auto* secret = keys->add_subcommand(
      "webhook-secret",
      "Show the webhook signing secret of the account NAME (\"local\" without keys)");
  secret->add_option("name", *name, "Account name")->required();
  secret->add_flag("--rotate", *rotate, "Replace it with a new random secret first");
  secret->callback([open, name, rotate, &exit_code] {
    auto db = open();
    service::Accounts accounts(*db);
    const auto account = accounts.account_named(*name);
    if (!account) throw Error("no account named '" + *name + "'");
    std::cout << (*rotate ? accounts.rotate_webhook_secret(*account)
                          : accounts.webhook_secret(*account))
              << "\n";
    if (*rotate)
      std::cerr << "webhook secret of '" << *name
                << "' rotated; deliveries from now on are signed with it\n";
    exit_code = 0;
  });
}

}  // namespace dd::cli
