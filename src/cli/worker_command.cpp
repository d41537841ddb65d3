#include "cli/worker_command.h"

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/model_choice.h"
#include "cli/service_options.h"
#include "http/server.h"

namespace dd::cli {

namespace {

volatile std::sig_atomic_t g_stop = 0;

void stop_on_signal(int) { g_stop = 1; }

struct WorkerArgs {
  ServiceArgs node;
  std::string public_url = "http://127.0.0.1:8080";
};

void run_worker(WorkerArgs& args) {
  if (args.node.service.database.empty())
    throw Error("worker: --database is required (a postgresql:// URL shared with the API nodes)");
  finish_service_options(args.node);
  args.node.service.run_worker = true;
  service::Service service(args.node.service,
                           http::webhook_body(args.public_url, args.node.service));
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  service.start();
  std::cerr << "diffusiond: worker " << service.worker().identity().worker_id
            << " ready: " << service.models().list().size() << " model(s) from "
            << args.node.service.models_dir << ", queue in " << service.database().path()
            << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::cerr << "diffusiond: worker stopping; its running job goes back to the queue" << std::endl;
  service.stop();
}

}  // namespace

void add_worker_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<WorkerArgs>();
  args->node.service.models_dir = builtin_models_dir();
  auto* cmd =
      app.add_subcommand("worker",
                         "Run jobs from the queue shared through --database, beside API nodes "
                         "(`serve --database ... --no-worker`) and other workers; no HTTP");
  add_service_options(cmd, args->node);
  cmd->add_option("--public-url", args->public_url,
                  "The API nodes' address as clients reach it, for the image links in webhook "
                  "bodies")
      ->capture_default_str();
  cmd->callback([args, &exit_code] {
    run_worker(*args);
    exit_code = 0;
  });
}

}  // namespace dd::cli
