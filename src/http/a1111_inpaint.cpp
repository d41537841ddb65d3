#include "http/a1111_inpaint.h"

#include <algorithm>
#include <cmath>

#include "http/request_fields.h"
#include "http/sync_generation.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "io/image_resize.h"

namespace dd::http {

namespace {

using field_limits::kMaxSide;
using field_limits::kMinSide;

// One box pass of radius r along one axis (`stride` apart, `count` long, `lines` of them),
// averaging over the pixels inside the picture.
void box_pass(std::vector<float>& plane, int count, int lines, size_t step, size_t line_step,
              int channels, int r) {
  std::vector<double> prefix(static_cast<size_t>(count) + 1);
  for (int line = 0; line < lines; ++line)
    for (int c = 0; c < channels; ++c) {
      const size_t base = static_cast<size_t>(line) * line_step + static_cast<size_t>(c);
      for (int i = 0; i < count; ++i) prefix[i + 1] = prefix[i] + plane[base + i * step];
      for (int i = 0; i < count; ++i) {
        const int lo = std::max(0, i - r), hi = std::min(count - 1, i + r);
        plane[base + i * step] = static_cast<float>((prefix[hi + 1] - prefix[lo]) / (hi - lo + 1));
      }
    }
}

// Three boxes of this radius make a Gaussian of `sigma` (their variance adds up).
int box_radius(double sigma) {
  return static_cast<int>(std::lround((std::sqrt(4 * sigma * sigma + 1) - 1) / 2));
}

io::Image decode(const std::string& base64, const std::string& param) {
  try {
    return io::decode_image(io::base64_decode(base64, param), param);
  } catch (const Error& e) {
    throw bad_parameter(param, e.what());
  }
}

int snapped(int side) { return std::clamp((side + 4) / 8 * 8, kMinSide, kMaxSide); }

io::Image sized(const io::Image& image, int width, int height) {
  return image.width == width && image.height == height ? image
                                                        : io::resize_image(image, width, height);
}

// White (luminance >= 128) = repaint, as A1111 makes a mask binary (mask_round).
std::vector<float> binary_mask(const io::Image& mask, bool invert) {
  std::vector<float> plane(static_cast<size_t>(mask.width) * mask.height);
  for (size_t i = 0; i < plane.size(); ++i) {
    const uint8_t* p = &mask.rgb[i * 3];
    const double luminance = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    plane[i] = (luminance >= 127.5) != invert ? 1.0f : 0.0f;
  }
  return plane;
}

io::Image mask_image(const std::vector<float>& plane, int width, int height) {
  io::Image out{width, height, std::vector<uint8_t>(plane.size() * 3)};
  for (size_t i = 0; i < plane.size(); ++i) {
    const auto v = static_cast<uint8_t>(std::lround(std::clamp(plane[i], 0.0f, 1.0f) * 255));
    out.rgb[i * 3] = out.rgb[i * 3 + 1] = out.rgb[i * 3 + 2] = v;
  }
  return out;
}

std::string store(Api& api, const io::Image& image, const std::string& param) {
  return save_input_image(api, io::encode_png(image), param);
}

}  // namespace

void blur_plane(std::vector<float>& plane, int width, int height, int channels, double sigma_x,
                double sigma_y) {
  const int rx = box_radius(sigma_x), ry = box_radius(sigma_y);
  const size_t row = static_cast<size_t>(width) * channels;
  for (int pass = 0; pass < 3; ++pass) {
    if (rx > 0) box_pass(plane, width, height, channels, row, channels, rx);
    if (ry > 0) box_pass(plane, height, width, row, channels, channels, ry);
  }
}

io::Image fill_masked(const io::Image& image, const std::vector<float>& mask) {
  const size_t pixels = mask.size();
  // Premultiplied colour and coverage of the pixels kept (A1111's RGBa picture).
  std::vector<float> kept(pixels * 4);
  for (size_t i = 0; i < pixels; ++i) {
    const float weight = mask[i] > 0.5f ? 0.0f : 1.0f;
    for (int c = 0; c < 3; ++c) kept[i * 4 + c] = image.rgb[i * 3 + c] * weight;
    kept[i * 4 + 3] = weight;
  }
  std::vector<float> out(pixels * 3, 0.0f);
  // A1111's radii and repeats (modules/masking.py, fill): wide blurs give the area its overall
  // colour, narrow ones the colours near its edge, radius 0 the kept pixels themselves.
  const std::pair<double, int> layers[] = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};
  for (const auto& [radius, repeats] : layers) {
    std::vector<float> blurred = kept;
    if (radius > 0) blur_plane(blurred, image.width, image.height, 4, radius, radius);
    for (int repeat = 0; repeat < repeats; ++repeat)
      for (size_t i = 0; i < pixels; ++i) {
        const float alpha = blurred[i * 4 + 3];
        if (alpha <= 0) continue;
        for (int c = 0; c < 3; ++c)
          out[i * 3 + c] = blurred[i * 4 + c] + out[i * 3 + c] * (1 - alpha);  // premultiplied
      }
  }
  io::Image filled{image.width, image.height, std::vector<uint8_t>(pixels * 3)};
  for (size_t i = 0; i < out.size(); ++i)
    filled.rgb[i] = static_cast<uint8_t>(std::lround(std::clamp(out[i], 0.0f, 255.0f)));
  return filled;
}

A1111Inputs a1111_img2img_inputs(Api& api, const JsonBody& body, std::optional<int> width,
                                 std::optional<int> height) {
  const auto* images = body.has("init_images") ? &body.json().at("init_images") : nullptr;
  if (!images || images->empty())
    throw bad_parameter("init_images", "init_images must hold the picture (base64)");
  if (images->size() > 1)
    throw ApiError(422, "unsupported", "only one picture in init_images is supported",
                   "init_images");
  if (!images->at(0).is_string())
    throw bad_parameter("init_images", "init_images must hold base64 text");
  const io::Image picture = decode(images->at(0).get<std::string>(), "init_images");
  A1111Inputs inputs;
  inputs.width = width.value_or(snapped(picture.width));
  inputs.height = height.value_or(snapped(picture.height));
  io::Image image = sized(picture, inputs.width, inputs.height);
  if (const auto mask_text = body.string("mask", api.options.max_body_bytes)) {
    const io::Image mask_picture = sized(decode(*mask_text, "mask"), inputs.width, inputs.height);
    auto mask = binary_mask(mask_picture, body.integer("inpainting_mask_invert", 0, 1) == 1);
    const auto blur = body.integer("mask_blur", 0, 64).value_or(4);
    const auto blur_x = body.integer("mask_blur_x", 0, 64).value_or(blur);
    const auto blur_y = body.integer("mask_blur_y", 0, 64).value_or(blur);
    if (body.integer("inpainting_fill", 0, 3).value_or(0) == 0) image = fill_masked(image, mask);
    blur_plane(mask, inputs.width, inputs.height, 1, static_cast<double>(blur_x),
               static_cast<double>(blur_y));
    inputs.mask_path = store(api, mask_image(mask, inputs.width, inputs.height), "mask");
  }
  inputs.image_path = store(api, image, "init_images");
  return inputs;
}

}  // namespace dd::http
