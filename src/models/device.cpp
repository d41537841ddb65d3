#include "models/device.h"

#include <ATen/Context.h>
#include <ATen/DeviceAccelerator.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cctype>

#include "util/error.h"

namespace dd::models {

namespace {

struct DtypeName {
  const char* name;
  torch::ScalarType type;
  bool on_cpu;
};
constexpr DtypeName kComputeDtypes[] = {
    {"fp32", torch::kFloat32, true},
    {"fp16", torch::kFloat16, false},
    {"bf16", torch::kBFloat16, true},
};

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 3 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

torch::Device parse_device(const std::string& text) {
  if (text == "cpu") return torch::kCPU;
  const bool cuda = text == "cuda" || (text.rfind("cuda:", 0) == 0 && all_digits(text.substr(5)));
  if (!cuda) throw Error("device '" + text + "' is not one of cpu, cuda, cuda:N");
  const int index = text == "cuda" ? 0 : std::stoi(text.substr(5));
  if (!torch::cuda::is_available())
    throw Error("device '" + text + "': this machine has no CUDA device that LibTorch can use");
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count)
    throw Error("device '" + text + "': there " +
                (count == 1 ? std::string("is 1 CUDA device (cuda:0)")
                            : "are " + std::to_string(count) + " CUDA devices (cuda:0 to cuda:" +
                                  std::to_string(count - 1) + ")"));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::vector<std::string> dtype_names_for(const torch::Device& device) {
  std::vector<std::string> names;
  for (const auto& d : kComputeDtypes)
    if (d.on_cpu || !device.is_cpu()) names.push_back(d.name);
  return names;
}

torch::ScalarType parse_compute_dtype(const std::string& name, const torch::Device& device) {
  for (const auto& d : kComputeDtypes) {
    if (name != d.name) continue;
    if (!d.on_cpu && device.is_cpu())
      throw Error("dtype '" + name + "' runs only on a CUDA device; on the CPU use " +
                  joined(dtype_names_for(device)));
    return d.type;
  }
  throw Error("dtype '" + name + "' is not one of " + joined(dtype_names_for(device)) + " on " +
              device.str());
}

const char* compute_dtype_name(torch::ScalarType dtype) {
  for (const auto& d : kComputeDtypes)
    if (d.type == dtype) return d.name;
  return "?";
}

void use_exact_float32() {
  auto& context = at::globalContext();
  context.setAllowTF32CuBLAS(false);
  context.setAllowTF32CuDNN(false);
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

void release_cached_memory(const torch::Device& device) {
  if (device.is_cuda()) at::accelerator::emptyCache();
}

int64_t peak_device_memory(const torch::Device& device) {
  if (!device.is_cuda()) return 0;
  const auto stats = at::accelerator::getDeviceStats(device.has_index() ? device.index() : 0);
  return stats.allocated_bytes[0].peak;  // [0]: all pools together
}

void reset_peak_device_memory(const torch::Device& device) {
  if (device.is_cuda()) at::accelerator::resetPeakStats(device.has_index() ? device.index() : 0);
}

}  // namespace dd::models
