#include "service/worker.h"

#include <chrono>
#include <iostream>

#include "io/image_codec.h"
#include "models/device.h"
#include "pipeline/family_defaults.h"
#include "pipeline/generate.h"
#include "pipeline/image_tensor.h"
#include "pipeline/parameters_text.h"
#include "pipeline/resolve.h"
#include "sampling/cancelled.h"
#include "service/crypto.h"
#include "service/job_request.h"
#include "util/error.h"

namespace dd::service {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Worker::Worker(JobStore& jobs, ImageStore& images, ModelRegistry& models, JobEvents& events,
               std::function<void(const Job&)> on_finished, int preview_every,
               WorkerIdentity identity)
    : jobs_(jobs),
      images_(images),
      models_(models),
      events_(events),
      on_finished_(std::move(on_finished)),
      preview_every_(preview_every),
      identity_(std::move(identity)),
      loop_([this] { return step(); }) {}

Worker::~Worker() { stop(); }

void Worker::start() {
  if (loop_.running()) return;
  stopping_ = false;
  loop_.start();
}

void Worker::stop() {
  stopping_ = true;  // the running job stops at its next step
  loop_.stop();
}

void Worker::wake() { loop_.wake(); }

std::chrono::milliseconds Worker::step() {
  try {
    if (run_one()) return std::chrono::milliseconds(0);
  } catch (const std::exception& e) {  // e.g. the database is unreachable: retry later
    std::cerr << "worker: " << e.what() << "\n";
  }
  // Also poll now and then: another process may share the queue.
  return std::chrono::seconds(1);
}

std::vector<std::string> Worker::running_jobs() const {
  {
    std::lock_guard lock(lost_mutex_);
    if (!batch_.empty()) return batch_;
  }
  const std::string running = stats_.snapshot().running_job;
  if (running.empty()) return {};
  return {running};
}

void Worker::set_batch(std::vector<std::string> job_ids) {
  std::lock_guard lock(lost_mutex_);
  batch_ = std::move(job_ids);
}

ClaimOptions Worker::claim_options() const {
  ClaimOptions claim;
  claim.worker_id = identity_.worker_id;
  claim.lease_ms = identity_.lease_ms;
  // On a shared queue, jobs for the models held here come first (fewer swaps).
  if (identity_.lease_ms > 0) claim.loaded_models = loaded_models();
  return claim;
}

std::vector<std::string> Worker::loaded_models() const {
  std::vector<std::string> loaded;
  for (const auto& info : models_.list())
    if (info.loaded) loaded.push_back(info.id);
  return loaded;
}

void Worker::lease_lost(const std::string& job_id) {
  std::lock_guard lock(lost_mutex_);
  if (job_id.empty())
    lost_jobs_.clear();
  else
    lost_jobs_.insert(job_id);
}

bool Worker::owns(const std::string& job_id) const {
  std::lock_guard lock(lost_mutex_);
  return lost_jobs_.count(job_id) == 0;
}

std::string Worker::failure_reason(const std::exception& e) {
  if (const auto* engine = dynamic_cast<const c10::Error*>(&e))
    return std::string("engine error: ") + engine->what_without_backtrace();
  return e.what();
}

bool Worker::run_one() {
  const auto job = jobs_.claim_next(claim_options());
  if (!job) return false;
  if (run_batch(*job)) return true;
  if (identity_.lease_ms > 0)
    std::cerr << "worker " << identity_.worker_id << ": running job " << job->id << std::endl;
  run_job(*job);
  return true;
}

void Worker::run_job(const Job& job) {
  const std::string& me = identity_.worker_id;
  lease_lost("");  // jobs lost earlier may have come back to this worker
  stats_.set_running(job.id);
  events_.publish(job.id, "status", {{"status", status_name(JobStatus::InProgress)}});
  try {
    const auto outputs = generate_outputs(job);
    if (!jobs_.succeed(job.id, outputs, me)) {
      // No longer ours (the lease ran out and another worker has it): its images are not the
      // job's, so they go, and the job's readers keep following the worker that owns it.
      for (const auto& output : outputs) images_.remove(output.image_id, job.account_id);
      stats_.set_running("");
      return;
    }
  } catch (const Cancelled&) {
    if (!owns(job.id)) {
      stats_.set_running("");
      return;
    }
    if (stopping_ && !jobs_.cancel_requested(job.id)) {
      // Interrupted by shutdown: a leased job goes back to the queue at once; otherwise it stays
      // IN_PROGRESS, requeued at start (its readers see the stored job from then on).
      if (identity_.lease_ms > 0) jobs_.release(job.id, me);
      stats_.set_running("");
      return;
    }
    jobs_.mark_cancelled(job.id, me);
  } catch (const DatabaseUnavailable& e) {
    // The job's outcome cannot be recorded; it stays IN_PROGRESS and is queued again when its
    // lease runs out (or at the next start-up on one machine).
    std::cerr << "worker: job " << job.id << " dropped: " << e.what() << "\n";
    stats_.set_running("");
    return;
  } catch (const std::exception& e) {
    jobs_.fail(job.id, failure_reason(e), me);
  } catch (...) {
    jobs_.fail(job.id, "unknown error", me);
  }
  stats_.set_running("");
  finish(job.id);
}

std::vector<OutputFile> Worker::generate_outputs(const Job& job) {
  if (jobs_.cancel_requested(job.id)) throw Cancelled();
  const std::string name = job.spec.model.empty() ? models_.default_model_id() : job.spec.model;
  const auto info = models_.find(name);
  if (!info)
    throw InvalidParameter("model",
                           name.empty() ? "no model is available" : "unknown model '" + name + "'");
  const auto model = models_.acquire(info->id);
  if (jobs_.cancel_requested(job.id)) throw Cancelled();

  JobSpec spec = job.spec;
  auto request = prepare_request(spec, *info, *model, models_);
  const std::string format = io::canonical_image_format(spec.format);
  spec.format = format;
  jobs_.update_spec(job.id, spec);

  pipeline::GenerationHooks hooks;
  JobProgress progress(events_, job.id,
                       preview_every_ < 0 ? nullptr : preview_decoders_.get(*info, *model),
                       preview_every_);
  hooks.latents = [&](int step, int total, const torch::Tensor& latents) {
    progress.latents(step, total, latents);
  };
  auto last_step = Clock::now();
  hooks.progress = [&](int step, int total) {
    stats_.step_done(seconds_since(last_step));
    last_step = Clock::now();
    progress.step_done(step, total);
    jobs_.set_progress(job.id, step + 1, total);
    return !stopping_ && owns(job.id) && !jobs_.cancel_requested(job.id);
  };
  const auto started = Clock::now();
  const auto result = [&] {
    // A job leaves no device memory behind it (the tensors it made are freed by now).
    const models::CachedMemoryRelease release(model->device());
    return pipeline::generate(*model, request, hooks);
  }();
  const double per_image = seconds_since(started) / static_cast<double>(result.images.size(0));
  return store_outputs(job, spec, request, *info, *model, result, per_image);
}

std::vector<OutputFile> Worker::store_outputs(const Job& job, const JobSpec& spec,
                                              const pipeline::GenerationRequest& request,
                                              const ModelInfo& info,
                                              const pipeline::DiffusionModel& model,
                                              const pipeline::GenerationResult& result,
                                              double per_image) {
  const int count = static_cast<int>(result.images.size(0));
  std::vector<OutputFile> outputs;
  try {
    for (int i = 0; i < count; ++i) {
      const auto image = pipeline::tensor_to_image(result.images[i].permute({2, 0, 1}));
      const auto text =
          pipeline::parameters_text(request, result.seeds[i], image.width, image.height,
                                    pipeline::text_model_info(info.id, model.config()));
      const auto bytes = io::encode_image(image, spec.format, spec.quality, {{"parameters", text}});
      OutputFile output;
      output.name = new_uuid() + "." + io::image_file_extension(spec.format);
      output.path = job.id + "/" + output.name;
      const auto record = images_.store(
          job.account_id, spec.image_name.empty() ? output.name : spec.image_name,
          std::string(bytes.begin(), bytes.end()), spec.format, image.width, image.height, job.id);
      output.created_ms = record.created_ms;
      output.size = record.size;
      output.image_id = record.id;
      output.seed = static_cast<int64_t>(result.seeds[i]);
      output.inference_seconds = per_image;
      outputs.push_back(output);
      stats_.image_done(per_image);
    }
  } catch (...) {
    // No half-finished job: drop the images already stored for it.
    for (const auto& output : outputs) images_.remove(output.image_id, job.account_id);
    throw;
  }
  return outputs;
}

void Worker::finish(const std::string& job_id) {
  try {
    const auto job = jobs_.get_any(job_id);
    if (!job) return;
    events_.publish(job_id, "status", {{"status", status_name(job->status)}});
    events_.end(job_id);
    stats_.job_finished(job->status);
    if (on_finished_) on_finished_(*job);
  } catch (const std::exception& e) {
    std::cerr << "worker: after job " << job_id << ": " << e.what() << "\n";
  }
}

}  // namespace dd::service
