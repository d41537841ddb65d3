#include "cli/compute_options.h"

#include "models/device.h"

namespace dd::cli {

void add_compute_options(CLI::App* cmd, ComputeOptions& options, bool with_dtype) {
  cmd->add_option("--device", options.device,
                  "Where to compute: cpu, cuda (the first GPU) or cuda:N")
      ->capture_default_str();
  if (with_dtype)
    cmd->add_option("--dtype", options.dtype,
                    "Compute type: fp32 (reference), bf16 (fast on AVX512-BF16/AMX CPUs and "
                    "GPUs) or fp16 (GPUs only)")
        ->capture_default_str()
        ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
}

ComputeTarget resolve_compute(const ComputeOptions& options) {
  ComputeTarget target;
  target.device = models::parse_device(options.device);
  target.dtype = models::parse_compute_dtype(options.dtype, target.device);
  if (target.dtype == torch::kFloat32) models::use_exact_float32();
  return target;
}

}  // namespace dd::cli
