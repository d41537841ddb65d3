#include "cli/main.h"

#include <iostream>

namespace dd::cli {

int run(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::cerr << "diffusiond: not built yet\n";
  return 1;
}

}  // namespace dd::cli
