#pragma once
// Names of weights in original single-file checkpoints (LDM for SD1/SD2, SGM for SDXL), from
// the diffusers names the modules use. Loaders pass these as a FileWeights KeyRename.
#include <string>

#include "models/config.h"

namespace dd::models {

// A UNet parameter name (`down_blocks.1.attentions.0.proj_in.weight`) -> its name under
// `model.diffusion_model.` (`input_blocks.4.1.proj_in.weight`). The block numbering depends on
// layers_per_block and on which levels have attention (for the upsamplers). A name that is not
// a UNet parameter is a dd::Error.
std::string unet_single_file_key(const std::string& diffusers_name, const UNetConfig& config);

}  // namespace dd::models
