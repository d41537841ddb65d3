// A job's live progress over HTTP (API.md "Progress events"): GET /v0/api/jobs/:id/events, a
// Server-Sent Events stream of its status changes, steps and previews that ends with the job
// object, and GET /v0/api/jobs/:id/preview, the latest preview PNG for pollers.
//
// The stream is written from the connection's own thread, which reads service::JobEvents: the
// worker only appends there, so a reader however slow never holds up generation (a reader too
// slow for the socket's write timeout is disconnected and resumes with Last-Event-ID).
#include <memory>

#include "http/api.h"
#include "http/event_stream.h"
#include "http/jobs_json.h"
#include "io/base64.h"

namespace dd::http {

namespace {

// An event as its SSE frame: a preview's PNG travels base64 in `image` (null once dropped).
std::string event_frame(const service::JobEvent& event) {
  nlohmann::json data = event.data;
  if (event.type == "preview")
    data["image"] =
        event.image ? nlohmann::json(io::base64_encode(*event.image)) : nlohmann::json(nullptr);
  return sse_frame(event.type, data, event.id);
}

// The id to resume after: the Last-Event-ID header (what browsers send when they reconnect),
// else ?last_event_id=, else 0 (from the start).
uint64_t resume_after(const httplib::Request& request) {
  std::string text = request.get_header_value("Last-Event-ID");
  if (text.empty()) text = request.get_param_value("last_event_id");
  if (text.empty()) return 0;
  if (text.size() > 15 || text.find_first_not_of("0123456789") != std::string::npos)
    throw ApiError(400, "invalid_parameter",
                   "Last-Event-ID must be the id of an event this stream sent (a number)");
  return std::stoull(text);
}

struct Stream {
  std::string job_id;
  std::string account;
  std::string base_url;
  uint64_t last_id = 0;
  bool greeted = false;       // the stored status was sent (a job with no live events yet)
  bool stored_final = false;  // the last quiet turn found the stored job ended
  EventStream out;
};

// Sends the stored job as the final event and ends the stream.
bool finish(Api& api, httplib::DataSink& sink, Stream& stream, const service::Job& job) {
  return stream.out.end(
      sink,
      sse_frame("job", jobs_api_job(job, stream.base_url, api.service.events().progress(job.id))));
}

// The stored status, sent first to a new reader of a job with no live events yet (queued, or
// run before a restart); a job already ended gets its final event at once.
bool greet(Api& api, httplib::DataSink& sink, Stream& stream, const service::Job& job) {
  stream.greeted = true;
  if (service::is_final(job.status)) return finish(api, sink, stream, job);
  return stream.out.write(sink,
                          sse_frame("status", {{"status", service::status_name(job.status)}}));
}

// One turn of the stream: waits up to kEventWaitMs for news and writes it. False ends the
// connection (the client went away).
bool pump(Api& api, httplib::DataSink& sink, Stream& stream) {
  if (stream.out.ended()) return false;
  const auto stored = [&] { return api.service.jobs().get(stream.job_id, stream.account); };
  if (!stream.greeted && stream.last_id == 0 && !api.service.events().progress(stream.job_id)) {
    const auto job = stored();
    if (job) return greet(api, sink, stream, *job);
  }
  stream.greeted = true;
  const auto batch = api.service.events().after(stream.job_id, stream.last_id, kEventWaitMs);
  for (const auto& event : batch.events) {
    if (!stream.out.write(sink, event_frame(event))) return false;
    stream.last_id = event.id;
  }
  // Without live events (queued, or run before a restart) the stored job tells the status. So
  // it does when events have stopped coming without an end (relayed from a worker on another
  // node that died, or a job cancelled while queued there): a job stored as ended for two quiet
  // turns in a row is finished, which leaves a local worker a whole turn to publish its last
  // status between recording the end and publishing it.
  const bool quiet = batch.known && !batch.ended && batch.events.empty();
  if (!batch.known || batch.ended || quiet) {
    const auto job = stored();
    if (!job) return stream.out.end(sink, "");  // gone meanwhile
    const bool final = service::is_final(job->status);
    if (final && (!quiet || stream.stored_final)) return finish(api, sink, stream, *job);
    stream.stored_final = final && quiet;
  } else {
    stream.stored_final = false;
  }
  return stream.out.keep_alive(sink);
}

void stream_events(Api& api, const httplib::Request& request, httplib::Response& response) {
  auto stream = std::make_shared<Stream>();
  stream->account = api.account(request);
  stream->last_id = resume_after(request);
  const auto job = api.service.jobs().get(request.matches[1], stream->account);
  if (!job) throw not_found("job");
  stream->job_id = job->id;
  stream->base_url = api.base_url(request);
  serve_event_stream(
      response, [&api, stream](httplib::DataSink& sink) { return pump(api, sink, *stream); },
      // E.g. the database is unreachable: the client reconnects with Last-Event-ID.
      [](httplib::DataSink&, const std::exception&) { return false; });
}

void send_preview(Api& api, const httplib::Request& request, httplib::Response& response) {
  const auto account = api.account(request);
  const auto job = api.service.jobs().get(request.matches[1], account);
  if (!job) throw not_found("job");
  const auto progress = api.service.events().progress(job->id);
  if (!progress || !progress->preview) throw not_found("preview");
  response.set_header("Cache-Control", "no-store");
  response.set_header("X-Preview-Step", std::to_string(progress->preview_step));
  response.set_content(*progress->preview, "image/png");
}

}  // namespace

void add_job_events_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Get(R"(/v0/api/jobs/([^/]+)/events)",
             guarded([&api](const auto& req, auto& res) { stream_events(api, req, res); }));
  server.Get(R"(/v0/api/jobs/([^/]+)/preview)",
             guarded([&api](const auto& req, auto& res) { send_preview(api, req, res); }));
}

}  // namespace dd::http
