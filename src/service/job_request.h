#pragma once
// A job's spec turned into the engine's request: its parameters resolved against the model's
// defaults (pipeline/resolve.h), input images and LoRAs attached; img2img runs at the input's
// size. The resolved values are written back into `spec` (stored with the job).
#include "pipeline/model.h"
#include "pipeline/request.h"
#include "service/job.h"
#include "service/model_registry.h"

namespace dd::service {

pipeline::GenerationRequest prepare_request(JobSpec& spec, const ModelInfo& info,
                                            const pipeline::DiffusionModel& model,
                                            const ModelRegistry& models);

}  // namespace dd::service
