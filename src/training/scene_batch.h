#pragma once
// Training batches drawn on the fly from the procedural scenes of the training split: pictures
// as the VAE sees them and captions as the text encoder reads them.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dd::training {

struct SceneBatch {
  torch::Tensor images;               // [B, 3, S, S] float32 in [-1, 1]
  std::vector<std::string> captions;  // one per picture; "" where dropped
};

struct SceneBatchOptions {
  int batch = 16;
  int image_size = 64;
  // Share of captions replaced by "", so the model also learns the unconditional prediction
  // that classifier-free guidance needs.
  double caption_dropout = 0.0;
};

// Batch `index` of a run seeded with `seed`: the same arguments give the same batch, so a
// resumed run sees exactly the data it would have seen.
SceneBatch scene_batch(uint64_t seed, uint64_t index, const SceneBatchOptions& options);

// Batch `index` of a run's stream `stream` (each phase has its own), with torch's generator then
// seeded for the step's noise: a step depends only on (seed, stream, index), so a resumed run
// repeats it exactly.
SceneBatch training_step_batch(uint64_t seed, uint64_t stream, uint64_t index,
                               const SceneBatchOptions& options);

// Mixes a run seed with a stream tag and an index into an independent 64-bit seed.
uint64_t derived_seed(uint64_t seed, uint64_t stream, uint64_t index);

}  // namespace dd::training
