#include "cli/runtime_tuning.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>

namespace dd::cli {

void keep_freed_memory_for_reuse() {
  // glibc serves blocks above M_MMAP_THRESHOLD with fresh mmaps and returns them on free; 32 MiB
  // is the largest threshold it accepts. Larger blocks (model weights) still use mmap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // Do not give the top of the heap back after every large free.
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

void prefer_passive_openmp_waiting(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // Only reached when the re-execution failed: carry on with libgomp's default.
}

}  // namespace dd::cli
