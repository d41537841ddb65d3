#include "pipeline/compute_layout.h"

namespace dd::pipeline {

torch::Tensor in_compute_layout(const torch::Tensor& x, torch::ScalarType dtype,
                                const torch::Device& device) {
  auto out = x.to(device, dtype);
  return dtype == torch::kFloat32 || out.dim() != 4
             ? out
             : out.contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace dd::pipeline
