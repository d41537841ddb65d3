#include "service/job_request.h"

#include "io/image_codec.h"
#include "pipeline/family_defaults.h"
#include "pipeline/image_tensor.h"
#include "pipeline/resolve.h"
#include "util/error.h"

namespace dd::service {

namespace {

io::Image read_input_image(const std::string& path, const std::string& what) {
  return io::decode_image(io::read_file_bytes(path), what);
}

}  // namespace

pipeline::GenerationRequest prepare_request(JobSpec& spec, const ModelInfo& info,
                                            const pipeline::DiffusionModel& model,
                                            const ModelRegistry& models) {
  spec.model = info.id;
  io::Image init_image;
  if (!spec.init_image_path.empty()) {
    init_image = read_input_image(spec.init_image_path, "init image");
    spec.params.width = init_image.width;
    spec.params.height = init_image.height;
  }
  spec.params = pipeline::resolve(
      spec.params, pipeline::param_defaults(model.config(), info.defaults, spec.dialect_defaults));
  auto request = pipeline::engine_request(spec.params);
  if (!spec.conditioned_prompt.empty()) request.prompt = spec.conditioned_prompt;
  for (const auto& lora : spec.loras) {
    std::string path = lora.path;
    if (path.empty()) {
      const auto found = models.lora_path(lora.name);
      if (!found) throw InvalidParameter("loras", "unknown LoRA '" + lora.name + "'");
      path = *found;
    }
    request.loras.push_back({path, lora.weight});
  }
  if (!spec.init_image_path.empty()) request.init_image = pipeline::image_to_tensor(init_image);
  if (!spec.mask_path.empty())
    request.mask = pipeline::mask_to_tensor(read_input_image(spec.mask_path, "mask"));
  return request;
}

}  // namespace dd::service
