#pragma once
// OpenAI's streamed image answer (API.md section 5, `stream: true`): Server-Sent Events named as
// their `type`, `<prefix>.partial_image` with up to `partial_images` previews of the running
// job, then `<prefix>.completed` with the final image; the prefix is "image_generation" for
// /v1/images/generations and "image_edit" for /v1/images/edits. A job that fails, is cancelled
// or outlives the synchronous timeout ends the stream with an `error` event in OpenAI's error
// shape (the official clients raise it). The job is queued like every other one: a client that
// goes away stops only the stream, and the image is still made and stored.
#include <string>

#include "http/api.h"

namespace dd::http {

inline constexpr int kMaxPartialImages = 3;  // OpenAI's range is 0..3

struct OpenAiStreamOptions {
  std::string event_prefix = "image_generation";
  int partial_images = 0;  // 0..kMaxPartialImages
};

// Which of a job's previews are sent: the partial image `index` (0-based) goes out with the
// first preview at or past step (index + 1) * steps / (partial_images + 1), so the partial
// images are spread over the run rather than bunched at its start.
bool preview_due(int index, int partial_images, int step, int steps);

// Submits the job (errors before the stream starts are thrown as usual) and answers with the
// event stream.
void stream_openai_images(Api& api, const service::NewJob& job, const OpenAiStreamOptions& options,
                          httplib::Response& response);

}  // namespace dd::http
