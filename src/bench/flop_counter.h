#pragma once
// Counts the floating-point operations of what LibTorch actually runs: every convolution and
// matrix product dispatched on this thread, from the shapes of its inputs. LibTorch's C++
// modules have no forward hooks, so the counter observes the ATen operators themselves through
// RecordFunction callbacks; a whole model is counted by running it once under a counter.
//
// A multiply-add is 2 FLOPs. Only convolutions and matrix products are counted (norms,
// activations, softmax and additions are a few percent of a diffusion model and are not what
// the hardware ceiling measures). An operator called inside another counted one (aten::linear
// running aten::addmm, aten::matmul running aten::bmm) is counted once, at the outermost level.
#include <ATen/record_function.h>

#include <cstdint>

namespace dd::bench {

struct FlopCount {
  double convolution = 0;  // aten::conv2d and friends: 2 * output elements * (in / groups) * k*k
  double linear = 0;       // aten::linear, addmm, mm, and matmul by one 2-D matrix: weight layers
  double matmul = 0;       // aten::matmul, bmm, baddbmm of two batched operands: attention
  int64_t unknown = 0;     // counted operators whose arguments could not be read (should be 0)

  double total() const { return convolution + linear + matmul; }
  FlopCount& operator+=(const FlopCount& other);
};

FlopCount operator*(double times, const FlopCount& count);

// Counts on the constructing thread from construction to destruction. One at a time per thread.
class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;

  const FlopCount& count() const { return count_; }

 private:
  FlopCount count_;
  at::CallbackHandle handle_;
};

}  // namespace dd::bench
