#include "bench/measure.h"

#include <algorithm>
#include <chrono>

namespace dd::bench {

double Measurement::median() const {
  if (seconds.empty()) return 0;
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t mid = sorted.size() / 2;
  return sorted.size() % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

double Measurement::tflops() const {
  const double time = median();
  return time > 0 ? flops.total() / time / 1e12 : 0;
}

Measurement time_runs(int runs, const std::function<void()>& work) {
  Measurement m;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    m.seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return m;
}

Measurement measure(int runs, const std::function<void()>& work) {
  FlopCount flops;
  {
    FlopCounter counter;
    work();
    flops = counter.count();
  }
  Measurement m = time_runs(runs, work);
  m.flops = flops;
  return m;
}

}  // namespace dd::bench
