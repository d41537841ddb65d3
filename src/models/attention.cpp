#include "models/attention.h"

namespace dd::models {

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale) {
  // matmul + scale rather than baddbmm: LibTorch 1.13's baddbmm reads its (uninitialised)
  // input even with beta = 0 and can turn the scores into NaN (DESIGN.md, traps).
  const auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  const auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, v);
}

}  // namespace dd::models
