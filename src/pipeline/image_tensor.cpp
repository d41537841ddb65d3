#include "pipeline/image_tensor.h"

#include "util/error.h"

namespace dd::pipeline {

namespace {

torch::Tensor hwc_bytes(const io::Image& image) {
  return torch::from_blob(const_cast<uint8_t*>(image.rgb.data()), {image.height, image.width, 3},
                          torch::kUInt8);
}

}  // namespace

torch::Tensor image_to_tensor(const io::Image& image) {
  return hwc_bytes(image)
      .to(torch::kFloat32)
      .div(255.0)
      .permute({2, 0, 1})
      .unsqueeze(0)
      .contiguous();
}

torch::Tensor mask_to_tensor(const io::Image& image) {
  return image_to_tensor(image).mean(1, /*keepdim=*/true);
}

io::Image tensor_to_image(const torch::Tensor& chw) {
  auto t = chw.dim() == 4 ? chw.squeeze(0) : chw;
  if (t.dim() != 3 || t.size(0) != 3) throw Error("tensor_to_image: expected [3, H, W]");
  auto bytes = t.to(torch::kFloat32)
                   .clamp(0.0, 1.0)
                   .mul(255.0)
                   .round()
                   .to(torch::kUInt8)
                   .permute({1, 2, 0})
                   .contiguous();
  io::Image image;
  image.height = static_cast<int>(bytes.size(0));
  image.width = static_cast<int>(bytes.size(1));
  image.rgb.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  return image;
}

}  // namespace dd::pipeline
