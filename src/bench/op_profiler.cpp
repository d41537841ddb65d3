#include "bench/op_profiler.h"

#include <algorithm>
#include <chrono>
#include <memory>

namespace dd::bench {

namespace {

using Clock = std::chrono::steady_clock;

thread_local OpProfiler* t_profiler = nullptr;
thread_local int t_depth = 0;

// The outermost operator carries its start time; nested ones only keep the depth right.
struct Started : at::ObserverContext {
  explicit Started(bool outermost) : outermost(outermost), start(Clock::now()) {}
  bool outermost;
  Clock::time_point start;
};

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction&) {
  if (t_profiler == nullptr) return nullptr;
  return std::make_unique<Started>(t_depth++ == 0);
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* context) {
  if (context == nullptr) return;
  --t_depth;
  const auto* started = static_cast<Started*>(context);
  if (started->outermost && t_profiler != nullptr)
    t_profiler->add(fn.name(),
                    std::chrono::duration<double>(Clock::now() - started->start).count());
}

}  // namespace

OpProfiler::OpProfiler() {
  TORCH_INTERNAL_ASSERT(t_profiler == nullptr, "one OpProfiler at a time per thread");
  t_profiler = this;
  t_depth = 0;
  handle_ = at::addThreadLocalCallback(
      at::RecordFunctionCallback(on_start, on_end).scopes({at::RecordScope::FUNCTION}));
}

OpProfiler::~OpProfiler() {
  at::removeCallback(handle_);
  t_profiler = nullptr;
  t_depth = 0;
}

void OpProfiler::add(const char* name, double seconds) {
  OperatorTime& t = times_[name];
  if (t.name.empty()) t.name = name;
  ++t.calls;
  t.seconds += seconds;
}

std::vector<OperatorTime> OpProfiler::by_time() const {
  std::vector<OperatorTime> out;
  for (const auto& item : times_) out.push_back(item.second);
  std::sort(out.begin(), out.end(),
            [](const OperatorTime& a, const OperatorTime& b) { return a.seconds > b.seconds; });
  return out;
}

}  // namespace dd::bench
