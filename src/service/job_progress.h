#pragma once
// What the worker tells JobEvents about a running job: after every step its progress (steps
// done, seconds taken, seconds left), every few steps a preview PNG of the first image. The
// preview decoder of each model is made once and kept (a TAESD-style decoder named by the
// model's sidecar, else a linear projection fitted to its VAE).
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "pipeline/model.h"
#include "pipeline/preview_decoder.h"
#include "service/job_events.h"
#include "service/model_registry.h"

namespace dd::service {

class PreviewDecoders {
 public:
  // The model's preview decoder; null when none can be made (the reason is logged once).
  std::shared_ptr<const pipeline::PreviewDecoder> get(const ModelInfo& info,
                                                      pipeline::DiffusionModel& model);

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const pipeline::PreviewDecoder>> decoders_;
};

class JobProgress {
 public:
  // `every`: steps between previews (pipeline::wants_preview); decoder may be null (none).
  JobProgress(JobEvents& events, std::string job_id,
              std::shared_ptr<const pipeline::PreviewDecoder> decoder, int every);

  // For pipeline::GenerationHooks::latents and ::progress.
  void latents(int step, int total, const torch::Tensor& latents);
  void step_done(int step, int total);

 private:
  double elapsed() const;

  JobEvents& events_;
  std::string job_id_;
  std::shared_ptr<const pipeline::PreviewDecoder> decoder_;
  int every_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace dd::service
