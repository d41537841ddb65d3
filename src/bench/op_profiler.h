#pragma once
// Where a part's time goes: wall time per operator, for the operators LibTorch dispatches on
// this thread (and the fused attention kernel, which records itself as one). Only the
// outermost operator of a nest is timed (aten::linear, not the aten::addmm inside it), so the
// times add up to at most the part's own; the rest is time outside any operator (Python-free
// glue here: the modules' C++ code and the allocator).
#include <ATen/record_function.h>

#include <map>
#include <string>
#include <vector>

namespace dd::bench {

struct OperatorTime {
  std::string name;
  int64_t calls = 0;
  double seconds = 0;
};

// One run of a part under an OpProfiler: its wall time and its operators.
struct OperatorProfile {
  double seconds = 0;
  std::vector<OperatorTime> operators;  // the longest first
};

// Times on the constructing thread from construction to destruction. One at a time per thread.
class OpProfiler {
 public:
  OpProfiler();
  ~OpProfiler();
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;

  // Every operator seen, the longest total first.
  std::vector<OperatorTime> by_time() const;
  // Called by the callbacks.
  void add(const char* name, double seconds);

 private:
  std::map<std::string, OperatorTime> times_;
  at::CallbackHandle handle_;
};

}  // namespace dd::bench
