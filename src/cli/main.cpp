#include "cli/main.h"

#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "cli/bench_command.h"
#include "cli/conformance.h"
#include "cli/evaluate_command.h"
#include "cli/generate_command.h"
#include "cli/runtime_tuning.h"
#include "cli/serve_command.h"
#include "cli/train_command.h"
#include "cli/worker_command.h"
#include "util/error.h"

namespace dd::cli {

int run(int argc, char** argv) {
  keep_freed_memory_for_reuse();
  CLI::App app{"diffusiond: a self-hosted Stable Diffusion engine and server"};
  app.require_subcommand(1);
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads, "Compute threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  int exit_code = 1;
  add_generate_command(app, exit_code);
  add_conformance_command(app, exit_code);
  add_serve_command(app, exit_code);
  add_keys_command(app, exit_code);
  add_worker_command(app, exit_code);
  add_bench_command(app, exit_code);
  add_evaluate_command(app, exit_code);
  add_train_command(app, exit_code);
  app.parse_complete_callback([&threads] { at::set_num_threads(threads); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const Error& e) {
    std::cerr << "diffusiond: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "diffusiond: error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "diffusiond: error: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}

}  // namespace dd::cli
