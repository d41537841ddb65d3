// The parts of the AUTOMATIC1111 dialect that need no server: <lora:...> prompt tags, the mask
// blur and the "fill" of a masked area.
#include <gtest/gtest.h>

#include "http/a1111_inpaint.h"
#include "http/a1111_lora_tags.h"
#include "http/api_error.h"

namespace dd::http {
namespace {

TEST(A1111LoraTags, TakesTagsOutAndKeepsOtherText) {
  const auto out =
      take_lora_tags("a <lora:style:0.8>cat, <lora:detail> x < y > z <other:1>", true, "prompt");
  EXPECT_EQ(out.prompt, "a cat,  x < y > z <other:1>");
  ASSERT_EQ(out.loras.size(), 2u);
  EXPECT_EQ(out.loras[0].name, "style");
  EXPECT_DOUBLE_EQ(out.loras[0].weight, 0.8);
  EXPECT_EQ(out.loras[1].name, "detail");
  EXPECT_DOUBLE_EQ(out.loras[1].weight, 1.0);
  // Not applied: only taken out.
  const auto off = take_lora_tags("a <lora:style:-0.5> b", false, "prompt");
  EXPECT_EQ(off.prompt, "a  b");
  EXPECT_TRUE(off.loras.empty());
  // An unclosed tag is plain text.
  EXPECT_EQ(take_lora_tags("a <lora:style", true, "prompt").prompt, "a <lora:style");
}

TEST(A1111LoraTags, MalformedTagsAreErrors) {
  for (const char* prompt : {"<lora:>", "<lora::1>", "<lora:x:abc>", "<lora:x:11>",
                             "<lora:x:1:0.5>", "<lora:x:nan>", "<lora:x:>"}) {
    try {
      take_lora_tags(prompt, true, "prompt");
      ADD_FAILURE() << prompt << " was accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400) << prompt;
      EXPECT_EQ(e.param, "prompt") << prompt;
    }
  }
}

TEST(A1111Inpaint, BlurKeepsAConstantPlaneAndSpreadsAPoint) {
  const int w = 20, h = 10;
  std::vector<float> constant(w * h, 0.25f);
  blur_plane(constant, w, h, 1, 4, 4);
  for (float v : constant) EXPECT_NEAR(v, 0.25f, 1e-5);
  std::vector<float> point(w * h, 0.0f);
  point[5 * w + 10] = 1.0f;
  blur_plane(point, w, h, 1, 2, 2);
  EXPECT_LT(point[5 * w + 10], 1.0f);
  EXPECT_GT(point[5 * w + 11], 0.0f);
  EXPECT_GT(point[6 * w + 10], 0.0f);
  EXPECT_FLOAT_EQ(point[0], 0.0f);  // far away: untouched
  std::vector<float> flat(w * h, 0.0f);
  flat[5 * w + 10] = 1.0f;
  blur_plane(flat, w, h, 1, 0, 0);  // no blur
  EXPECT_FLOAT_EQ(flat[5 * w + 10], 1.0f);
}

TEST(A1111Inpaint, FillPaintsTheMaskedAreaFromItsSurroundings) {
  const int w = 32, h = 32;
  io::Image image{w, h, std::vector<uint8_t>(w * h * 3)};
  std::vector<float> mask(w * h, 0.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const bool hole = x >= 8 && x < 24 && y >= 8 && y < 24;
      mask[i] = hole ? 1.0f : 0.0f;
      // Green around the hole; random-looking garbage inside it.
      const uint8_t garbage = static_cast<uint8_t>((x * 37 + y * 91) % 256);
      image.rgb[i * 3] = hole ? garbage : 0;
      image.rgb[i * 3 + 1] = hole ? 255 - garbage : 200;
      image.rgb[i * 3 + 2] = hole ? garbage : 0;
    }
  const io::Image filled = fill_masked(image, mask);
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i] == 0) {  // kept exactly
      EXPECT_EQ(filled.rgb[i * 3 + 1], 200);
      continue;
    }
    EXPECT_NEAR(filled.rgb[i * 3], 0, 2) << i;  // the surroundings' green, not the garbage
    EXPECT_NEAR(filled.rgb[i * 3 + 1], 200, 2) << i;
    EXPECT_NEAR(filled.rgb[i * 3 + 2], 0, 2) << i;
  }
}

}  // namespace
}  // namespace dd::http
