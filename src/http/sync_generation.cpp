#include "http/sync_generation.h"

#include <filesystem>
#include <sstream>

#include "io/base64.h"
#include "io/image_codec.h"
#include "service/crypto.h"

namespace dd::http {

namespace {

// Waits for the job; when the wait gives up, cancels it, since nobody will collect its images.
// A job that ended just as the wait gave up is returned as it ended.
service::Job wait_or_cancel(Api& api, const service::Job& queued) {
  const auto job = api.service.wait(queued.id, queued.account_id, api.options.sync_timeout_ms);
  if (service::is_final(job.status)) return job;
  if (!api.service.jobs().cancel(job.id, job.account_id)) {
    const auto ended = api.service.jobs().get(job.id, job.account_id);
    if (ended && service::is_final(ended->status)) return *ended;
  }
  std::ostringstream message;
  message << "the image was not ready within " << api.options.sync_timeout_ms / 1000.0 << " s; job "
          << job.id << " was cancelled";
  throw ApiError(504, "timeout", message.str());
}

}  // namespace

std::vector<GeneratedImage> generate_now(Api& api, const service::NewJob& new_job) {
  const auto job = wait_or_cancel(api, api.service.submit(new_job));
  if (job.status == service::JobStatus::Failed)
    throw ApiError(422, "generation_failed", "generation failed: " + job.error);
  if (job.status == service::JobStatus::Cancelled)
    throw ApiError(409, "cancelled", "the job was cancelled");
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

namespace {

io::Image decode_input(const std::vector<uint8_t>& bytes, const std::string& param) {
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
  return image;
}

std::string store_input(Api& api, const io::Image& image) {
  const auto dir = std::filesystem::path(api.service.options().data_dir) / "inputs";
  std::filesystem::create_directories(dir);
  const auto path = (dir / (service::new_uuid() + ".png")).string();
  io::write_png(path, image);
  return path;
}

}  // namespace

std::string save_input_image(Api& api, const std::vector<uint8_t>& bytes,
                             const std::string& param) {
  return store_input(api, decode_input(bytes, param));
}

InputImage save_input_image_base64(Api& api, const std::string& base64, const std::string& param,
                                   const InputImage* same_size_as) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::base64_decode(base64, param);
  } catch (const Error& e) {
    throw bad_parameter(param, e.what());
  }
  const io::Image image = decode_input(bytes, param);
  if (same_size_as && (image.width != same_size_as->width || image.height != same_size_as->height))
    throw bad_parameter(
        param, param + " is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                   " but the image is " + std::to_string(same_size_as->width) + "x" +
                   std::to_string(same_size_as->height) + "; they must be the same size");
  return {store_input(api, image), image.width, image.height};
}

}  // namespace dd::http
