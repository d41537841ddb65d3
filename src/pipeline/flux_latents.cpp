#include "pipeline/flux_latents.h"

#include <string>

#include "util/error.h"

namespace dd::pipeline {

namespace {

std::string sizes(const torch::Tensor& t) { return c10::str(t.sizes()); }

void check_mask(const torch::Tensor& mask, const char* what) {
  if (mask.dim() != 4 || mask.size(1) != 1)
    throw Error(std::string("flux latents: ") + what + " must be [B, 1, H, W], got " + sizes(mask));
}

}  // namespace

FluxLatentSize flux_latent_size(int64_t image_height, int64_t image_width) {
  if (image_height < 16 || image_width < 16)
    throw Error("flux latents: the image must be at least 16x16 pixels, got " +
                std::to_string(image_width) + "x" + std::to_string(image_height));
  return {2 * (image_height / 16), 2 * (image_width / 16)};
}

torch::Tensor pack_latents(const torch::Tensor& latents) {
  if (latents.dim() != 4 || latents.size(2) % 2 != 0 || latents.size(3) % 2 != 0)
    throw Error("flux latents: pack needs [B, C, h, w] with even h and w, got " + sizes(latents));
  const int64_t b = latents.size(0), c = latents.size(1);
  const int64_t rows = latents.size(2) / 2, cols = latents.size(3) / 2;
  return latents.view({b, c, rows, 2, cols, 2})
      .permute({0, 2, 4, 1, 3, 5})
      .reshape({b, rows * cols, c * 4});
}

torch::Tensor unpack_latents(const torch::Tensor& packed, int64_t height, int64_t width) {
  if (height % 2 != 0 || width % 2 != 0 || height <= 0 || width <= 0)
    throw Error("flux latents: unpack needs a positive even latent size, got " +
                std::to_string(height) + "x" + std::to_string(width));
  const int64_t rows = height / 2, cols = width / 2;
  if (packed.dim() != 3 || packed.size(1) != rows * cols || packed.size(2) % 4 != 0)
    throw Error("flux latents: unpack to " + std::to_string(height) + "x" + std::to_string(width) +
                " needs [B, " + std::to_string(rows * cols) + ", 4C], got " + sizes(packed));
  const int64_t b = packed.size(0), c = packed.size(2) / 4;
  return packed.view({b, rows, cols, c, 2, 2})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({b, c, height, width});
}

torch::Tensor flux_image_ids(int64_t height, int64_t width) {
  const int64_t rows = height / 2, cols = width / 2;
  auto ids = torch::zeros({rows, cols, 3}, torch::kFloat32);
  ids.select(2, 1).add_(torch::arange(rows, torch::kFloat32).unsqueeze(1));
  ids.select(2, 2).add_(torch::arange(cols, torch::kFloat32).unsqueeze(0));
  return ids.reshape({rows * cols, 3});
}

torch::Tensor flux_text_ids(int64_t length) { return torch::zeros({length, 3}, torch::kFloat32); }

torch::Tensor binarize_mask(const torch::Tensor& mask) {
  check_mask(mask, "mask");
  const auto dtype = mask.is_floating_point() ? mask.scalar_type() : torch::kFloat32;
  return (mask >= 0.5).to(dtype);
}

torch::Tensor fill_masked_image(const torch::Tensor& image_pre, const torch::Tensor& mask_pre) {
  check_mask(mask_pre, "mask_pre");
  if (image_pre.dim() != 4 || image_pre.size(2) != mask_pre.size(2) ||
      image_pre.size(3) != mask_pre.size(3))
    throw Error("flux latents: image " + sizes(image_pre) + " and mask " + sizes(mask_pre) +
                " differ in size");
  return image_pre * (1 - mask_pre);
}

torch::Tensor fill_mask_packed(const torch::Tensor& mask_pre, int64_t height, int64_t width) {
  check_mask(mask_pre, "mask_pre");
  const int64_t b = mask_pre.size(0);
  const int64_t f = height > 0 ? mask_pre.size(2) / height : 0;
  if (f < 1 || mask_pre.size(2) != f * height || mask_pre.size(3) != f * width)
    throw Error("flux latents: a " + sizes(mask_pre) + " mask is not a whole number of pixel " +
                "blocks of a " + std::to_string(height) + "x" + std::to_string(width) + " latent");
  // [B, h, f, w, f] -> [B, f (py), f (px), h, w]: channel py*f + px.
  const auto blocks = mask_pre.select(1, 0)
                          .reshape({b, height, f, width, f})
                          .permute({0, 2, 4, 1, 3})
                          .reshape({b, f * f, height, width});
  return pack_latents(blocks);
}

torch::Tensor fill_conditioning(const torch::Tensor& masked_image_latents_packed,
                                const torch::Tensor& mask_packed) {
  const auto& a = masked_image_latents_packed;
  if (a.dim() != 3 || mask_packed.dim() != 3 || a.size(0) != mask_packed.size(0) ||
      a.size(1) != mask_packed.size(1))
    throw Error("flux latents: masked-image latents " + sizes(a) + " and packed mask " +
                sizes(mask_packed) + " differ in batch or tokens");
  return torch::cat({a, mask_packed.to(a.scalar_type())}, -1);
}

torch::Tensor inpaint_mask_latent(const torch::Tensor& mask_pre, int64_t height, int64_t width) {
  check_mask(mask_pre, "mask_pre");
  namespace F = torch::nn::functional;
  return F::interpolate(
      mask_pre,
      F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(torch::kNearest));
}

torch::Tensor inpaint_mask_packed(const torch::Tensor& mask_pre, int64_t height, int64_t width,
                                  int64_t channels) {
  return pack_latents(inpaint_mask_latent(mask_pre, height, width).repeat({1, channels, 1, 1}));
}

}  // namespace dd::pipeline
