#include "cli/serve_command.h"

#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/compute_options.h"
#include "cli/model_choice.h"
#include "http/server.h"
#include "service/accounts.h"
#include "service/service.h"

namespace dd::cli {

namespace {

struct ServeArgs {
  service::ServiceOptions service;
  http::HttpOptions http;
  int max_body_mb = 20;
  double memory_budget_gb = 16;
  ComputeOptions compute;
};

http::HttpServer* g_server = nullptr;

void stop_on_signal(int) {
  if (g_server) g_server->stop();
}

void run_serve(ServeArgs& args) {
  args.http.max_body_bytes = static_cast<size_t>(args.max_body_mb) << 20;
  args.service.memory_budget_bytes = static_cast<size_t>(args.memory_budget_gb * (1ull << 30));
  const ComputeTarget target = resolve_compute(args.compute);
  args.service.dtype = target.dtype;
  args.service.device = target.device;
  // The built-in model, when present, answers requests that name no model.
  if (args.service.default_model.empty() && has_builtin_model(args.service.models_dir))
    args.service.default_model = kBuiltinModelId;
  service::Service service(args.service, http::webhook_body(args.http));
  http::HttpServer server(service, args.http);
  service.start();
  g_server = &server;
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  std::cerr << "diffusiond: serving " << service.models().list().size() << " model(s) from "
            << args.service.models_dir << " on http://" << args.http.host << ":" << args.http.port
            << (service.accounts().any_keys() ? " (API keys required)" : " (local mode, no keys)")
            << std::endl;
  server.listen();
  g_server = nullptr;
  service.stop();
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  args->service.models_dir = builtin_models_dir();
  auto* cmd = app.add_subcommand("serve", "Serve the HTTP APIs of ../shared/API.md");
  cmd->add_option("--host", args->http.host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", args->http.port, "Port")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--models-dir", args->service.models_dir,
                  "Checkpoints (.safetensors) and diffusers folders, with optional NAME.json "
                  "sidecars; loras/ for LoRAs")
      ->capture_default_str();
  cmd->add_option("--data-dir", args->service.data_dir, "Database, images and uploads")
      ->capture_default_str();
  cmd->add_option("--default-model", args->service.default_model,
                  "Model id or alias used when a request names none (default: diffusiond-scenes "
                  "when present, else the first model)");
  cmd->add_option("--max-queue", args->service.max_queue, "Queued jobs before answering 429")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--max-body-mb", args->max_body_mb, "Largest request body")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--memory-budget-gb", args->memory_budget_gb,
                  "Loaded models are unloaded least-recently-used above this")
      ->capture_default_str();
  add_compute_options(cmd, args->compute);
  cmd->add_flag("--allow-private-webhooks", args->service.allow_private_webhooks,
                "Allow webhook URLs on loopback/private addresses (tests)");
  cmd->add_flag("--insecure-no-auth", args->http.insecure_no_auth,
                "Serve a non-loopback address without API keys");
  cmd->callback([args, &exit_code] {
    run_serve(*args);
    exit_code = 0;
  });
}

void add_keys_command(CLI::App& app, int& exit_code) {
  auto data_dir = std::make_shared<std::string>("data");
  auto name = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  auto* keys = app.add_subcommand("keys", "Manage API keys (stored hashed in DATA_DIR)");
  keys->require_subcommand(1);
  keys->add_option("--data-dir", *data_dir, "The server's data directory")->capture_default_str();
  auto open = [data_dir] {
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
}

}  // namespace dd::cli
