#include "conformance/case_support.h"

#include "pipeline/generate.h"
#include "util/error.h"

namespace dd::conformance {

Comparison compare(const io::FixtureCase& c, const std::string& output, const torch::Tensor& got,
                   const std::string& label) {
  const auto expected = c.expected(output);
  if (got.sizes() != expected.sizes())
    throw Error(output + ": shape " + c10::str(got.sizes()) + " but the reference is " +
                c10::str(expected.sizes()));
  return {(label.empty() ? "" : label + " ") + output,
          io::max_abs_diff(got.to(torch::kCPU), expected), c.tolerance(output)};
}

torch::Tensor input_on(const FixtureModels& models, const io::FixtureCase& c,
                       const std::string& name) {
  return c.input(name).to(models.device());
}

std::string string_input(const io::FixtureCase& c, const std::string& name) {
  const auto& value = c.input_value(name);
  return value.is_string() ? value.get<std::string>() : "";
}

std::vector<Comparison> compare_pipeline(const io::FixtureCase& c, FixtureModels& models,
                                         const pipeline::GenerationRequest& request) {
  std::vector<Comparison> out;
  for (auto layout : {FixtureModels::Layout::SingleFile, FixtureModels::Layout::Diffusers}) {
    pipeline::GenerationHooks hooks;
    hooks.noise =
        std::make_shared<RecordedNoise>(c.has_input("noise") ? c.input("noise") : torch::Tensor());
    const auto result = pipeline::generate(models.get(c.model(), layout), request, hooks);
    out.push_back(compare(c, "latents", result.latents, layout_name(layout)));
    out.push_back(compare(c, "image", result.images, layout_name(layout)));
  }
  return out;
}

torch::Tensor RecordedNoise::next(at::IntArrayRef shape) {
  if (!draws_.defined() || index_ >= draws_.size(0))
    throw Error("the engine asked for more random draws than the reference made");
  auto draw = draws_[index_++];
  if (draw.sizes() != shape)
    throw Error("random draw " + std::to_string(index_ - 1) + " has shape " +
                c10::str(draw.sizes()) + " but the engine asked for " + c10::str(shape));
  return draw;
}

}  // namespace dd::conformance
