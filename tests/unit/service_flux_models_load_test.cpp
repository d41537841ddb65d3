// Loading FLUX.1 models through the registry: every layout of service_flux_models_test.cpp
// loads into a FLUX model of the family it was listed with, the sidecar's parts reach the loader,
// and a transformer-only file whose parts cannot be found is unavailable with the loader's
// reason until its sidecar names them.
#include <gtest/gtest.h>

#include "service_flux_models.h"
#include "util/error.h"

namespace dd::service {
namespace {

using test::FluxModelsDir;

constexpr const char* kParts = R"({"vae": "flux-schnell-tiny/vae",
    "clip_l": "flux-schnell-tiny/text_encoder/model.safetensors",
    "t5xxl": "flux-schnell-tiny/text_encoder_2/model.safetensors",
    "t5_tokenizer": "flux-schnell-tiny/tokenizer_2", "clip_tokenizer": "flux-schnell-tiny/tokenizer"})";

class FluxModelsLoad : public FluxModelsDir {
 protected:
  // Loads `id` and checks it is a FLUX model listed as loaded with `family` and its bytes.
  void expect_loads(ModelRegistry& models, const std::string& id, const std::string& family) {
    std::shared_ptr<pipeline::DiffusionModel> model;
    try {
      model = models.acquire(id);
    } catch (const std::exception& e) {
      FAIL() << id << ": " << e.what();
    }
    ASSERT_TRUE(model) << id;
    EXPECT_TRUE(model->config().is_flux()) << id;
    EXPECT_EQ(model->is_flux_fill_model(), family == "flux-inpaint") << id;
    const auto info = models.find(id);
    EXPECT_TRUE(info->loaded) << id;
    EXPECT_EQ(info->family, family) << id;
    EXPECT_GT(info->loaded_bytes, 0) << id;
  }
};

TEST_F(FluxModelsLoad, EveryLayoutLoads) {
  add_schnell_folder("flux-schnell-tiny");
  add_schnell_file("schnell-parts", kParts);
  add_schnell_file("schnell-components", R"({"components": "flux-schnell-tiny", "drop_t5": true})");
  auto models = registry();
  for (const char* id : {"flux-schnell-tiny", "schnell-parts", "schnell-components"})
    expect_loads(models, id, "flux");
}

// T5 counts towards the memory budget while it stays loaded, not when it is dropped after each
// prompt: the same model with drop_t5 weighs less by T5's bytes.
TEST_F(FluxModelsLoad, LoadedBytesCountT5UnlessItIsDropped) {
  add_schnell_folder("flux-schnell-tiny");
  add_schnell_file("keeps-t5", R"({"components": "flux-schnell-tiny"})");
  add_schnell_file("drops-t5", R"({"components": "flux-schnell-tiny", "drop_t5": true})");
  auto models = registry();
  const auto model = models.acquire("keeps-t5");
  models.acquire("drops-t5");
  const int64_t t5_bytes = [&] {
    int64_t total = 0;
    for (const auto& p : model->t5_encoder()->parameters()) total += p.numel() * p.element_size();
    for (const auto& b : model->t5_encoder()->buffers()) total += b.numel() * b.element_size();
    return total;
  }();
  EXPECT_GT(t5_bytes, 0);
  EXPECT_EQ(models.find("keeps-t5")->loaded_bytes - models.find("drops-t5")->loaded_bytes,
            t5_bytes);
}

TEST_F(FluxModelsLoad, FillModelsLoadAsInpaintingModels) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  add_fill_folder("flux-fill-dev-tiny");
  add_fill_file("fill-bfl", R"({"components": "flux-fill-dev-tiny"})");
  auto models = registry();
  for (const char* id : {"flux-fill-dev-tiny", "fill-bfl"})
    expect_loads(models, id, "flux-inpaint");
}

TEST_F(FluxModelsLoad, MissingPartsMakeTheModelUnavailableUntilTheSidecarNamesThem) {
  add_schnell_folder("flux-schnell-tiny");
  add_schnell_file("lonely", "");
  auto models = registry();
  EXPECT_THROW(models.acquire("lonely"), Error);
  const auto failed = models.find("lonely");
  EXPECT_FALSE(failed->available());
  EXPECT_FALSE(failed->loaded);
  EXPECT_NE(failed->error.find("failed to load"), std::string::npos) << failed->error;

  write("lonely.json", R"({"components": "flux-schnell-tiny"})");
  models.rescan();  // the sidecar changed what the loader is given: it is tried again
  EXPECT_TRUE(models.find("lonely")->available()) << models.find("lonely")->error;
  expect_loads(models, "lonely", "flux");
}

}  // namespace
}  // namespace dd::service
