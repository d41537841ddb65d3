// The UNet against the reference fixtures (every `unet_forward` case, weights from both the
// single-file checkpoint and the diffusers folder), plus its checkpoint key mapping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "io/tensor_file.h"
#include "models/checkpoint_keys.h"
#include "models/unet.h"
#include "models/weights.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

const char* const kDiffusersLayout = "diffusers_dir";
const char* const kSingleFileLayout = "single_file";
const char* const kSingleFilePrefix = "model.diffusion_model.";

UNetConfig unet_config(const std::string& model) {
  const auto path = test::fixtures().model_path(model, "arch");
  std::ifstream in(path);
  return model_config_from_arch_json(nlohmann::json::parse(in), path).unet;
}

std::string diffusers_unet_file(const std::string& model) {
  return test::fixtures().model_path(model, kDiffusersLayout) +
         "/unet/diffusion_pytorch_model.safetensors";
}

std::shared_ptr<const io::SafetensorsFile> open(const std::string& path) {
  return std::make_shared<const io::SafetensorsFile>(path);
}

std::unique_ptr<FileWeights> unet_weights(const std::string& path, const std::string& layout,
                                          const UNetConfig& config) {
  if (layout == kDiffusersLayout) return std::make_unique<FileWeights>(open(path), "");
  return std::make_unique<FileWeights>(
      open(path), kSingleFilePrefix,
      [config](const std::string& name) { return unet_single_file_key(name, config); });
}

std::string weights_path(const std::string& model, const std::string& layout) {
  return layout == kDiffusersLayout ? diffusers_unet_file(model)
                                    : test::fixtures().model_path(model, kSingleFileLayout);
}

UNet load_unet(const std::string& model, const std::string& layout) {
  const auto config = unet_config(model);
  UNet unet(config);
  load_weights(*unet, *unet_weights(weights_path(model, layout), layout, config), "unet");
  unet->eval();
  return unet;
}

// One float32 UNet per (model, layout), shared by the cases.
UNet cached_unet(const std::string& model, const std::string& layout) {
  static std::map<std::string, UNet> cache;
  const auto key = model + "/" + layout;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, load_unet(model, layout)).first;
  return it->second;
}

// The `unet_forward` cases of the manifest. Evaluated while gtest registers the tests, where an
// exception would abort every test of the binary: an unreadable manifest becomes one case name
// that no manifest has, whose test then fails with the manifest's error.
const char* const kUnreadableManifest = "manifest_unreadable";

std::vector<std::string> unet_case_names() {
  std::vector<std::string> names;
  if (test::fixtures_dir().empty()) return names;
  try {
    for (const auto& c : test::fixtures().cases())
      if (c.kind() == "unet_forward") names.push_back(c.name());
  } catch (const std::exception&) {
    names = {kUnreadableManifest};
  }
  return names;
}

torch::Tensor timestep_of(const io::FixtureCase& c) {
  const auto& value = c.input_value("timestep");
  return value.is_null() ? c.input("timestep") : torch::tensor(value.get<double>());
}

torch::Tensor optional_input(const io::FixtureCase& c, const std::string& name) {
  return c.has_input(name) ? c.input(name) : torch::Tensor();
}

torch::Tensor run_case(UNet& unet, const io::FixtureCase& c, UNetImpl::Trace* trace = nullptr) {
  torch::NoGradGuard no_grad;
  UNetImpl::Trace unused;
  return unet->forward_traced(trace ? *trace : unused, c.input("sample"), timestep_of(c),
                              c.input("encoder_hidden_states"), optional_input(c, "text_embeds"),
                              optional_input(c, "time_ids"));
}

// Where the computation first leaves the reference: every dbg.* tensor the case has.
std::string intermediate_report(const io::FixtureCase& c, const UNetImpl::Trace& trace) {
  std::ostringstream out;
  out << "intermediates (max |diff| vs dbg.*):\n";
  if (!c.spec().contains("debug")) return out.str();
  const auto& debug = c.spec()["debug"];
  for (auto entry = debug.begin(); entry != debug.end(); ++entry) {
    const auto& name = entry.key();
    const auto it = trace.find(name);
    if (it == trace.end()) continue;
    const auto expected = c.debug(name);
    out << "  " << name << ": ";
    if (expected.sizes() != it->second.sizes())
      out << "shape " << it->second.sizes() << " vs " << expected.sizes() << "\n";
    else
      out << io::max_abs_diff(it->second, expected) << "\n";
  }
  return out.str();
}

class UNetFixture : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(UNetFixture, MatchesReference) {
  DD_REQUIRE_FIXTURES();
  const auto& [case_name, layout] = GetParam();
  const auto& c = test::fixtures().at(case_name);
  auto unet = cached_unet(c.model(), layout);
  UNetImpl::Trace trace;
  const auto noise_pred = run_case(unet, c, &trace);

  const double diff = io::max_abs_diff(noise_pred, c.expected("noise_pred"));
  const double atol = c.tolerance("noise_pred");
  std::printf("[ unet ] %s %s noise_pred: max|diff| %.3g (atol %.3g)\n", case_name.c_str(),
              layout.c_str(), diff, atol);
  EXPECT_LE(diff, atol) << intermediate_report(c, trace);

  if (c.has_expected("noise_pred_cfg")) {
    // Batch [uncond, cond] as the pipeline builds it.
    const double g = c.input_value("guidance_scale").get<double>();
    const auto halves = noise_pred.chunk(2);
    const auto guided = halves[0] + g * (halves[1] - halves[0]);
    const double cfg_diff = io::max_abs_diff(guided, c.expected("noise_pred_cfg"));
    const double cfg_atol = c.tolerance("noise_pred_cfg");
    std::printf("[ unet ] %s %s noise_pred_cfg: max|diff| %.3g (atol %.3g)\n", case_name.c_str(),
                layout.c_str(), cfg_diff, cfg_atol);
    EXPECT_LE(cfg_diff, cfg_atol);
  }
}

std::string param_name(const ::testing::TestParamInfo<UNetFixture::ParamType>& info) {
  auto name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
  for (auto& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, UNetFixture,
                         ::testing::Combine(::testing::ValuesIn(unet_case_names()),
                                            ::testing::Values(kSingleFileLayout, kDiffusersLayout)),
                         param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(UNetFixture);

std::vector<std::string> unet_models() {
  std::set<std::string> models;
  for (const auto& name : unet_case_names()) models.insert(test::fixtures().at(name).model());
  return {models.begin(), models.end()};
}

// Every UNet parameter maps to a distinct single-file key, and together they are exactly the
// file's model.diffusion_model.* tensors: nothing unread, nothing read twice.
TEST(UNetCheckpointKeys, MapOntoEverySingleFileTensor) {
  DD_REQUIRE_FIXTURES();
  for (const auto& model : unet_models()) {
    SCOPED_TRACE(model);
    const auto config = unet_config(model);
    UNet unet(config);
    std::set<std::string> mapped;
    size_t count = 0;
    for (const auto& item : unet->named_parameters()) {
      mapped.insert(unet_single_file_key(item.key(), config));
      ++count;
    }
    EXPECT_EQ(mapped.size(), count) << "two parameters map to one key";
    std::set<std::string> stored;
    const io::SafetensorsFile file(test::fixtures().model_path(model, kSingleFileLayout));
    for (const auto& entry : file.entries())
      if (entry.name.rfind(kSingleFilePrefix, 0) == 0)
        stored.insert(entry.name.substr(std::string(kSingleFilePrefix).size()));
    EXPECT_EQ(mapped, stored);
  }
}

// The numbering of the real SD1.5 layout (4 levels, 2 resnets, attention on levels 0-2).
TEST(UNetCheckpointKeys, RealSd15Numbering) {
  const UNetConfig sd15;  // the defaults are SD1.5's
  const std::pair<const char*, const char*> expected[] = {
      {"conv_in.weight", "input_blocks.0.0.weight"},
      {"time_embedding.linear_2.bias", "time_embed.2.bias"},
      {"down_blocks.0.attentions.1.proj_in.weight", "input_blocks.2.1.proj_in.weight"},
      {"down_blocks.1.resnets.0.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight"},
      {"down_blocks.2.downsamplers.0.conv.bias", "input_blocks.9.0.op.bias"},
      {"down_blocks.3.resnets.1.conv2.bias", "input_blocks.11.0.out_layers.3.bias"},
      {"mid_block.resnets.1.time_emb_proj.weight", "middle_block.2.emb_layers.1.weight"},
      {"mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight",
       "middle_block.1.transformer_blocks.0.ff.net.2.weight"},
      {"up_blocks.0.resnets.2.norm1.weight", "output_blocks.2.0.in_layers.0.weight"},
      {"up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight"},
      {"up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"},
      {"up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_k.weight",
       "output_blocks.11.1.transformer_blocks.0.attn2.to_k.weight"},
      {"conv_norm_out.bias", "out.0.bias"},
      {"conv_out.weight", "out.2.weight"},
  };
  for (const auto& [diffusers, ldm] : expected)
    EXPECT_EQ(unet_single_file_key(diffusers, sd15), ldm) << diffusers;
  EXPECT_THROW(unet_single_file_key("down_blocks.4.resnets.0.conv1.weight", sd15), Error);
  EXPECT_THROW(unet_single_file_key("down_blocks.0.resnets.2.conv1.weight", sd15), Error);
  EXPECT_THROW(unet_single_file_key("mid_block.resnets.0.conv9.weight", sd15), Error);
  EXPECT_THROW(unet_single_file_key("encoder.conv_in.weight", sd15), Error);
}

// A scratch directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir()
      : path_(std::filesystem::temp_directory_path() /
              ("dd_unet_test_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Copies `source`, changing one tensor (`replacement` undefined: dropping it).
void write_edited_copy(const std::string& source, const std::string& target,
                       const std::string& name, const torch::Tensor& replacement) {
  const io::SafetensorsFile file(source);
  io::NamedTensors tensors;
  for (const auto& entry : file.entries()) {
    if (entry.name != name)
      tensors.emplace_back(entry.name, io::load_tensor(file, entry));
    else if (replacement.defined())
      tensors.emplace_back(entry.name, replacement);
  }
  io::save_safetensors(target, tensors);
}

std::string load_error(const std::string& path, const std::string& layout,
                       const UNetConfig& config) {
  UNet unet(config);
  try {
    load_weights(*unet, *unet_weights(path, layout, config), "unet");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(UNetWeights, WrongShapeIsAnErrorNamingTheTensor) {
  DD_REQUIRE_FIXTURES();
  const auto models = unet_models();
  ASSERT_FALSE(models.empty());
  const auto config = unet_config(models[0]);
  ScratchDir dir;
  const std::string name = "mid_block.attentions.0.proj_in.weight";
  const auto path = dir.file("wrong_shape.safetensors");
  const auto channels = config.block_out_channels.back();
  write_edited_copy(diffusers_unet_file(models[0]), path, name,
                    torch::zeros({channels + 1, channels}, torch::kFloat16));
  const auto message = load_error(path, kDiffusersLayout, config);
  EXPECT_NE(message.find(name), std::string::npos) << message;
  EXPECT_NE(message.find("shape"), std::string::npos) << message;
}

TEST(UNetWeights, MissingSingleFileTensorIsAnErrorNamingTheStoredKey) {
  DD_REQUIRE_FIXTURES();
  const auto models = unet_models();
  ASSERT_FALSE(models.empty());
  const auto config = unet_config(models[0]);
  ScratchDir dir;
  const std::string stored = std::string(kSingleFilePrefix) + "out.2.bias";
  const auto path = dir.file("missing.safetensors");
  write_edited_copy(test::fixtures().model_path(models[0], kSingleFileLayout), path, stored, {});
  const auto message = load_error(path, kSingleFileLayout, config);
  EXPECT_NE(message.find(stored), std::string::npos) << message;
}

// A [B] timestep with equal values is the same as one value for the batch; a timestep count
// that fits neither, or SDXL conditioning left out, is a dd::Error.
TEST(UNetInputs, TimestepPerSampleAndMissingConditioning) {
  DD_REQUIRE_FIXTURES();
  for (const auto& name : unet_case_names()) {
    const auto& c = test::fixtures().at(name);
    if (c.input("sample").size(0) < 2) continue;
    SCOPED_TRACE(name);
    auto unet = cached_unet(c.model(), kDiffusersLayout);
    torch::NoGradGuard no_grad;
    const auto sample = c.input("sample");
    const auto context = c.input("encoder_hidden_states");
    const auto text_embeds = optional_input(c, "text_embeds");
    const auto time_ids = optional_input(c, "time_ids");
    const auto t = timestep_of(c).to(torch::kFloat32);
    const auto one = unet->forward(sample, t, context, text_embeds, time_ids);
    const auto per_sample = unet->forward(sample, t.reshape({-1}).expand({sample.size(0)}), context,
                                          text_embeds, time_ids);
    EXPECT_EQ(io::max_abs_diff(one, per_sample), 0.0);
    EXPECT_THROW(
        unet->forward(sample, torch::zeros({sample.size(0) + 1}), context, text_embeds, time_ids),
        Error);
    if (unet->config().adm_in_channels > 0) {
      EXPECT_THROW(unet->forward(sample, t, context), Error);
    }
  }
}

// bf16 fast path: the same weights in bf16 must stay close to the float32 result, measured as
// the relative RMS error ||bf16 - fp32|| / ||fp32||. bf16 keeps 8 significant bits, so every
// weight and every activation is rounded by up to 2^-9 (0.2%); through the ~40 sequential
// layers of the UNet (random, un-normalised weights in the tiny models amplify deviations) the
// roundings add up to a few percent: measured 2-3.5% on the public fixtures. The 10% bound leaves
// room for other weights and sizes while still catching real bf16 bugs (a softmax or sinusoid
// computed in bf16 at t ~ 1000, an overflow, a tensor left in the wrong dtype), which give
// errors of order 100%.
TEST(UNetBf16, CloseToFloat32) {
  DD_REQUIRE_FIXTURES();
  for (const auto& name : unet_case_names()) {
    const auto& c = test::fixtures().at(name);
    SCOPED_TRACE(name);
    auto reference = cached_unet(c.model(), kDiffusersLayout);
    const auto expected = run_case(reference, c);
    auto unet = load_unet(c.model(), kDiffusersLayout);
    unet->to(torch::kBFloat16);
    const auto got = run_case(unet, c);
    ASSERT_EQ(got.scalar_type(), torch::kBFloat16);
    const auto error = got.to(torch::kFloat64) - expected.to(torch::kFloat64);
    const double relative = error.norm().item<double>() / expected.norm().item<double>();
    std::printf("[ unet ] %s bf16: relative RMS error %.3g, max|diff| %.3g (max|fp32| %.3g)\n",
                name.c_str(), relative, error.abs().max().item<double>(),
                expected.abs().max().item<double>());
    EXPECT_LT(relative, 0.1);
  }
}

}  // namespace
}  // namespace dd::models
