// FLUX.1 from quantised and low-precision files, built from the tiny fixture models: a GGUF
// transformer (Q8_0 matrices stay packed), a T5 GGUF, float8 transformer and T5 files (weights
// kept in float8), and a bfloat16 compute dtype. Each runs deterministically and stays close to
// the float model's image, within what its rounding allows.
#include <gtest/gtest.h>

#include <set>

#include "models/packed_linear.h"
#include "pipeline_flux_variants.h"
#include "test_support.h"

namespace dd::pipeline {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::string kDev = "flux-dev-tiny";

// Q8_0 rounds each weight to a multiple of its block's max|w| / 127: an error of at most 0.4% of
// the block's largest weight, about 1% of a typical one, in every matrix. Through the tiny model's
// 4 blocks (whose modulations multiply errors), 2 Euler steps and the VAE decoder the image moves
// by about 0.016 (measured); 0.05 in [0, 1] pixels leaves a 3x margin, while a mis-scaled,
// transposed or misplaced block (errors of the order of the image, ~0.5) fails it.
constexpr double kQ8Image = 0.05;
// float8 e4m3 keeps 3 mantissa bits: each weight (norm scales and biases too) is off by up to
// 1/16 relative, 16x Q8_0's step; measured 0.079. Allowed 0.25, half of what wrong weights give.
constexpr double kFp8Image = 0.25;
// bfloat16 compute (8 mantissa bits) on float16 weights: activations off by ~0.4% per layer, like
// Q8_0's weights; measured 0.014.
constexpr double kBf16Image = 0.05;

torch::Tensor float_image() { return test::flux_images(*test::load_flux_folder(kDev)); }

void report(const char* what, double diff) {
  std::cout << "[ measured ] " << what << " max |image - float image| = " << diff << "\n";
}

TEST(FluxQuantised, AGgufTransformerKeepsItsQ8_0MatricesPacked) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  ModelSource source;
  source.path = dir.file("flux1-dev-Q8_0.gguf");
  const auto quantised = test::write_gguf_transformer(kDev, source.path);
  source.config_json = test::flux_arch_json(kDev);
  source.components_dir = test::flux_folder(kDev);
  const auto model = test::load_flux_model(source);

  const std::set<std::string> want_packed(quantised.begin(), quantised.end());
  size_t packed = 0, linears = 0;
  for (const auto& item : model->flux->named_modules("", /*include_self=*/false)) {
    const auto linear = std::dynamic_pointer_cast<models::PackedLinearImpl>(item.value());
    if (!linear) continue;
    ++linears;
    EXPECT_EQ(linear->is_packed(), want_packed.count(item.key() + ".weight") == 1) << item.key();
    packed += linear->is_packed() ? 1 : 0;
  }
  EXPECT_GT(packed, 10u);
  EXPECT_EQ(packed, want_packed.size());
  EXPECT_GT(linears, packed);  // vector_in.in_layer (40 inputs: no whole blocks) is F16

  const auto first = test::flux_images(*model);
  const auto second = test::flux_images(*model);
  EXPECT_TRUE(torch::equal(first, second));
  const double diff = io::max_abs_diff(first, float_image());
  report("GGUF Q8_0 transformer", diff);
  EXPECT_LE(diff, kQ8Image);
  EXPECT_GT(diff, 0.0);  // the quantised weights did run
}

TEST(FluxQuantised, AT5GgufMakesTheSameImage) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  ModelSource source;
  source.path = test::flux_bfl_file(kDev);
  source.config_json = test::flux_arch_json(kDev);
  source.components_dir = test::flux_folder(kDev);
  source.t5_path = dir.file("t5-v1_1-xxl-encoder-f16.gguf");
  test::write_gguf_t5(source.t5_path);
  const auto model = test::load_flux_model(source);
  // F16 in the GGUF holds the fixture's float16 values exactly.
  EXPECT_LE(io::max_abs_diff(test::flux_images(*model), float_image()), 1e-5);
}

bool all_float8(torch::nn::Module& module, int* count) {
  bool all = true;
  for (const auto& item : module.named_parameters()) {
    if (!item.value().is_floating_point() || item.value().numel() == 0) continue;
    ++*count;
    if (item.value().scalar_type() != torch::kFloat8_e4m3fn) {
      ADD_FAILURE() << item.key() << " is " << item.value().scalar_type();
      all = false;
    }
  }
  return all;
}

TEST(FluxQuantised, Float8FilesStayFloat8) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  ModelSource source;
  source.path = dir.file("flux1-dev-fp8.safetensors");
  io::save_safetensors(source.path, test::converted(test::read_tensors(test::flux_bfl_file(kDev)),
                                                    torch::kFloat8_e4m3fn));
  source.t5_path = dir.file("t5xxl_fp8_e4m3fn.safetensors");
  io::save_safetensors(source.t5_path, test::converted(test::read_tensors(test::flux_t5_file()),
                                                       torch::kFloat8_e4m3fn));
  source.config_json = test::flux_arch_json(kDev);
  source.components_dir = test::flux_folder(kDev);
  const auto model = test::load_flux_model(source);
  int flux_params = 0, t5_params = 0;
  EXPECT_TRUE(all_float8(*model->flux, &flux_params));
  EXPECT_TRUE(all_float8(*model->t5_encoder(), &t5_params));
  EXPECT_GT(flux_params, 10);
  EXPECT_GT(t5_params, 10);

  const auto first = test::flux_images(*model);
  EXPECT_TRUE(torch::equal(first, test::flux_images(*model)));
  const double diff = io::max_abs_diff(first, float_image());
  report("float8 transformer and T5", diff);
  EXPECT_LE(diff, kFp8Image);
}

TEST(FluxQuantised, Bfloat16ComputeRuns) {
  DD_REQUIRE_FLUX_FIXTURES();
  ModelSource source;
  source.path = test::flux_folder(kDev);
  source.dtype = torch::kBFloat16;
  const auto model = test::load_flux_model(source);
  EXPECT_EQ(model->dtype(), torch::kBFloat16);
  const auto image = test::flux_images(*model);
  EXPECT_EQ(image.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(image).all().item<bool>());
  EXPECT_TRUE(torch::equal(image, test::flux_images(*model)));
  const double diff = io::max_abs_diff(image, float_image());
  report("bfloat16 compute", diff);
  EXPECT_LE(diff, kBf16Image);
}

}  // namespace
}  // namespace dd::pipeline
