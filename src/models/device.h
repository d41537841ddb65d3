#pragma once
// Where the engine computes: the CPU, or a CUDA device ("cuda", "cuda:N"). Names are parsed and
// checked here once, so every command that takes --device says the same thing about a bad one.
// Randomness stays on the CPU whatever the device (sampling/seeded_noise.h): a seed makes the
// same image on every device, within the compute dtype's rounding.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace dd::models {

// "cpu", "cuda" (device 0) or "cuda:N". A dd::Error for any other text, and for a CUDA device
// this process cannot use (no CUDA device, or N past the last one), naming what there is.
torch::Device parse_device(const std::string& text);

// The compute dtypes a device supports, by their command-line names: fp32 and bf16 on the CPU
// (fp16 convolutions are slow and inexact there), fp32, fp16 and bf16 on CUDA.
std::vector<std::string> dtype_names_for(const torch::Device& device);

// A dtype name ("fp32", "fp16", "bf16") as a scalar type; a dd::Error naming the accepted ones
// when the name is unknown or the device does not support it.
torch::ScalarType parse_compute_dtype(const std::string& name, const torch::Device& device);

// "fp32", "fp16" or "bf16".
const char* compute_dtype_name(torch::ScalarType dtype);

// float32 on a CUDA device computes in true float32: TF32 tensor-core shortcuts (on by default
// for cuDNN convolutions) are turned off, so fp32 results match the reference's. No effect on
// the CPU. Process-wide.
void use_exact_float32();

// Waits until the work queued on `device` is done (timing needs it); nothing on the CPU.
void synchronize(const torch::Device& device);

// Gives the device memory that the caching allocator holds but no tensor uses back to the
// driver, so a finished job leaves nothing behind; nothing on the CPU.
void release_cached_memory(const torch::Device& device);

// Calls release_cached_memory when it goes out of scope: after a job, whether it ended well or not.
class CachedMemoryRelease {
 public:
  explicit CachedMemoryRelease(torch::Device device) : device_(device) {}
  ~CachedMemoryRelease() { release_cached_memory(device_); }
  CachedMemoryRelease(const CachedMemoryRelease&) = delete;
  CachedMemoryRelease& operator=(const CachedMemoryRelease&) = delete;

 private:
  torch::Device device_;
};

// The most device memory tensors have held since the last reset_peak_memory (bytes); 0 on the
// CPU, whose memory the process's resident set measures.
int64_t peak_device_memory(const torch::Device& device);
void reset_peak_device_memory(const torch::Device& device);

}  // namespace dd::models
