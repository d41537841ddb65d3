// Batching across requests: the worker's claimed job plus queued jobs for the same model whose
// resolved requests share a batch key (pipeline/generate_batch.h) run as one pass through the
// UNet, up to --max-batch images and what the memory budget leaves room for. Each job keeps its
// own progress, previews, images and outcome. A cancel of one stops the batch at its next step:
// that job ends CANCELLED and the others go back to the queue, keeping their place.
#include <algorithm>
#include <iostream>

#include "io/image_codec.h"
#include "models/device.h"
#include "pipeline/generate_batch.h"
#include "sampling/cancelled.h"
#include "service/job_request.h"
#include "service/worker.h"

namespace dd::service {

namespace {

using Clock = std::chrono::steady_clock;

// Activation memory of one more image in a batch, per latent pixel: a rough upper figure for
// the SD-family UNets with fused attention (SD 1.5 at 512x512: 256 MiB; SDXL at 1024x1024: 1 GiB).
constexpr int64_t kBytesPerLatentPixel = int64_t{64} << 10;

}  // namespace

struct BatchMember {
  Job job;
  JobSpec spec;
  pipeline::GenerationRequest request;
  std::unique_ptr<JobProgress> progress;
};

int Worker::batch_limit(const pipeline::GenerationRequest& request) const {
  if (max_batch_ <= 1) return 1;
  const auto budget = static_cast<int64_t>(models_.memory_budget());
  if (budget == 0) return max_batch_;
  const int64_t per_image = int64_t{request.width / 8} * (request.height / 8) *
                            kBytesPerLatentPixel * std::max(request.samples, 1);
  const int64_t room = (budget - models_.loaded_bytes()) / std::max<int64_t>(per_image, 1);
  return static_cast<int>(std::clamp<int64_t>(room, 1, max_batch_));
}

bool Worker::run_batch(const Job& first) {
  if (max_batch_ <= 1) return false;
  const auto info =
      models_.find(first.spec.model.empty() ? models_.default_model_id() : first.spec.model);
  if (!info || !info->error.empty()) return false;  // run_job reports it
  std::vector<BatchMember> batch(1);
  std::shared_ptr<pipeline::DiffusionModel> model;
  std::string key;
  try {
    model = models_.acquire(info->id);
    if (model->config().is_flux()) return false;
    batch[0].job = first;
    batch[0].spec = first.spec;
    batch[0].request = prepare_request(batch[0].spec, *info, *model, models_);
    key = pipeline::batch_key(batch[0].request);
  } catch (const std::exception&) {
    return false;  // run_job records the reason
  }
  if (key.empty()) return false;
  int images = batch[0].request.samples;
  const int limit = batch_limit(batch[0].request);
  for (auto& candidate : jobs_.queued_for_model(info->id, 4 * limit)) {
    BatchMember member{candidate, candidate.spec, {}, nullptr};
    try {
      member.request = prepare_request(member.spec, *info, *model, models_);
    } catch (const std::exception&) {
      continue;  // its own run reports the problem
    }
    if (pipeline::batch_key(member.request) != key) continue;
    if (images + member.request.samples > limit) continue;
    const auto claimed = jobs_.claim(candidate.id, claim_options());
    if (!claimed) continue;  // another worker was faster
    member.job = *claimed;
    images += member.request.samples;
    batch.push_back(std::move(member));
  }
  if (batch.size() == 1) return false;
  run_members(batch, *info, *model);
  return true;
}

void Worker::run_members(std::vector<BatchMember>& batch, const ModelInfo& info,
                         pipeline::DiffusionModel& model) {
  const std::string& me = identity_.worker_id;
  lease_lost("");
  std::vector<std::string> ids;
  for (const auto& member : batch) ids.push_back(member.job.id);
  set_batch(ids);
  stats_.set_running(ids.front());
  const auto decoder = preview_every_ < 0 ? nullptr : preview_decoders_.get(info, model);
  std::vector<pipeline::GenerationRequest> requests;
  for (auto& member : batch) {
    if (identity_.lease_ms > 0)
      std::cerr << "worker " << me << ": running job " << member.job.id << " in a batch of "
                << batch.size() << std::endl;
    events_.publish(member.job.id, "status", {{"status", status_name(JobStatus::InProgress)}});
    member.spec.format = io::canonical_image_format(member.spec.format);
    jobs_.update_spec(member.job.id, member.spec);
    member.progress =
        std::make_unique<JobProgress>(events_, member.job.id, decoder, preview_every_);
    requests.push_back(member.request);
  }
  pipeline::GenerationHooks hooks;
  hooks.latents = [&](int step, int total, const torch::Tensor& latents) {
    int64_t row = 0;
    for (auto& member : batch) {
      member.progress->latents(step, total, latents.narrow(0, row, member.request.samples));
      row += member.request.samples;
    }
  };
  auto last_step = Clock::now();
  hooks.progress = [&](int step, int total) {
    stats_.step_done(std::chrono::duration<double>(Clock::now() - last_step).count());
    last_step = Clock::now();
    bool go = !stopping_;
    for (auto& member : batch) {
      member.progress->step_done(step, total);
      jobs_.set_progress(member.job.id, step + 1, total);
      go = go && owns(member.job.id) && !jobs_.cancel_requested(member.job.id);
    }
    return go;
  };
  std::vector<std::string> finished;
  try {
    const auto started = Clock::now();
    const auto results = [&] {
      const models::CachedMemoryRelease release(model.device());
      return pipeline::generate_batch(model, requests, hooks);
    }();
    int64_t count = 0;
    for (const auto& result : results) count += result.images.size(0);
    const double per_image =
        std::chrono::duration<double>(Clock::now() - started).count() / static_cast<double>(count);
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& member = batch[i];
      try {
        const auto outputs = store_outputs(member.job, member.spec, member.request, info, model,
                                           results[i], per_image);
        if (!jobs_.succeed(member.job.id, outputs, me)) {
          for (const auto& output : outputs) images_.remove(output.image_id, member.job.account_id);
          continue;  // no longer this worker's job
        }
      } catch (const DatabaseUnavailable&) {
        throw;
      } catch (const std::exception& e) {
        jobs_.fail(member.job.id, e.what(), me);
      }
      finished.push_back(member.job.id);
    }
  } catch (const Cancelled&) {
    for (const auto& member : batch) {
      const auto& id = member.job.id;
      if (!owns(id)) continue;
      if (jobs_.cancel_requested(id)) {
        jobs_.mark_cancelled(id, me);
        finished.push_back(id);
      } else {
        jobs_.release(id, me);  // stopped with the batch: queued again, in its old place
      }
    }
  } catch (const DatabaseUnavailable& e) {
    std::cerr << "worker: batch dropped: " << e.what() << "\n";
  } catch (const std::exception& e) {
    const std::string message = failure_reason(e);
    for (const auto& member : batch) {
      jobs_.fail(member.job.id, message, me);
      finished.push_back(member.job.id);
    }
  }
  set_batch({});
  stats_.set_running("");
  for (const auto& id : finished) finish(id);
}

}  // namespace dd::service
