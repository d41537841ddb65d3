#include "http/sync_generation.h"

#include <filesystem>

#include "io/base64.h"
#include "io/image_codec.h"
#include "service/crypto.h"

namespace dd::http {

std::vector<GeneratedImage> generate_now(Api& api, const service::NewJob& new_job) {
  const auto queued = api.service.submit(new_job);
  const auto job = api.service.wait(queued.id, new_job.account_id, api.options.sync_timeout_ms);
  if (job.status == service::JobStatus::Failed)
    throw ApiError(422, "generation_failed", "generation failed: " + job.error);
  if (job.status == service::JobStatus::Cancelled)
    throw ApiError(409, "cancelled", "the job was cancelled");
  if (job.status != service::JobStatus::Success)
    throw ApiError(504, "timeout",
                   "the image is not ready yet; job " + job.id + " is still queued or running");
  std::vector<GeneratedImage> images;
  for (const auto& output : job.outputs) {
    auto record = api.service.images().get(output.image_id, new_job.account_id);
    if (!record)
      throw ApiError(500, "internal_error", "an output image of job " + job.id + " is missing");
    images.push_back({api.service.images().read_bytes(*record), record->format, record->id,
                      output.seed, output.inference_seconds, *record});
  }
  return images;
}

std::string save_input_image(Api& api, const std::vector<uint8_t>& bytes,
                             const std::string& param) {
  io::Image image;
  try {
    image = io::decode_image(bytes, param);
  } catch (const Error& e) {
    throw bad_parameter(param, e.what());
  }
  if (image.width % 8 != 0 || image.height % 8 != 0 || image.width < 64 || image.height < 64 ||
      image.width > 2048 || image.height > 2048)
    throw bad_parameter(param,
                        param + " must be 64..2048 pixels on each side, a multiple of 8 (got " +
                            std::to_string(image.width) + "x" + std::to_string(image.height) + ")");
  const auto dir = std::filesystem::path(api.service.options().data_dir) / "inputs";
  std::filesystem::create_directories(dir);
  const auto path = (dir / (service::new_uuid() + ".png")).string();
  io::write_png(path, image);
  return path;
}

std::string save_input_image_base64(Api& api, const std::string& base64, const std::string& param) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::base64_decode(base64, param);
  } catch (const Error& e) {
    throw bad_parameter(param, e.what());
  }
  return save_input_image(api, bytes, param);
}

}  // namespace dd::http
