#include "service/job_progress.h"

#include <iostream>

#include "io/image_codec.h"
#include "models/tiny_decoder.h"
#include "pipeline/image_tensor.h"

namespace dd::service {

std::shared_ptr<const pipeline::PreviewDecoder> PreviewDecoders::get(
    const ModelInfo& info, pipeline::DiffusionModel& model) {
  const std::lock_guard lock(mutex_);
  const std::string key = info.id + "\n" + info.path + "\n" + info.preview_decoder;
  const auto found = decoders_.find(key);
  if (found != decoders_.end()) return found->second;
  std::shared_ptr<const pipeline::PreviewDecoder> decoder;
  try {
    // The CPU has no fast fp16: a float16 model's previews decode in float32.
    const auto dtype = model.dtype() == torch::kBFloat16 ? torch::kBFloat16 : torch::kFloat32;
    decoder = std::make_shared<const pipeline::PreviewDecoder>(
        info.preview_decoder.empty()
            ? pipeline::PreviewDecoder::linear(pipeline::fit_linear_preview(model))
            : pipeline::PreviewDecoder::tiny(models::load_tiny_decoder(info.preview_decoder),
                                             model.config().vae.latent_channels, dtype));
  } catch (const std::exception& e) {
    // Previews are a convenience: a model whose decoder cannot be made still generates.
    std::cerr << "previews of " << info.id << " are off: " << e.what() << "\n";
  }
  decoders_[key] = decoder;
  return decoder;
}

JobProgress::JobProgress(JobEvents& events, std::string job_id,
                         std::shared_ptr<const pipeline::PreviewDecoder> decoder, int every)
    : events_(events), job_id_(std::move(job_id)), decoder_(std::move(decoder)), every_(every) {}

double JobProgress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void JobProgress::latents(int step, int total, const torch::Tensor& latents) {
  if (!decoder_ || !pipeline::wants_preview(step, total, every_)) return;
  const auto image = pipeline::tensor_to_image(decoder_->decode(latents.narrow(0, 0, 1)));
  const auto png = io::encode_image(image, "png", 90, {});
  events_.publish(
      job_id_, "preview",
      {{"step", step + 1}, {"steps", total}, {"width", image.width}, {"height", image.height}},
      std::make_shared<const std::string>(png.begin(), png.end()));
}

void JobProgress::step_done(int step, int total) {
  const int done = step + 1;
  const double seconds = elapsed();
  const double eta = seconds / done * (total - done);
  events_.publish(job_id_, "progress",
                  {{"step", done}, {"steps", total}, {"elapsed", seconds}, {"eta", eta}});
}

}  // namespace dd::service
