// The FLUX.1 transformer against the reference: the four transformer_forward cases from the
// diffusers folder, the BFL single file (config from the architecture JSON and detected from the
// shapes) and the same file under ComfyUI's prefix; the Fill model's transformer calls.
#include <gtest/gtest.h>

#include "models_flux_fixtures.h"
#include "test_support.h"
#include "util/error.h"

namespace dd {
namespace {

using models::FluxConfig;
using models::FluxWeightFiles;

const char* const kCases[] = {"transformer_schnell", "transformer_dev",
                              "transformer_schnell_b2_nonsquare", "transformer_dev_b2_nonsquare"};

struct Layout {
  std::string name;
  FluxConfig config;
  FluxWeightFiles weights;
};

// Every way the case's model can be loaded.
std::vector<Layout> layouts(const io::FixtureSet& set, const std::string& model) {
  const auto arch = models::flux_config_from_arch_json(test::flux_arch(set, model));
  const auto dir = test::flux_transformer_dir(set, model);
  std::vector<Layout> out;
  out.push_back({"diffusers folder", models::flux_config_from_json_file(dir + "/config.json"),
                 models::open_flux_diffusers_folder(dir)});
  out.push_back({"BFL file, arch JSON", arch, test::open_flux_single_file(set, model)});
  auto single = test::open_flux_single_file(set, model);
  out.push_back({"BFL file, detected",
                 models::flux_config_from_shapes(single.shape_of, arch.axes_dim), single});
  const auto prefixed =
      test::write_prefixed_copy(set.model_path(model, "single_file"), "model.diffusion_model.");
  out.push_back({"BFL file, ComfyUI prefix", arch,
                 models::open_flux_weights(std::make_shared<const io::SafetensorsFile>(prefixed))});
  return out;
}

TEST(FluxTransformer, MatchesReferenceInEveryLayout) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fixtures();
  for (const char* name : kCases) {
    const auto& c = set.at(name);
    const auto expected = c.expected("noise_pred");
    const double atol = c.tolerance("noise_pred");
    for (const auto& layout : layouts(set, c.model())) {
      SCOPED_TRACE(std::string(name) + " / " + layout.name);
      EXPECT_EQ(layout.config, models::flux_config_from_arch_json(test::flux_arch(set, c.model())));
      auto model = test::load_flux(layout.config, layout.weights);
      const auto got = model->forward(test::flux_case_inputs(c));
      const double diff = io::max_abs_diff(got, expected);
      std::cout << "[flux] " << name << " / " << layout.name << ": max diff " << diff << " (atol "
                << atol << ")\n";
      EXPECT_LE(diff, atol);
    }
  }
}

// Every recorded intermediate, so that a divergence is located (at the output's tolerance: the
// intermediates are smaller than the output).
TEST(FluxTransformer, IntermediatesMatchReference) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fixtures();
  for (const char* name : {"transformer_schnell", "transformer_dev"}) {
    const auto& c = set.at(name);
    auto model =
        test::load_flux(models::flux_config_from_arch_json(test::flux_arch(set, c.model())),
                        test::open_flux_single_file(set, c.model()));
    models::FluxTransformerImpl::Trace trace;
    model->forward(test::flux_case_inputs(c), &trace);
    const double atol = c.tolerance("noise_pred");
    int compared = 0;
    for (const auto& [debug_name, spec] : c.spec().at("debug").items()) {
      SCOPED_TRACE(std::string(name) + " " + debug_name);
      // The reference hooked diffusers' one time_proj module, which a dev model calls twice:
      // its record is the last call, the guidance's sinusoid.
      const bool guided =
          debug_name == "time_text_embed.time_proj" && model->config().guidance_embed;
      const auto traced = guided ? "time_text_embed.guidance_proj" : debug_name;
      ASSERT_TRUE(trace.count(traced)) << "not traced";
      const double diff = io::max_abs_diff(trace.at(traced), c.debug(debug_name));
      std::cout << "[flux] " << name << " " << debug_name << ": max diff " << diff << "\n";
      EXPECT_LE(diff, atol);
      ++compared;
    }
    EXPECT_GE(compared, 12);
  }
}

TEST(FluxTransformer, GuidanceMustMatchTheModel) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fixtures();
  const auto& dev = set.at("transformer_dev");
  auto model =
      test::load_flux(models::flux_config_from_arch_json(test::flux_arch(set, dev.model())),
                      test::open_flux_single_file(set, dev.model()));
  auto inputs = test::flux_case_inputs(dev);
  inputs.guidance = torch::Tensor();
  EXPECT_THROW(model->forward(inputs), Error);

  const auto& schnell = set.at("transformer_schnell");
  auto plain =
      test::load_flux(models::flux_config_from_arch_json(test::flux_arch(set, schnell.model())),
                      test::open_flux_single_file(set, schnell.model()));
  inputs = test::flux_case_inputs(schnell);
  inputs.guidance = torch::full({1}, 3.5);
  EXPECT_THROW(plain->forward(inputs), Error);
}

// 2-D ids (diffusers >= 0.31) and 3-D ids (0.30) give the same result.
TEST(FluxTransformer, UnbatchedIdsAreBroadcast) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fixtures();
  const auto& c = set.at("transformer_schnell_b2_nonsquare");
  auto model = test::load_flux(models::flux_config_from_arch_json(test::flux_arch(set, c.model())),
                               test::open_flux_single_file(set, c.model()));
  auto inputs = test::flux_case_inputs(c);
  inputs.img_ids = inputs.img_ids[0];
  inputs.txt_ids = inputs.txt_ids[0];
  EXPECT_LE(io::max_abs_diff(model->forward(inputs), c.expected("noise_pred")),
            c.tolerance("noise_pred"));
}

TEST(FluxTransformer, Bfloat16ActivationsStayClose) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fixtures();
  const auto& c = set.at("transformer_dev");
  auto model = test::load_flux(models::flux_config_from_arch_json(test::flux_arch(set, c.model())),
                               test::open_flux_single_file(set, c.model()));
  model->to(torch::kBFloat16);
  auto inputs = test::flux_case_inputs(c);
  inputs.img = inputs.img.to(torch::kBFloat16);
  const auto got = model->forward(inputs);
  EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
  const auto expected = c.expected("noise_pred");
  // bf16 keeps 8 bits of mantissa: a few per cent of the output's range.
  EXPECT_LE(io::max_abs_diff(got.to(torch::kFloat32), expected),
            0.05 * expected.abs().max().item<double>());
}

// The Fill model (384 input channels) in both layouts, checked on the transformer calls of the
// Fill pipeline's reference run.
TEST(FluxTransformer, FillModelLoadsInBothLayouts) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& set = test::flux_fill_fixtures();
  const std::string model_name = "flux-fill-dev-tiny";
  const auto arch = models::flux_config_from_arch_json(test::flux_arch(set, model_name));
  EXPECT_EQ(arch.in_channels, 384);
  EXPECT_EQ(arch.out_channels, 64);
  const auto dir = test::flux_transformer_dir(set, model_name);
  const auto diffusers_config = models::flux_config_from_json_file(dir + "/config.json");
  EXPECT_EQ(diffusers_config, arch);
  const auto single = test::open_flux_single_file(set, model_name);
  const auto detected = models::flux_config_from_shapes(single.shape_of, arch.axes_dim);
  EXPECT_EQ(detected.in_channels, 384);
  EXPECT_EQ(detected, arch);
  const auto folder = models::open_flux_diffusers_folder(dir);
  EXPECT_EQ(models::flux_config_from_shapes(folder.shape_of, arch.axes_dim), arch);

  const auto& pipe = set.at("pipe_flux_fill");
  const auto calls_in = pipe.debug("transformer_in"), calls_out = pipe.debug("transformer_out");
  const double atol = pipe.tolerance("latents");
  for (const auto* weights : {&single, &folder}) {
    auto model = test::load_flux(arch, *weights);
    for (int64_t k = 0; k < calls_in.size(0); ++k) {
      models::FluxInputs in;
      in.img = calls_in[k];
      in.img_ids = pipe.debug("img_ids");
      in.txt = pipe.debug("prompt_embeds");
      in.txt_ids = pipe.debug("text_ids");
      in.timesteps = pipe.debug("transformer_timestep")[k];
      in.guidance = pipe.debug("transformer_guidance")[k];
      in.y = pipe.debug("pooled_prompt_embeds");
      const double diff = io::max_abs_diff(model->forward(in), calls_out[k]);
      std::cout << "[flux] fill call " << k << " (" << weights->layout << "): max diff " << diff
                << " (atol " << atol << ")\n";
      EXPECT_LE(diff, atol);
    }
  }
}

}  // namespace
}  // namespace dd
