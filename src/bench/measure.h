#pragma once
// Timing for the benchmark: a part of the pipeline is counted once (its FLOPs, which also warms
// up caches, the allocator and oneDNN's primitive cache) and then timed several times; the
// median of those runs is the figure reported, the spread shows how busy the machine was.
#include <cstdint>
#include <functional>
#include <vector>

#include "bench/flop_counter.h"

namespace dd::bench {

struct Measurement {
  FlopCount flops;
  std::vector<double> seconds;  // one entry per timed run, in the order they ran
  // The most resident memory above what was resident when the part began: its activations,
  // workspaces and the heap the allocator keeps (0: not measured).
  int64_t peak_rss_above_start = 0;

  double median() const;
  // Achieved TFLOP/s over the median run (0 when nothing was counted).
  double tflops() const;
};

// One counting (untimed) run of `work`, then `runs` timed runs.
Measurement measure(int runs, const std::function<void()>& work);

// `runs` timed runs without a counting run first: for work whose first run is the measurement
// (loading a checkpoint).
Measurement time_runs(int runs, const std::function<void()>& work);

}  // namespace dd::bench
