#include "training/scene_batch.h"

#include "pipeline/image_tensor.h"
#include "scenes/caption.h"
#include "scenes/rng.h"
#include "scenes/scene.h"
#include "scenes/scene_renderer.h"
#include "util/error.h"

namespace dd::training {

uint64_t derived_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  scenes::Rng rng(seed ^ (stream * 0x9e3779b97f4a7c15ULL));
  rng.next();
  scenes::Rng mixed(rng.next() ^ (index * 0xd1b54a32d192ed03ULL));
  return mixed.next();
}

SceneBatch scene_batch(uint64_t seed, uint64_t index, const SceneBatchOptions& options) {
  if (options.batch < 1) throw Error("training: batch size must be at least 1");
  SceneBatch batch;
  std::vector<torch::Tensor> images;
  scenes::Rng rng(derived_seed(seed, /*stream=*/1, index));
  for (int i = 0; i < options.batch; ++i) {
    const uint64_t scene_seed = rng.next();
    const scenes::Scene scene = scenes::sample_training_scene(scene_seed);
    images.push_back(pipeline::image_to_tensor(scenes::render(scene, options.image_size)));
    const bool dropped = rng.uniform(0, 1) < options.caption_dropout;
    batch.captions.push_back(dropped ? std::string() : scenes::caption(scene, rng.next()));
  }
  batch.images = torch::cat(images) * 2 - 1;
  return batch;
}

SceneBatch training_step_batch(uint64_t seed, uint64_t stream, uint64_t index,
                               const SceneBatchOptions& options) {
  SceneBatch batch = scene_batch(seed ^ stream, index, options);
  torch::manual_seed(derived_seed(seed, stream, index));
  return batch;
}

}  // namespace dd::training
