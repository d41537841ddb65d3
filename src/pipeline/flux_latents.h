#pragma once
// FLUX.1's latent layout (diffusers' FluxPipeline): the transformer sees 2x2 patches of the
// 16-channel VAE latents as tokens, each with a position id (0, patch row, patch column); the
// text tokens' ids are zeros. Also the mask parts of FLUX.1 Fill's conditioning and of
// inpainting with the ordinary model. All functions are pure permutations / comparisons, so
// they are exact on any device and in any dtype.
#include <torch/torch.h>

#include <cstdint>

namespace dd::pipeline {

// Latent height and width of an image: 2 * (pixels // 16) each. diffusers accepts multiples of
// 8 and silently rounds a size that is not a multiple of 16 down.
struct FluxLatentSize {
  int64_t height = 0;
  int64_t width = 0;
  // Tokens of the packed latents, (height / 2) * (width / 2): the image_seq_len of the schedule.
  int64_t tokens() const { return (height / 2) * (width / 2); }
};
FluxLatentSize flux_latent_size(int64_t image_height, int64_t image_width);

// [B, C, h, w] -> [B, (h/2)(w/2), 4C] with packed[b, i*(w/2) + j, c*4 + dy*2 + dx] =
// latents[b, c, 2i + dy, 2j + dx]. h and w must be even.
torch::Tensor pack_latents(const torch::Tensor& latents);
// The inverse: [B, (h/2)(w/2), 4C] -> [B, C, h, w].
torch::Tensor unpack_latents(const torch::Tensor& packed, int64_t height, int64_t width);

// [S, 3] float32 position ids of the packed latents, row (0, i, j) at token i*(w/2) + j, and
// [L, 3] zeros for L text tokens (2-D as diffusers >= 0.31 passes them; add a batch dimension
// for the 0.30 layout).
torch::Tensor flux_image_ids(int64_t height, int64_t width);
torch::Tensor flux_text_ids(int64_t length);

// The mask processor of FLUX's Fill / inpaint pipelines: 1 where mask >= 0.5 (repaint), else 0,
// in the mask's floating dtype. [B, 1, H, W] in, same shape out.
torch::Tensor binarize_mask(const torch::Tensor& mask);

// The image FLUX.1 Fill encodes: the repaint area set to 0 (mid grey), the rest kept.
// image_pre [B, 3, H, W] in [-1, 1], mask_pre the binarised mask [B, 1, H, W].
torch::Tensor fill_masked_image(const torch::Tensor& image_pre, const torch::Tensor& mask_pre);

// FLUX.1 Fill's mask features: each latent pixel carries its whole f x f pixel block
// (f = H / h, 8 for FLUX's VAE) as f*f channels, channel py*f + px = mask_pre[8y + py, 8x + px],
// then packed: [B, 1, H, W] -> [B, (h/2)(w/2), 4 f^2] (256 for f = 8). H and W must be exactly
// f times the latent size.
torch::Tensor fill_mask_packed(const torch::Tensor& mask_pre, int64_t height, int64_t width);

// The constant part of FLUX.1 Fill's transformer input: cat(packed masked-image latents
// [B, S, 64], fill_mask_packed [B, S, 256]) on the feature axis -> [B, S, 320]. Each step feeds
// cat(x, conditioning).
torch::Tensor fill_conditioning(const torch::Tensor& masked_image_latents_packed,
                                const torch::Tensor& mask_packed);

// Inpainting with the ordinary (64-channel) model re-blends by a latent-resolution mask: the
// binarised mask resized by nearest neighbour (F.interpolate's default: the top-left pixel of
// each block) -> [B, 1, h, w], and that repeated over `channels` latent channels and packed ->
// [B, S, 4 * channels].
torch::Tensor inpaint_mask_latent(const torch::Tensor& mask_pre, int64_t height, int64_t width);
torch::Tensor inpaint_mask_packed(const torch::Tensor& mask_pre, int64_t height, int64_t width,
                                  int64_t channels = 16);

}  // namespace dd::pipeline
