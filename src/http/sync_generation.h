#pragma once
// The synchronous dialects (/sd, the generation API, imagine, OpenAI) queue a durable job like
// the jobs API and then wait for it, so every image goes through the same queue, worker and
// image store. Also: storing uploaded input pictures for img2img / inpainting.
#include <string>
#include <vector>

#include "http/api.h"

namespace dd::http {

struct GeneratedImage {
  std::string bytes;
  std::string format;  // png | jpeg | webp
  std::string image_id;
  int64_t seed = 0;
  double inference_seconds = 0;
  service::ImageRecord record;
};

// Submits the job and waits for it: its images on success; a 422 ApiError with the job's reason
// when it failed, 409 when it was cancelled, 504 when it did not finish within
// HttpOptions::sync_timeout_ms (the job is then cancelled: nobody would collect its images).
std::vector<GeneratedImage> generate_now(Api& api, const service::NewJob& job);

// A stored input picture: its file and size.
struct InputImage {
  std::string path;
  int width = 0;
  int height = 0;
};

// Decodes an uploaded picture (PNG, JPEG or WebP; `param` names the field in errors), and stores
// it as PNG under DATA_DIR/inputs for the worker. Returns the file path.
std::string save_input_image(Api& api, const std::vector<uint8_t>& bytes, const std::string& param);
// The same from base64 text (a data: URL prefix is accepted). With `same_size_as` (a mask for that
// picture) a picture of another size is refused with a 400 naming `param`, before it is stored.
InputImage save_input_image_base64(Api& api, const std::string& base64, const std::string& param,
                                   const InputImage* same_size_as = nullptr);

}  // namespace dd::http
