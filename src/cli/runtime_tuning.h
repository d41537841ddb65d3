#pragma once
// Process-wide settings that make LibTorch's CPU path fast on a small machine.

namespace dd::cli {

// Keeps freed tensor buffers in the heap (instead of returning them to the kernel with munmap)
// so that the same-sized buffers of the next step reuse warm pages; without it a 1024x1024
// generation spends ~40% of its time in page faults zeroing fresh pages.
void keep_freed_memory_for_reuse();

// OpenMP threads that wait by spinning steal the CPU from the thread they wait for whenever the
// machine has anything else to run (a second job, the HTTP threads, a build): a guided step of
// the tiny SDXL model at 1024x1024 took 20.7 s spinning and 7.2 s passive on 2 busy cores.
// libgomp reads OMP_WAIT_POLICY only when it loads, so unless the user chose a policy this sets
// PASSIVE and re-executes the program once (same pid, same arguments).
void prefer_passive_openmp_waiting(char** argv);

}  // namespace dd::cli
