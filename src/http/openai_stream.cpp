#include "http/openai_stream.h"

#include <chrono>
#include <memory>
#include <sstream>

#include "http/event_stream.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "io/image_resize.h"

namespace dd::http {

namespace {

using Clock = std::chrono::steady_clock;

struct ImageStream {
  OpenAiStreamOptions options;
  std::string job_id;
  std::string account;
  std::string format;  // the job's output format: partial images are sent in it too
  int quality = 90;
  int sent = 0;  // partial images so far
  uint64_t last_id = 0;
  int width = 0;  // the output size, read from the running job at its first partial image
  int height = 0;
  Clock::time_point deadline;
  EventStream out;
};

int64_t unix_seconds() { return service::now_ms() / 1000; }

std::string size_text(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

// The fields both event types carry. We make opaque pictures and have no quality tiers.
nlohmann::json image_event(const ImageStream& stream, const std::string& type,
                           const std::string& b64, const std::string& format, int width,
                           int height) {
  return {{"type", stream.options.event_prefix + "." + type},
          {"b64_json", b64},
          {"created_at", unix_seconds()},
          {"size", size_text(width, height)},
          {"quality", "auto"},
          {"background", "opaque"},
          {"output_format", format}};
}

// Ends the stream with OpenAI's error event; the official clients raise it as an APIError.
bool fail(httplib::DataSink& sink, ImageStream& stream, const ApiError& error) {
  nlohmann::json data = openai_error_body(error);
  data["type"] = "error";
  return stream.out.end(sink, sse_frame("error", data));
}

// The output size (known once the worker has resolved the job); the preview's own size until
// then, which is what a partial image is then sent at.
void read_output_size(Api& api, ImageStream& stream, int preview_width, int preview_height) {
  if (stream.width > 0) return;
  const auto job = api.service.jobs().get(stream.job_id, stream.account);
  const auto& params = job ? job->spec.params : pipeline::GenerationParams{};
  stream.width = params.width.value_or(preview_width);
  stream.height = params.height.value_or(preview_height);
}

// A preview as a partial image: at the output size (a latent-sized preview is scaled up, so a
// client can show it where the final image will go) and in the output format.
std::string partial_image(Api& api, ImageStream& stream, const std::string& png) {
  const std::vector<uint8_t> bytes(png.begin(), png.end());
  io::Image image = io::decode_image(bytes, "preview");
  read_output_size(api, stream, image.width, image.height);
  if (image.width == stream.width && image.height == stream.height && stream.format == "png")
    return io::base64_encode(png);
  if (image.width != stream.width || image.height != stream.height)
    image = io::resize_image(image, stream.width, stream.height);
  return io::base64_encode(io::encode_image(image, stream.format, stream.quality));
}

bool send_partial(Api& api, httplib::DataSink& sink, ImageStream& stream,
                  const service::JobEvent& event) {
  if (stream.sent >= stream.options.partial_images || !event.image) return true;
  const int step = event.data.value("step", 0);
  const int steps = event.data.value("steps", 0);
  if (!preview_due(stream.sent, stream.options.partial_images, step, steps)) return true;
  const std::string b64 = partial_image(api, stream, *event.image);
  auto data = image_event(stream, "partial_image", b64, stream.format, stream.width, stream.height);
  data["partial_image_index"] = stream.sent++;
  return stream.out.write(sink, sse_frame(data["type"].get<std::string>(), data));
}

// The ended job: its image in a completed event, or why there is none in an error event.
bool finish(Api& api, httplib::DataSink& sink, ImageStream& stream, const service::Job& job) {
  if (job.status == service::JobStatus::Failed)
    return fail(sink, stream,
                ApiError(422, "generation_failed", "generation failed: " + job.error));
  if (job.status == service::JobStatus::Cancelled)
    return fail(sink, stream, ApiError(409, "cancelled", "the job was cancelled"));
  const auto record = job.outputs.empty()
                          ? std::nullopt
                          : api.service.images().get(job.outputs[0].image_id, stream.account);
  if (!record)
    return fail(
        sink, stream,
        ApiError(500, "internal_error", "the output image of job " + job.id + " is missing"));
  const std::string bytes = api.service.images().read_bytes(*record);
  auto data = image_event(stream, "completed", io::base64_encode(bytes), record->format,
                          record->width, record->height);
  // OpenAI counts tokens for its GPT image models only; the field is there for clients that
  // read it, and we count none.
  data["usage"] = {{"input_tokens", 0},
                   {"input_tokens_details", {{"image_tokens", 0}, {"text_tokens", 0}}},
                   {"output_tokens", 0},
                   {"total_tokens", 0}};
  return stream.out.end(sink, sse_frame(data["type"].get<std::string>(), data));
}

// Past the synchronous timeout the job is cancelled, since nobody will collect its image (as
// the non-streamed answer does); a job that ended meanwhile is sent as it ended.
bool time_out(Api& api, httplib::DataSink& sink, ImageStream& stream) {
  if (!api.service.jobs().cancel(stream.job_id, stream.account)) {
    const auto job = api.service.jobs().get(stream.job_id, stream.account);
    if (job && service::is_final(job->status)) return finish(api, sink, stream, *job);
  }
  std::ostringstream message;
  message << "the image was not ready within " << api.options.sync_timeout_ms / 1000.0 << " s; job "
          << stream.job_id << " was cancelled";
  return fail(sink, stream, ApiError(504, "timeout", message.str()));
}

// One turn of the stream: waits up to kEventWaitMs for news and writes it. False ends the
// connection (the client went away).
bool pump(Api& api, httplib::DataSink& sink, ImageStream& stream) {
  if (stream.out.ended()) return false;
  const auto batch = api.service.events().after(stream.job_id, stream.last_id, kEventWaitMs);
  for (const auto& event : batch.events) {
    stream.last_id = event.id;
    if (event.type == "preview" && !send_partial(api, sink, stream, event)) return false;
  }
  // The stored job says how it ended (and whether a queued job was cancelled before it ran).
  if (!batch.known || batch.ended || batch.events.empty()) {
    const auto job =
        api.service.wait(stream.job_id, stream.account, batch.ended ? kEventWaitMs : 0);
    if (service::is_final(job.status)) return finish(api, sink, stream, job);
  }
  if (Clock::now() >= stream.deadline) return time_out(api, sink, stream);
  return stream.out.keep_alive(sink);
}

}  // namespace

bool preview_due(int index, int partial_images, int step, int steps) {
  if (index >= partial_images || steps <= 0) return false;
  return static_cast<int64_t>(step) * (partial_images + 1) >=
         static_cast<int64_t>(index + 1) * steps;
}

void stream_openai_images(Api& api, const service::NewJob& job, const OpenAiStreamOptions& options,
                          httplib::Response& response) {
  const auto queued = api.service.submit(job);
  auto stream = std::make_shared<ImageStream>();
  stream->options = options;
  stream->job_id = queued.id;
  stream->account = queued.account_id;
  stream->format = queued.spec.format;
  stream->quality = queued.spec.quality;
  stream->deadline = Clock::now() + std::chrono::milliseconds(api.options.sync_timeout_ms);
  serve_event_stream(
      response, [&api, stream](httplib::DataSink& sink) { return pump(api, sink, *stream); },
      // E.g. the database is unreachable: say so while the stream can still carry it.
      [stream](httplib::DataSink& sink, const std::exception& e) {
        return !stream->out.ended() &&
               fail(sink, *stream, ApiError(500, "internal_error", e.what()));
      });
}

}  // namespace dd::http
