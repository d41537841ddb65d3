#pragma once
// The options `serve` and `worker` share, declared once: where models and data live, how the
// engine computes, and the shared database with this node's part in it.
#include <CLI/CLI.hpp>

#include "cli/compute_options.h"
#include "service/service.h"

namespace dd::cli {

struct ServiceArgs {
  service::ServiceOptions service;
  double memory_budget_gb = 16;
  ComputeOptions compute;
};

// --models-dir, --data-dir, --default-model, --preview-every, --memory-budget-gb, --device,
// --dtype, --allow-private-webhooks, --database, --worker-id and --lease-seconds.
void add_service_options(CLI::App* cmd, ServiceArgs& args);
// Turns the parsed options into the final ServiceOptions (memory budget, compute target, the
// built-in model as default when present).
void finish_service_options(ServiceArgs& args);
// --database for commands that only open the database (`keys`): a postgresql:// URL, else the
// SQLite file in --data-dir.
void add_database_option(CLI::App* cmd, std::string& database);

}  // namespace dd::cli
