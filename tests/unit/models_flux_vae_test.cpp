// FLUX.1's VAE (16 latent channels, shift factor, no quant convs) against the vae_decode /
// vae_encode cases of the FLUX fixtures, from the diffusers folder and from the same weights
// renamed to the LDM layout of Black Forest Labs' ae.safetensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "models/vae.h"
#include "models/vae_keys.h"
#include "models/weights.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return nlohmann::json::parse(in);
}

std::string vae_dir(const std::string& model) {
  return test::flux_fixtures().model_path(model, "diffusers_dir") + "/vae";
}

VaeConfig flux_vae_config(const std::string& model) {
  return vae_config_from_diffusers(read_json(vae_dir(model) + "/config.json"));
}

AutoencoderKL load_diffusers_vae(const std::string& model) {
  const VaeConfig config = flux_vae_config(model);
  auto file = std::make_shared<io::SafetensorsFile>(vae_dir(model) +
                                                    "/diffusion_pytorch_model.safetensors");
  AutoencoderKL vae(config);
  load_weights(*vae, FileWeights(file, ""), "vae");
  return vae;
}

// The fixture VAE written as an ae.safetensors would hold it: LDM names, no prefix, float16 as
// stored, attention projections as 1x1 convs [C, C, 1, 1].
class LdmVaeFile {
 public:
  explicit LdmVaeFile(const std::string& model) {
    const VaeConfig config = flux_vae_config(model);
    const io::SafetensorsFile source(vae_dir(model) + "/diffusion_pytorch_model.safetensors");
    io::NamedTensors tensors;
    for (const auto& entry : source.entries()) {
      const std::string name = vae_ldm_name(entry.name, config);
      auto value = io::load_tensor(source, entry);
      if (name.find(".attn_1.") != std::string::npos && value.dim() == 2)
        value = value.reshape({value.size(0), value.size(1), 1, 1});
      tensors.emplace_back(name, value);
    }
    path_ =
        (fs::temp_directory_path() / ("dd_flux_ae_" + std::to_string(::getpid()) + ".st")).string();
    io::save_safetensors(path_, tensors);
  }
  ~LdmVaeFile() { fs::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

double check_output(const io::FixtureCase& c, const std::string& name, const torch::Tensor& got,
                    const std::string& how) {
  const auto expected = c.expected(name);
  EXPECT_EQ(got.sizes(), expected.sizes()) << name;
  if (got.sizes() != expected.sizes()) return INFINITY;
  const double diff = io::max_abs_diff(got, expected);
  std::printf("[ flux vae ] %s %s %s: max abs diff %.3g (atol %.3g)\n", c.name().c_str(),
              how.c_str(), name.c_str(), diff, c.tolerance(name));
  EXPECT_LE(diff, c.tolerance(name)) << c.name() << " " << name;
  return diff;
}

std::string trace_report(const io::FixtureCase& c, const VaeTrace& trace) {
  std::string report;
  const nlohmann::json debug = c.spec().value("debug", nlohmann::json::object());
  for (const auto& [name, entry] : debug.items()) {
    auto it = trace.find(name);
    if (it == trace.end()) continue;
    report += "  " + name + ": max abs diff " +
              std::to_string(io::max_abs_diff(it->second, c.debug(name))) + "\n";
  }
  return report;
}

// Every vae_decode / vae_encode case of the FLUX set with `vae`, in pipeline space.
void check_cases(AutoencoderKL& vae, const std::string& how) {
  torch::NoGradGuard no_grad;
  int decode_cases = 0, encode_cases = 0;
  for (const auto& c : test::flux_fixtures().cases()) {
    if (c.kind() != "vae_decode" && c.kind() != "vae_encode") continue;
    SCOPED_TRACE(c.name() + " (" + how + ")");
    EXPECT_DOUBLE_EQ(vae->config().scaling_factor, c.input_value("scaling_factor").get<double>());
    EXPECT_DOUBLE_EQ(vae->config().shift_factor, c.input_value("shift_factor").get<double>());
    VaeTrace trace;
    double worst = 0;
    if (c.kind() == "vae_decode") {
      ++decode_cases;
      const auto z = decoder_input_of(c.input("latents"), vae->config());
      const double z_diff = io::max_abs_diff(z, c.debug("z"));
      std::printf("[ flux vae ] %s %s z: max abs diff %.3g\n", c.name().c_str(), how.c_str(),
                  z_diff);
      EXPECT_LE(z_diff, 1e-6);
      worst = check_output(c, "image", vae->decode(z, &trace), how);
    } else {
      ++encode_cases;
      const auto posterior = vae->encode(c.input("x"), &trace);
      worst = std::max({check_output(c, "mean", posterior.mean, how),
                        check_output(c, "logvar", posterior.logvar, how),
                        check_output(c, "std", posterior.std, how),
                        check_output(c, "latents_from_mean",
                                     pipeline_latents_of(posterior.mean, vae->config()), how)});
    }
    if (!(worst <= 1e-4)) ADD_FAILURE() << "intermediates:\n" << trace_report(c, trace);
  }
  EXPECT_GT(decode_cases, 0);
  EXPECT_GT(encode_cases, 0);
}

TEST(FluxVaeFixtures, ConfigHasNoQuantConvsAndAShift) {
  DD_REQUIRE_FLUX_FIXTURES();
  const VaeConfig config = flux_vae_config("flux-schnell-tiny");
  EXPECT_FALSE(config.use_quant_conv);
  EXPECT_FALSE(config.use_post_quant_conv);
  EXPECT_EQ(config.latent_channels, 16);
  EXPECT_DOUBLE_EQ(config.shift_factor, 0.1159);
  AutoencoderKL vae(config);
  for (const auto& p : vae->named_parameters())
    EXPECT_EQ(p.key().find("quant_conv"), std::string::npos) << p.key();
}

TEST(FluxVaeFixtures, DiffusersFolderMatchesReference) {
  DD_REQUIRE_FLUX_FIXTURES();
  auto vae = load_diffusers_vae("flux-schnell-tiny");
  check_cases(vae, "diffusers_dir");
}

TEST(FluxVaeFixtures, LdmLayoutFileWithoutPrefixLoadsTheSameWeights) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const std::string model = "flux-schnell-tiny";
  const VaeConfig diffusers = flux_vae_config(model);
  const LdmVaeFile ldm(model);
  auto file = std::make_shared<io::SafetensorsFile>(ldm.path());
  ASSERT_TRUE(file->contains("encoder.mid.attn_1.q.weight"));
  ASSERT_TRUE(file->contains("decoder.up.3.block.0.conv1.weight"));

  // Only the scaling and shift factors and the group count come from outside the file.
  VaeConfig base;
  base.norm_groups = diffusers.norm_groups;
  base.scaling_factor = diffusers.scaling_factor;
  base.shift_factor = diffusers.shift_factor;
  const VaeConfig config = vae_config_from_ldm_keys(*file, "", base);
  EXPECT_EQ(config.block_out_channels, diffusers.block_out_channels);
  EXPECT_EQ(config.layers_per_block, diffusers.layers_per_block);
  EXPECT_EQ(config.latent_channels, 16);
  EXPECT_EQ(config.in_channels, 3);
  EXPECT_EQ(config.out_channels, 3);
  EXPECT_FALSE(config.use_quant_conv);
  EXPECT_FALSE(config.use_post_quant_conv);

  AutoencoderKL vae(config);
  load_weights(*vae, *vae_ldm_weights(file, config, ""), "vae");
  check_cases(vae, "ldm_file");

  // Bit-identical to the diffusers-folder VAE.
  auto reference = load_diffusers_vae(model);
  const auto z = decoder_input_of(test::flux_fixtures().at("vae_decode").input("latents"), config);
  EXPECT_EQ(io::max_abs_diff(vae->decode(z), reference->decode(z)), 0.0);
}

TEST(FluxVae, LatentMappingsAreInverse) {
  VaeConfig config;
  config.scaling_factor = 0.3611;
  config.shift_factor = 0.1159;
  const auto latents = torch::randn({1, 4, 3, 5});
  const auto z = decoder_input_of(latents, config);
  EXPECT_TRUE(torch::allclose(z, latents / 0.3611 + 0.1159));
  EXPECT_LT(io::max_abs_diff(pipeline_latents_of(z, config), latents), 1e-6);
  config.shift_factor = 0;  // SD: scaling only
  EXPECT_TRUE(torch::equal(decoder_input_of(latents, config), latents / 0.3611));
}

TEST(FluxVae, SdConfigKeepsItsQuantConvs) {
  VaeConfig config;
  config.block_out_channels = {8, 16};
  config.norm_groups = 4;
  AutoencoderKL vae(config);
  const auto params = vae->named_parameters();
  EXPECT_TRUE(params.contains("quant_conv.weight"));
  EXPECT_TRUE(params.contains("post_quant_conv.weight"));
  config.use_post_quant_conv = false;
  AutoencoderKL decoder_only_shift(config);
  EXPECT_TRUE(decoder_only_shift->named_parameters().contains("quant_conv.weight"));
  EXPECT_FALSE(decoder_only_shift->named_parameters().contains("post_quant_conv.weight"));
}

TEST(FluxVae, ConfigFromLdmKeysRejectsOtherFiles) {
  const auto path =
      (fs::temp_directory_path() / ("dd_not_a_vae_" + std::to_string(::getpid()) + ".st")).string();
  io::save_safetensors(path, {{"img_in.weight", torch::zeros({2, 2})}});
  const io::SafetensorsFile file(path);
  EXPECT_THROW(vae_config_from_ldm_keys(file, "", VaeConfig{}), Error);
  fs::remove(path);
}

}  // namespace
}  // namespace dd::models
