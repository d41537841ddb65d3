#include "pipeline/latent_preview.h"

#include <filesystem>

#include "io/image.h"
#include "pipeline/image_tensor.h"
#include "util/error.h"

namespace dd::pipeline {

LatentPreview::LatentPreview(PreviewDecoder decoder, std::string path, int every)
    : decoder_(std::move(decoder)), path_(std::move(path)), every_(every) {
  if (every_ < 1) throw Error("preview: the interval must be at least 1 step");
}

void LatentPreview::operator()(int step, int total, const torch::Tensor& latents) {
  if (!wants_preview(step, total, every_)) return;
  const torch::Tensor image = decoder_.decode(latents.narrow(0, 0, 1));
  const std::string temporary = path_ + ".tmp";
  io::write_png(temporary, tensor_to_image(image));
  std::filesystem::rename(temporary, path_);
  ++written_;
}

}  // namespace dd::pipeline
