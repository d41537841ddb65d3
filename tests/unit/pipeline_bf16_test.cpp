// The bf16 fast path against the fp32 reference path on the tiny model.
#include <ATen/record_function.h>
#include <gtest/gtest.h>

#include <sstream>

#include "io/fixtures.h"
#include "pipeline/generate.h"
#include "pipeline_test_models.h"
#include "test_support.h"

namespace dd::pipeline {
namespace {

double relative_rms(const torch::Tensor& got, const torch::Tensor& reference) {
  auto diff = (got.to(torch::kFloat64) - reference.to(torch::kFloat64)).pow(2).mean().sqrt();
  return (diff / reference.to(torch::kFloat64).pow(2).mean().sqrt()).item<double>();
}

// bf16 keeps 8 significant bits: each weight and activation is rounded by up to 2^-9 (0.2%).
// Through ~40 layers of the random-weight tiny model and 8 sampler steps those roundings add up
// to a few percent of the signal, while a real bf16 bug (wrong layout, lost scale, a layer run
// on unconverted weights) gives errors of the order of the signal itself (~100%). So the bound
// is 10% relative RMS on the latents and 0.1 mean absolute error on [0, 1] pixels.
TEST(Bf16, PipelineStaysCloseToFp32) {
  DD_REQUIRE_FIXTURES();
  GenerationRequest r;
  r.prompt = "a photograph of an astronaut riding a horse";
  r.negative_prompt = "blurry";
  r.width = 64;
  r.height = 64;
  r.steps = 8;
  r.sampler = "dpmpp_2m";
  r.seed = 5;
  const auto fp32 = generate(test::sd15_tiny(torch::kFloat32), r);
  const auto bf16 = generate(test::sd15_tiny(torch::kBFloat16), r);
  const double latents_error = relative_rms(bf16.latents, fp32.latents);
  const double pixel_error = (bf16.images - fp32.images).abs().mean().item<double>();
  std::cout << "bf16 vs fp32: latents relative RMS " << latents_error << ", mean |pixel diff| "
            << pixel_error << "\n";
  EXPECT_LT(latents_error, 0.10);
  EXPECT_LT(pixel_error, 0.10);
  EXPECT_GT(latents_error, 0.0) << "bf16 model did not compute in bf16";
}

TEST(Bf16, WeightsAreBf16AndChannelsLast) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny(torch::kBFloat16);
  for (const auto& param : model.unet->parameters()) {
    EXPECT_EQ(param.scalar_type(), torch::kBFloat16);
    if (param.dim() == 4) {
      EXPECT_TRUE(param.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
}

// The bf16 UNet is built block by block in bf16 (models/build_dtype.h) and its weights copied
// straight in: the result must be the float32 model's weights rounded once, as converting the
// whole float32 model after loading gives.
TEST(Bf16, WeightsAreTheFloat32WeightsRoundedOnce) {
  DD_REQUIRE_FIXTURES();
  auto& fp32 = test::sd15_tiny(torch::kFloat32);
  auto& bf16 = test::sd15_tiny(torch::kBFloat16);
  const auto check = [](torch::nn::Module& reference, torch::nn::Module& converted) {
    const auto rounded = reference.named_parameters();
    for (const auto& item : converted.named_parameters()) {
      SCOPED_TRACE(item.key());
      EXPECT_TRUE(
          torch::equal(item.value().contiguous(), rounded[item.key()].to(torch::kBFloat16)));
    }
  };
  check(*fp32.unet, *bf16.unet);
  check(*fp32.vae, *bf16.vae);
}

// Every copy ATen makes on this thread while one lives: the dtype and layout conversions (the
// outermost operator of each: aten::_to_copy running aten::copy_ is one conversion).
class ConversionLog {
 public:
  ConversionLog() {
    t_log = this;
    handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end)
                                             .needsInputs(true)
                                             .scopes({at::RecordScope::FUNCTION}));
  }
  ~ConversionLog() {
    at::removeCallback(handle_);
    t_log = nullptr;
  }
  ConversionLog(const ConversionLog&) = delete;
  ConversionLog& operator=(const ConversionLog&) = delete;

  std::vector<std::string> entries;  // "op sizes dtype"
  // Copies of tensors with at least this many dimensions.
  std::vector<std::string> of_dims_at_least(int64_t dims) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < entries.size(); ++i)
      if (dims_[i] >= dims) out.push_back(entries[i]);
    return out;
  }

 private:
  // aten::to and aten::contiguous return their input when it already has the asked-for dtype
  // and layout; when it has not, they run one of these, which is what gets logged.
  static bool is_copy(const std::string& name) {
    return name == "aten::_to_copy" || name == "aten::clone" || name == "aten::copy_";
  }
  static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
    if (t_log == nullptr || !is_copy(fn.name())) return nullptr;
    if (t_log->depth_++ == 0) {
      const auto inputs = fn.inputs();
      if (!inputs.empty() && inputs[0].isTensor()) {
        // copy_ writes its first argument from its second.
        const auto& t =
            inputs[std::string(fn.name()) == "aten::copy_" && inputs.size() > 1 ? 1 : 0].toTensor();
        std::ostringstream entry;
        entry << fn.name() << " " << t.sizes() << " " << t.scalar_type()
              << (t.is_contiguous(at::MemoryFormat::ChannelsLast) && t.dim() == 4 ? " NHWC" : "");
        t_log->entries.push_back(entry.str());
        t_log->dims_.push_back(t.dim());
      }
    }
    return std::make_unique<Observed>();
  }
  static void on_end(const at::RecordFunction&, at::ObserverContext* context) {
    if (context != nullptr && t_log != nullptr) --t_log->depth_;
  }

  struct Observed : at::ObserverContext {};
  static thread_local ConversionLog* t_log;
  std::vector<int64_t> dims_;
  int depth_ = 0;
  at::CallbackHandle handle_;
};
thread_local ConversionLog* ConversionLog::t_log = nullptr;

// Deliverable of the speed work: no dtype or layout conversion inside a bf16 step. The latents
// come in channels-last bf16 (DiffusionModel::to_compute) and every feature map of the UNet
// stays so; only the small timestep and text-embedding vectors are converted. The check sees
// real copies: a contiguous() to NCHW put into a ResNet for a try made it fail with an
// aten::clone of every 4-D map.
TEST(Bf16, UNetStepConvertsNoFeatureMap) {
  DD_REQUIRE_FIXTURES();
  for (auto* load : {&test::sd15_tiny, &test::sdxl_tiny}) {
    auto& model = load(torch::kBFloat16);
    SCOPED_TRACE(model.config().name);
    const torch::NoGradGuard no_grad;
    const auto& unet = model.config().unet;
    const auto latents = model.to_compute(torch::randn({2, unet.in_channels, 16, 16}));
    const auto context = torch::randn({2, 77, unet.context_dim}).to(torch::kBFloat16);
    torch::Tensor text_embeds, time_ids;
    if (unet.adm_in_channels > 0) {
      text_embeds = torch::randn({2, unet.adm_in_channels - 6 * unet.addition_time_embed_dim})
                        .to(torch::kBFloat16);
      time_ids = torch::tensor({64.0f, 64.0f, 0.0f, 0.0f, 64.0f, 64.0f}).repeat({2, 1});
    }
    const auto t = torch::full({2}, 500.0);
    model.unet->forward(latents, t, context, text_embeds, time_ids);  // warm-up
    ConversionLog log;
    model.unet->forward(latents, t, context, text_embeds, time_ids);
    // Feature maps are [B, C, H, W], and [B, H*W, C] inside the transformers; the vectors
    // (timestep embeddings, SDXL's pooled text and size ids) are [B, N].
    EXPECT_EQ(log.of_dims_at_least(3), std::vector<std::string>{});
    EXPECT_FALSE(log.entries.empty()) << "the log saw nothing: is the observer attached?";
  }
}

}  // namespace
}  // namespace dd::pipeline
