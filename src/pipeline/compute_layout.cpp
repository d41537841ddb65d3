#include "pipeline/compute_layout.h"

namespace dd::pipeline {

torch::Tensor in_compute_layout(const torch::Tensor& x, torch::ScalarType dtype) {
  auto out = x.to(dtype);
  return dtype == torch::kFloat32 || out.dim() != 4
             ? out
             : out.contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace dd::pipeline
