// Device and compute-dtype names: parsed and checked once (models/device.h), with errors that say
// what there is. This machine has no GPU, so CUDA names must be refused clearly here.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "error_of.h"
#include "models/device.h"
#include "util/error.h"

namespace dd::models {
namespace {

using test::error_of;

TEST(Device, CpuIsAlwaysThere) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_EQ(dtype_names_for(torch::kCPU), (std::vector<std::string>{"fp32", "bf16"}));
}

TEST(Device, UnknownNamesAreRefused) {
  for (const char* name : {"gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cuda:1:2", "cpu:0", ""})
    EXPECT_NE(error_of([&] { parse_device(name); }).find("is not one of cpu, cuda, cuda:N"),
              std::string::npos)
        << name;
}

TEST(Device, CudaIsRefusedWhereThereIsNone) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a CUDA device";
  for (const char* name : {"cuda", "cuda:0", "cuda:3"})
    EXPECT_NE(error_of([&] { parse_device(name); }).find("this machine has no CUDA device"),
              std::string::npos)
        << name;
}

TEST(Device, CudaDevicesPastTheLastAreRefused) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device here";
  const auto count = torch::cuda::device_count();
  EXPECT_TRUE(parse_device("cuda").is_cuda());
  EXPECT_EQ(parse_device("cuda:" + std::to_string(count - 1)).index(), count - 1);
  EXPECT_NE(error_of([&] { parse_device("cuda:" + std::to_string(count)); }).find("cuda:0"),
            std::string::npos);
}

TEST(Device, DtypesAreCheckedAgainstTheDevice) {
  EXPECT_EQ(parse_compute_dtype("fp32", torch::kCPU), torch::kFloat32);
  EXPECT_EQ(parse_compute_dtype("bf16", torch::kCPU), torch::kBFloat16);
  EXPECT_NE(error_of([] {
              parse_compute_dtype("fp16", torch::kCPU);
            }).find("runs only on a CUDA device; on the CPU use fp32, bf16"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { parse_compute_dtype("fp64", torch::kCPU); }).find("not one of fp32, bf16"),
      std::string::npos);
  // The check itself needs no GPU: a CUDA device object is only a name.
  const torch::Device cuda(torch::kCUDA, 0);
  EXPECT_EQ(parse_compute_dtype("fp16", cuda), torch::kFloat16);
  EXPECT_EQ(dtype_names_for(cuda), (std::vector<std::string>{"fp32", "fp16", "bf16"}));
  EXPECT_STREQ(compute_dtype_name(torch::kFloat16), "fp16");
}

TEST(Device, CpuHelpersDoNothing) {
  synchronize(torch::kCPU);
  release_cached_memory(torch::kCPU);
  reset_peak_device_memory(torch::kCPU);
  EXPECT_EQ(peak_device_memory(torch::kCPU), 0);
}

}  // namespace
}  // namespace dd::models
