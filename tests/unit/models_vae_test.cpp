// The VAE against every vae_decode / vae_encode case of the reference fixtures, with the weights
// loaded from the single-file checkpoint and from the diffusers folder.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "io/safetensors.h"
#include "models/vae.h"
#include "models/vae_keys.h"
#include "models/weights.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return nlohmann::json::parse(in);
}

// The fixtures' VAE of `model` from `layout` ("single_file" or "diffusers_dir").
AutoencoderKL load_vae(const std::string& model, const std::string& layout) {
  const auto& fx = test::fixtures();
  if (layout == "single_file") {
    const std::string arch = fx.model_path(model, "arch");
    const VaeConfig config = model_config_from_arch_json(read_json(arch), arch).vae;
    auto file = std::make_shared<io::SafetensorsFile>(fx.model_path(model, layout));
    AutoencoderKL vae(config);
    load_weights(*vae, *vae_ldm_weights(file, config), "vae");
    return vae;
  }
  const std::string dir = fx.model_path(model, layout) + "/vae";
  const VaeConfig config = vae_config_from_diffusers(read_json(dir + "/config.json"));
  auto file = std::make_shared<io::SafetensorsFile>(dir + "/diffusion_pytorch_model.safetensors");
  AutoencoderKL vae(config);
  load_weights(*vae, FileWeights(file, ""), "vae");
  return vae;
}

// Where a difference starts: every dbg.* intermediate the case has and the trace recorded.
std::string trace_report(const io::FixtureCase& c, const VaeTrace& trace) {
  std::string report;
  const nlohmann::json debug = c.spec().value("debug", nlohmann::json::object());
  for (const auto& [name, entry] : debug.items()) {
    auto it = trace.find(name);
    if (it == trace.end()) continue;
    const auto expected = c.debug(name);
    report +=
        "  " + name + ": " +
        (expected.sizes() == it->second.sizes()
             ? "max abs diff " + c10::str(io::max_abs_diff(it->second, expected))
             : "shape " + c10::str(it->second.sizes()) + " vs " + c10::str(expected.sizes())) +
        "\n";
  }
  return report;
}

void check_vae_cases(const std::string& layout) {
  torch::NoGradGuard no_grad;
  int decode_cases = 0, encode_cases = 0;
  std::map<std::string, AutoencoderKL> vaes;
  for (const auto& c : test::fixtures().cases()) {
    if (c.kind() != "vae_decode" && c.kind() != "vae_encode") continue;
    SCOPED_TRACE(c.name() + " (" + layout + ")");
    if (!vaes.count(c.model())) vaes.emplace(c.model(), load_vae(c.model(), layout));
    AutoencoderKL& vae = vaes.at(c.model());
    if (c.has_input("scaling_factor")) {
      EXPECT_DOUBLE_EQ(vae->config().scaling_factor, c.input_value("scaling_factor").get<double>());
    }

    VaeTrace trace;
    std::map<std::string, torch::Tensor> got;
    if (c.kind() == "vae_decode") {
      ++decode_cases;
      got["image"] = vae->decode(c.input("z"), &trace);
    } else {
      ++encode_cases;
      const auto posterior = vae->encode(c.input("x"), &trace);
      got["mean"] = posterior.mean;
      got["logvar"] = posterior.logvar;
      got["std"] = posterior.std;
    }
    bool failed = false;
    for (const auto& name : c.expected_names()) {
      ASSERT_TRUE(got.count(name)) << "no output '" << name << "' for this case kind";
      const auto expected = c.expected(name);
      ASSERT_EQ(got[name].sizes(), expected.sizes()) << name;
      const double diff = io::max_abs_diff(got[name], expected);
      const double tolerance = c.tolerance(name);
      EXPECT_LE(diff, tolerance) << name;
      failed |= !(diff <= tolerance);
      std::cout << "[ vae      ] " << c.name() << " " << layout << " " << name << ": max abs diff "
                << diff << " (atol " << tolerance << ")\n";
    }
    if (failed) ADD_FAILURE() << "intermediates:\n" << trace_report(c, trace);
  }
  EXPECT_GT(decode_cases, 0);
  EXPECT_GT(encode_cases, 0);
}

TEST(VaeFixtures, SingleFileMatchesReference) {
  DD_REQUIRE_FIXTURES();
  check_vae_cases("single_file");
}

TEST(VaeFixtures, DiffusersFolderMatchesReference) {
  DD_REQUIRE_FIXTURES();
  check_vae_cases("diffusers_dir");
}

TEST(Vae, OutputShapesFollowTheConfig) {
  torch::NoGradGuard no_grad;
  VaeConfig config;
  config.block_out_channels = {8, 16, 16};
  config.layers_per_block = 1;
  config.norm_groups = 4;
  AutoencoderKL vae(config);
  EXPECT_EQ(vae->downscale_factor(), 4);
  const auto posterior = vae->encode(torch::zeros({2, 3, 24, 16}));
  EXPECT_EQ(posterior.mean.sizes(), (std::vector<int64_t>{2, 4, 6, 4}));
  EXPECT_EQ(vae->decode(posterior.mean).sizes(), (std::vector<int64_t>{2, 3, 24, 16}));
  EXPECT_THROW(vae->decode(torch::zeros({1, 3, 4, 4})), Error);
  EXPECT_THROW(vae->encode(torch::zeros({3, 24, 16})), Error);
}

// Large images take the query-sliced path of the mid-block attention; it must compute plain
// softmax(q k^T / sqrt(C)) v over all pixels.
TEST(Vae, SlicedAttentionEqualsFullAttention) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const int channels = 4;
  VaeAttention attention(channels, VaeNorm{2, 1e-6});
  const auto x = torch::randn({1, channels, 72, 64});  // 4608 tokens: more than one slice
  auto p = attention->named_parameters();
  auto linear = [&](const torch::Tensor& t, const std::string& name) {
    return torch::matmul(t, p[name + ".weight"].t()) + p[name + ".bias"];
  };
  const auto h = torch::group_norm(x, 2, p["group_norm.weight"], p["group_norm.bias"], 1e-6)
                     .flatten(2)
                     .transpose(1, 2);
  const auto scores = torch::matmul(linear(h, "to_q"), linear(h, "to_k").transpose(1, 2)) / 2.0;
  const auto out = linear(torch::matmul(torch::softmax(scores, -1), linear(h, "to_v")), "to_out.0");
  const auto expected = out.transpose(1, 2).reshape(x.sizes()) + x;
  EXPECT_LT(io::max_abs_diff(attention(x), expected), 1e-5);
}

}  // namespace
}  // namespace dd::models
