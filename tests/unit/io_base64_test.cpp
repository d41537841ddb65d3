#include <gtest/gtest.h>

#include "io/base64.h"
#include "util/error.h"

namespace dd::io {
namespace {

std::string decode_text(const std::string& text) {
  const auto bytes = base64_decode(text, "field");
  return std::string(bytes.begin(), bytes.end());
}

// RFC 4648 section 10 test vectors.
TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(std::string_view("")), "");
  EXPECT_EQ(base64_encode(std::string_view("f")), "Zg==");
  EXPECT_EQ(base64_encode(std::string_view("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(std::string_view("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(std::string_view("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(Base64, DecodesRfc4648Vectors) {
  EXPECT_EQ(decode_text(""), "");
  EXPECT_EQ(decode_text("Zg=="), "f");
  EXPECT_EQ(decode_text("Zm8="), "fo");
  EXPECT_EQ(decode_text("Zm9v"), "foo");
  EXPECT_EQ(decode_text("Zm9vYg=="), "foob");
  EXPECT_EQ(decode_text("Zm9vYmE="), "fooba");
  EXPECT_EQ(decode_text("Zm9vYmFy"), "foobar");
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 256 * 3 + 1; ++i) bytes.push_back(static_cast<uint8_t>(i * 37 + 11));
  for (size_t size : {0, 1, 2, 3, 4, 255, 769}) {
    const std::vector<uint8_t> part(bytes.begin(), bytes.begin() + size);
    EXPECT_EQ(base64_decode(base64_encode(part), "x"), part) << size;
  }
  EXPECT_EQ(base64_encode(std::vector<uint8_t>{0xfb, 0xff}), "+/8=");
}

TEST(Base64, StripsDataUrlPrefixAndWhitespace) {
  EXPECT_EQ(decode_text("data:image/png;base64,Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode_text("data:image/jpeg;base64,Zm9v\r\nYmE=\n"), "fooba");
  EXPECT_EQ(decode_text("  Zm9v YmFy\t\n"), "foobar");
  EXPECT_EQ(decode_text("Zm9vYg"), "foob");  // missing padding is forgiven
  EXPECT_EQ(decode_text("Zm9vYmE"), "fooba");
}

TEST(Base64, RejectsBadInputNamingTheField) {
  const std::vector<std::string> bad = {
      "Zm9v!mFy",                    // character outside the alphabet
      "Zm9v-_Fy",                    // URL-safe alphabet is not accepted
      "Z",                           // one symbol cannot encode a byte
      "Zm9vY",                       // likewise after full groups
      "Zg=",                         // padding does not complete the group
      "Zg===",                       // too much padding
      "====",                        // padding alone
      "Zg==Zm9v",                    // data after the padding
      "data:image/png,Zm9v",         // a data URL that is not base64
      "data:image/png;base64Zm9v",   // no comma
      std::string("Zm9v\0YmFy", 9),  // NUL byte
      "Zm9v\xc3\xa9YmFy",            // non-ASCII
  };
  for (const auto& text : bad) {
    try {
      base64_decode(text, "image");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("image: ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace dd::io
