#include "cli/main.h"

#include "cli/runtime_tuning.h"

int main(int argc, char** argv) {
  dd::cli::prefer_passive_openmp_waiting(argv);
  return dd::cli::run(argc, argv);
}
