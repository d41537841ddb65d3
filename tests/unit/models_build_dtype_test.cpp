// Building a model's blocks directly in the compute dtype, and loading weights with the source's
// pages released as they are copied: the two halves of a bf16 load that never holds a float32
// copy of the whole UNet.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "models/build_dtype.h"
#include "models/unet.h"
#include "models/weights.h"

namespace dd::models {
namespace {

UNetConfig small_unet() {
  UNetConfig c;
  c.block_out_channels = {32, 64};
  c.transformer_depth = {1, 1};
  c.num_heads = {2, 2};
  c.num_heads_mid = 2;
  c.norm_groups = 8;
  c.context_dim = 16;
  c.time_embed_dim = 128;
  c.layers_per_block = 1;
  return c;
}

TEST(BuildDtype, BlocksOfAUNetBuiltInTheScopeAreBf16) {
  UNet plain(small_unet());
  for (const auto& p : plain->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);

  UNet converted{nullptr};
  {
    const BuildDtypeScope scope(torch::kBFloat16);
    converted = UNet(small_unet());
  }
  // Every ResNet, transformer block and resampler; the few small top-level layers (conv_in,
  // time embedding, conv_out) are left to the loader's one conversion at the end.
  int in_blocks = 0;
  for (const auto& item : converted->named_parameters()) {
    SCOPED_TRACE(item.key());
    const bool in_a_block = item.key().rfind("down_blocks.", 0) == 0 ||
                            item.key().rfind("up_blocks.", 0) == 0 ||
                            item.key().rfind("mid_block.", 0) == 0;
    in_blocks += in_a_block;
    EXPECT_EQ(item.value().scalar_type(), in_a_block ? torch::kBFloat16 : torch::kFloat32);
  }
  EXPECT_GT(in_blocks, 0);
  // Same structure, same parameter names.
  EXPECT_EQ(converted->named_parameters().keys(), plain->named_parameters().keys());
}

int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "... kB"
  return 0;
}

// A transformer-sized block: four square projections and a 4x MLP, in float32 when constructed.
torch::nn::Sequential wide_block(int64_t width) {
  return torch::nn::Sequential(torch::nn::Linear(width, width), torch::nn::Linear(width, width),
                               torch::nn::Linear(width, width), torch::nn::Linear(width, width),
                               torch::nn::Linear(width, 4 * width),
                               torch::nn::Linear(4 * width, width));
}

// Each block's float32 parameters are freed as it converts; left in the heap, their holes added
// up (SDXL's UNet stood at 6.8 GB built where it needs 5.2). Building blocks worth 300 MB in
// bf16 must add little more than that to the resident set.
TEST(BuildDtype, ConvertedBlocksLeaveNoFloat32HeapBehind) {
  const BuildDtypeScope scope(torch::kBFloat16);
  const int64_t before = resident_bytes();
  std::vector<torch::nn::Sequential> blocks;
  int64_t bf16_bytes = 0;
  for (int i = 0; i < 12; ++i) {
    blocks.push_back(built(wide_block(1024)));
    for (const auto& p : blocks.back()->parameters()) bf16_bytes += p.numel() * p.element_size();
  }
  const int64_t added = resident_bytes() - before;
  EXPECT_LT(added, bf16_bytes + bf16_bytes / 5) << "bf16 weights: " << bf16_bytes;
}

TEST(BuildDtype, ScopesNestAndStayOnTheirThread) {
  EXPECT_EQ(build_dtype(), torch::kFloat32);
  {
    const BuildDtypeScope outer(torch::kBFloat16);
    torch::ScalarType on_other_thread = torch::kBFloat16;
    std::thread([&] { on_other_thread = build_dtype(); }).join();
    EXPECT_EQ(on_other_thread, torch::kFloat32);
    {
      const BuildDtypeScope inner(torch::kFloat32);
      EXPECT_EQ(build_dtype(), torch::kFloat32);
    }
    EXPECT_EQ(build_dtype(), torch::kBFloat16);
  }
  EXPECT_EQ(build_dtype(), torch::kFloat32);
}

// Answers every name with a constant tensor of the right shape, and counts releases.
class CountingSource : public WeightSource {
 public:
  explicit CountingSource(torch::nn::Module& module) {
    for (const auto& item : module.named_parameters())
      shapes_[item.key()] = item.value().sizes().vec();
  }
  torch::Tensor get(const std::string& name) const override {
    return torch::full(shapes_.at(name), 0.5f);
  }
  bool has(const std::string& name) const override { return shapes_.count(name) > 0; }
  void release_pages() const override { ++releases; }
  mutable int releases = 0;

 private:
  std::map<std::string, std::vector<int64_t>> shapes_;
};

TEST(LoadWeights, ReleasesTheSourcesPagesAsItCopies) {
  torch::nn::Sequential module(torch::nn::Linear(256, 256), torch::nn::Linear(256, 256));
  CountingSource source(*module);
  // Four tensors: 256 KiB, 1 KiB, 256 KiB, 1 KiB of float32.
  load_weights(*module, source, "two layers", /*release_every_bytes=*/200 * 1024);
  EXPECT_EQ(source.releases, 2);  // after each large weight
  for (const auto& p : module->parameters()) EXPECT_TRUE(torch::all(p == 0.5f).item<bool>());

  CountingSource never(*module);
  load_weights(*module, never, "two layers");  // far below the default
  EXPECT_EQ(never.releases, 0);
}

// Text encoders keep a checkpoint's weights in its 8- or 16-bit type only when all of them share
// it.
TEST(StoredFloatType, IsTheOneNarrowTypeUnderThePrefix) {
  const auto path = (std::filesystem::temp_directory_path() /
                     ("dd_stored_type_" + std::to_string(getpid()) + ".safetensors"))
                        .string();
  io::save_safetensors(path, {{"te.a", torch::zeros({2}, torch::kHalf)},
                              {"te.b", torch::zeros({2}, torch::kHalf)},
                              {"te.position_ids", torch::zeros({2}, torch::kLong)},
                              {"te_bf.a", torch::zeros({2}, torch::kBFloat16)},
                              {"fp8.a", torch::zeros({2}, torch::kFloat8_e4m3fn)},
                              {"fp8.position_ids", torch::zeros({2}, torch::kLong)},
                              {"e5m2.a", torch::zeros({2}, torch::kFloat8_e5m2)},
                              {"mixed8.a", torch::zeros({2}, torch::kFloat8_e4m3fn)},
                              {"mixed8.b", torch::zeros({2}, torch::kFloat8_e5m2)},
                              {"mixed.a", torch::zeros({2}, torch::kHalf)},
                              {"mixed.b", torch::zeros({2}, torch::kFloat32)},
                              {"unet.a", torch::zeros({2}, torch::kFloat32)}});
  const io::SafetensorsFile file(path);
  EXPECT_EQ(stored_float_type(file, "te."), torch::kHalf);  // integer buffers do not count
  EXPECT_EQ(stored_float_type(file, "te_bf."), torch::kBFloat16);
  EXPECT_EQ(stored_float_type(file, "mixed."), torch::kFloat32);
  EXPECT_EQ(stored_float_type(file, "fp8."), torch::kFloat8_e4m3fn);
  EXPECT_EQ(stored_float_type(file, "e5m2."), torch::kFloat8_e5m2);
  EXPECT_EQ(stored_float_type(file, "mixed8."), torch::kFloat32);
  EXPECT_EQ(stored_float_type(file, "unet."), torch::kFloat32);
  EXPECT_EQ(stored_float_type(file, "absent."), torch::kFloat32);
  EXPECT_EQ(stored_float_type(file, "te"), torch::kFloat32);  // te. and te_bf. together: mixed
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace dd::models
