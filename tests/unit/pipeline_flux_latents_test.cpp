// FLUX latent packing, position ids and the Fill / inpaint mask parts against the fixtures:
// `latent_packing` and the pipelines' ids (fixtures-flux), `fill_conditioning` and the inpaint
// case's mask tensors (fixtures-flux-fill). Permutations and comparisons: exact.
#include <gtest/gtest.h>

#include <fstream>

#include "io/safetensors.h"
#include "models/vae.h"
#include "models/weights.h"
#include "pipeline/flux_latents.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

int64_t int_input(const io::FixtureCase& c, const char* name) {
  return c.input_value(name).get<int64_t>();
}

void expect_exact(const torch::Tensor& got, const torch::Tensor& expected,
                  const std::string& what) {
  ASSERT_EQ(got.sizes(), expected.sizes()) << what;
  const double diff = io::max_abs_diff(got, expected);
  std::printf("  %-28s max abs diff %.3g (exact)\n", what.c_str(), diff);
  EXPECT_EQ(diff, 0.0) << what;
}

double expect_within(const io::FixtureCase& c, const std::string& name, const torch::Tensor& got) {
  const auto expected = c.expected(name);
  EXPECT_EQ(got.sizes(), expected.sizes()) << name;
  if (got.sizes() != expected.sizes()) return INFINITY;
  const double diff = io::max_abs_diff(got, expected);
  std::printf("  %-28s max abs diff %.3g (atol %.3g)\n", name.c_str(), diff, c.tolerance(name));
  EXPECT_LE(diff, c.tolerance(name)) << name;
  return diff;
}

TEST(FluxLatentsFixtures, PackingUnpackingAndImageIds) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& c = test::flux_fixtures().at("latent_packing");
  const auto latents = c.input("latents");
  const FluxLatentSize size = flux_latent_size(int_input(c, "height"), int_input(c, "width"));
  ASSERT_EQ(size.height, latents.size(2));
  ASSERT_EQ(size.width, latents.size(3));
  const auto packed = pack_latents(latents);
  expect_exact(packed, c.expected("packed"), "packed");
  EXPECT_EQ(size.tokens(), packed.size(1));
  expect_exact(unpack_latents(c.expected("packed"), size.height, size.width),
               c.expected("unpacked"), "unpacked");
  expect_exact(flux_image_ids(size.height, size.width).unsqueeze(0), c.expected("img_ids"),
               "img_ids");
}

// Every pipeline case's img_ids / text_ids: 3-D in diffusers 0.30.3, 2-D in 0.32.2.
void check_pipeline_ids(const io::FixtureSet& set) {
  int checked = 0;
  for (const auto& c : set.cases()) {
    if (c.kind() != "pipeline") continue;
    SCOPED_TRACE(c.name());
    const FluxLatentSize size = flux_latent_size(int_input(c, "height"), int_input(c, "width"));
    const auto img_ids = c.debug("img_ids"), text_ids = c.debug("text_ids");
    const auto want_img = flux_image_ids(size.height, size.width);
    const auto want_text = flux_text_ids(int_input(c, "max_sequence_length"));
    expect_exact(img_ids.dim() == 3 ? want_img.unsqueeze(0) : want_img, img_ids, "img_ids");
    expect_exact(text_ids.dim() == 3 ? want_text.unsqueeze(0) : want_text, text_ids, "text_ids");
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(FluxLatentsFixtures, PipelineIds) {
  DD_REQUIRE_FLUX_FIXTURES();
  check_pipeline_ids(test::flux_fixtures());
}

TEST(FluxLatentsFixtures, FillSupplementPipelineIds) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  check_pipeline_ids(test::flux_fill_fixtures());
}

models::AutoencoderKL load_fill_vae(const io::FixtureSet& set, const std::string& model) {
  const std::string dir = set.model_path(model, "diffusers_dir") + "/vae";
  std::ifstream in(dir + "/config.json");
  EXPECT_TRUE(in) << dir;
  const auto config = models::vae_config_from_diffusers(nlohmann::json::parse(in));
  auto file = std::make_shared<io::SafetensorsFile>(dir + "/diffusion_pytorch_model.safetensors");
  models::AutoencoderKL vae(config);
  models::load_weights(*vae, models::FileWeights(file, ""), "vae");
  return vae;
}

TEST(FluxLatentsFixtures, FillConditioning) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fill_fixtures();
  const auto& c = set.at("fill_conditioning");
  const FluxLatentSize size = flux_latent_size(int_input(c, "height"), int_input(c, "width"));

  const auto image_pre = c.input("image") * 2 - 1;
  expect_within(c, "image_pre", image_pre);
  const auto mask_pre = binarize_mask(c.input("mask"));
  expect_exact(mask_pre, c.expected("mask_pre"), "mask_pre");
  const auto masked = fill_masked_image(image_pre, mask_pre);
  expect_within(c, "masked_image", masked);
  const auto mask_packed = fill_mask_packed(mask_pre, size.height, size.width);
  expect_exact(mask_packed, c.expected("mask_packed"), "mask_packed");

  // The masked image's posterior sample with the reference's draw, in pipeline space.
  auto vae = load_fill_vae(set, c.model());
  EXPECT_DOUBLE_EQ(vae->config().shift_factor, c.input_value("shift_factor").get<double>());
  const auto posterior = vae->encode(masked);
  const auto sample = posterior.mean + posterior.std * c.input("noise")[0];
  const auto latents = models::pipeline_latents_of(sample, vae->config());
  ASSERT_EQ(latents.size(2), size.height);
  ASSERT_EQ(latents.size(3), size.width);
  const auto masked_latents = pack_latents(latents);
  expect_within(c, "masked_image_latents", masked_latents);
  expect_within(c, "conditioning", fill_conditioning(masked_latents, mask_packed));
  // The packing and concatenation alone, from the reference's own latents: exact.
  expect_exact(fill_conditioning(pack_latents(c.debug("masked_image_latents_unpacked")),
                                 c.expected("mask_packed")),
               c.expected("conditioning"), "conditioning (given latents)");
}

TEST(FluxLatents, FillMaskPackingFollowsTheIndexFormula) {
  // mask_packed[0, i*(w/2)+j, (py*8+px)*4 + dy*2 + dx] = mask[0, 0, (2i+dy)*8 + py, (2j+dx)*8 + px]
  const int64_t h = 4, w = 6;
  const auto mask = torch::arange(h * 8 * w * 8, torch::kFloat32).reshape({1, 1, h * 8, w * 8});
  const auto packed = fill_mask_packed(mask, h, w);
  ASSERT_EQ(packed.sizes(), (std::vector<int64_t>{1, (h / 2) * (w / 2), 256}));
  const auto m = mask.accessor<float, 4>();
  const auto p = packed.accessor<float, 3>();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < h / 2; ++i)
    for (int64_t j = 0; j < w / 2; ++j)
      for (int64_t py = 0; py < 8; ++py)
        for (int64_t px = 0; px < 8; ++px)
          for (int64_t dy = 0; dy < 2; ++dy)
            for (int64_t dx = 0; dx < 2; ++dx)
              mismatches += p[0][i * (w / 2) + j][(py * 8 + px) * 4 + dy * 2 + dx] !=
                            m[0][0][(2 * i + dy) * 8 + py][(2 * j + dx) * 8 + px];
  EXPECT_EQ(mismatches, 0);
  EXPECT_THROW(fill_mask_packed(mask, h + 1, w), Error);
}

TEST(FluxLatentsFixtures, InpaintMask) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  const auto& c = test::flux_fill_fixtures().at("pipe_flux_inpaint");
  const FluxLatentSize size = flux_latent_size(int_input(c, "height"), int_input(c, "width"));
  const auto mask_pre = binarize_mask(c.input("mask"));
  expect_exact(mask_pre, c.debug("mask_pre"), "mask_pre");
  expect_exact(inpaint_mask_latent(mask_pre, size.height, size.width), c.debug("mask_latent"),
               "mask_latent");
  expect_exact(inpaint_mask_packed(mask_pre, size.height, size.width), c.debug("mask_packed"),
               "mask_packed");
  // The top-left pixel of each 8x8 block, not its centre.
  const auto strided = mask_pre.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                       torch::indexing::Slice(0, torch::indexing::None, 8),
                                       torch::indexing::Slice(0, torch::indexing::None, 8)});
  expect_exact(inpaint_mask_latent(mask_pre, size.height, size.width), strided, "mask[::8, ::8]");
}

TEST(FluxLatentsFixtures, FillPipelineMaskPacking) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  const auto& c = test::flux_fill_fixtures().at("pipe_flux_fill");
  const FluxLatentSize size = flux_latent_size(int_input(c, "height"), int_input(c, "width"));
  const auto mask_pre = binarize_mask(c.input("mask"));
  expect_exact(mask_pre, c.debug("mask_pre"), "mask_pre");
  expect_exact(fill_mask_packed(mask_pre, size.height, size.width), c.debug("mask_packed"),
               "mask_packed");
  expect_exact(pack_latents(c.input("latents")), c.input("latents_packed"), "latents_packed");
}

TEST(FluxLatents, SizeRuleAndRoundTrip) {
  EXPECT_EQ(flux_latent_size(1024, 1024).height, 128);
  EXPECT_EQ(flux_latent_size(1024, 1024).tokens(), 4096);
  const auto s = flux_latent_size(72, 100);  // multiples of 8, not 16: rounded down
  EXPECT_EQ(s.height, 8);
  EXPECT_EQ(s.width, 12);
  EXPECT_THROW(flux_latent_size(8, 64), Error);
  const auto x = torch::randn({2, 16, 6, 10});
  EXPECT_TRUE(torch::equal(unpack_latents(pack_latents(x), 6, 10), x));
  EXPECT_THROW(pack_latents(torch::zeros({1, 16, 5, 4})), Error);
  EXPECT_THROW(unpack_latents(torch::zeros({1, 14, 64}), 6, 10), Error);
  const auto ids = flux_image_ids(4, 6);
  EXPECT_EQ(ids.sizes(), (std::vector<int64_t>{6, 3}));
  EXPECT_EQ(ids[4][1].item<float>(), 1.0f);  // token 4 = patch row 1, column 1
  EXPECT_EQ(ids[4][2].item<float>(), 1.0f);
  EXPECT_EQ(ids[5][2].item<float>(), 2.0f);
  EXPECT_EQ(flux_text_ids(7).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(binarize_mask(torch::tensor({0.49f, 0.5f, 1.0f}).view({1, 1, 1, 3}))
                .flatten()
                .sum()
                .item<float>(),
            2.0f);
}

}  // namespace
}  // namespace dd::pipeline
