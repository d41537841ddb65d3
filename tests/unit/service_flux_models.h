#pragma once
// A temporary models directory of FLUX.1 models built from the tiny fixtures (symlinks, sidecars,
// re-keyed and hand-made files) for the service_flux_models tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "service/model_registry.h"
#include "test_support.h"

namespace dd::service::test {

class FluxModelsDir : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  static std::filesystem::path schnell_dir();  // the fixtures' flux-schnell-tiny/
  static std::filesystem::path fill_dir();     // the Fill fixtures' flux-fill-dev-tiny/

  // `to` linked as `name` in the models directory.
  void link(const std::filesystem::path& to, const std::string& name);
  void write(const std::string& name, const std::string& text);
  // A diffusers folder linked as ID.
  void add_schnell_folder(const std::string& id);
  void add_fill_folder(const std::string& id);
  // The BFL transformer file linked as ID.safetensors with its architecture file beside it, and
  // the sidecar ID.json when `sidecar` is not "".
  void add_schnell_file(const std::string& id, const std::string& sidecar);
  void add_fill_file(const std::string& id, const std::string& sidecar);
  // The Fill transformer re-saved under ComfyUI's "model.diffusion_model." prefix, no
  // architecture file beside it.
  void add_prefixed_fill_file(const std::string& id);
  // A GGUF file holding the FLUX transformer tensors the scan reads (img_in, txt_in,
  // final_layer.linear; tiny widths), img_in taking `in_channels`.
  void add_flux_gguf(const std::string& id, int64_t in_channels);

  ModelRegistry registry(const std::string& default_model = "") const;

  std::filesystem::path dir_;
};

}  // namespace dd::service::test
