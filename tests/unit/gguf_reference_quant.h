#pragma once
// Reference encoders for ggml's block formats, written from the formats' definitions for the
// tests: each returns the stored bytes and the float values the definition gives them.
// Q4_0..Q8_0 quantise given values; the K-quants are built from chosen integer codes and scales
// (all a test needs). Scales are halves with a few mantissa bits, so that every expected value
// is exact in float whatever the order of the products.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace dd::test {

struct Encoded {
  std::string bytes;
  std::vector<float> values;  // what the definition says the bytes hold
};

inline std::string half_bytes(float value) {
  const uint16_t bits = c10::Half(value).x;
  return std::string{static_cast<char>(bits & 0xff), static_cast<char>(bits >> 8)};
}
inline float as_half(float value) { return static_cast<float>(c10::Half(value)); }

// A positive half of the form (1 + k/64) * 2^exponent: exact, and with few mantissa bits.
inline float short_half(std::mt19937& rng, int exponent) {
  return std::ldexp(1.0f + static_cast<float>(rng() % 64) / 64.0f, exponent);
}

inline std::vector<float> random_values(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline Encoded encode_f32(const std::vector<float>& v) {
  Encoded e{std::string(v.size() * 4, '\0'), v};
  std::memcpy(e.bytes.data(), v.data(), e.bytes.size());
  return e;
}

inline Encoded encode_f16(const std::vector<float>& v) {
  Encoded e;
  for (float x : v) {
    e.bytes += half_bytes(x);
    e.values.push_back(as_half(x));
  }
  return e;
}

inline Encoded encode_bf16(const std::vector<float>& v) {
  Encoded e;
  for (float x : v) {
    const c10::BFloat16 b(x);
    e.bytes += std::string{static_cast<char>(b.x & 0xff), static_cast<char>(b.x >> 8)};
    e.values.push_back(static_cast<float>(b));
  }
  return e;
}

// Q8_0: d (half) and 32 int8 codes; x = q * d.
inline Encoded encode_q8_0(const std::vector<float>& v) {
  Encoded e;
  for (size_t b = 0; b < v.size(); b += 32) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[b + i]));
    const float d = as_half(amax / 127.0f);
    e.bytes += half_bytes(d);
    for (size_t i = 0; i < 32; ++i) {
      const int q = d == 0 ? 0 : std::clamp(static_cast<int>(std::lround(v[b + i] / d)), -127, 127);
      e.bytes += static_cast<char>(static_cast<int8_t>(q));
      e.values.push_back(static_cast<float>(static_cast<double>(q) * d));
    }
  }
  return e;
}

// Q4_0/Q4_1/Q5_0/Q5_1: value i of a block of 32 has its low 4 bits in byte i % 16 (low nibble
// for i < 16, high nibble otherwise); Q5's fifth bit is bit i of the 32-bit qh. The _0 formats
// are x = (q - offset) * d, the _1 formats x = q * d + m.
inline Encoded encode_small_blocks(const std::vector<float>& v, int bits, bool with_min) {
  const int top = (1 << bits) - 1;
  Encoded e;
  for (size_t b = 0; b < v.size(); b += 32) {
    const auto [lo, hi] = std::minmax_element(v.begin() + b, v.begin() + b + 32);
    float d, m = 0;
    int offset = 0;
    if (with_min) {
      m = as_half(*lo);
      d = as_half((*hi - m) / top);
    } else {
      offset = 1 << (bits - 1);
      d = as_half(std::max(std::fabs(*lo), std::fabs(*hi)) / offset);
    }
    std::vector<int> q(32);
    for (int i = 0; i < 32; ++i) {
      const float x = with_min ? (v[b + i] - m) : v[b + i];
      q[i] = std::clamp(static_cast<int>(std::lround(d == 0 ? 0 : x / d)) + offset, 0, top);
      e.values.push_back(with_min ? static_cast<float>(static_cast<double>(q[i]) * d + m)
                                  : static_cast<float>(static_cast<double>(q[i] - offset) * d));
    }
    e.bytes += half_bytes(d);
    if (with_min) e.bytes += half_bytes(m);
    if (bits == 5) {
      uint32_t qh = 0;
      for (int i = 0; i < 32; ++i) qh |= static_cast<uint32_t>(q[i] >> 4) << i;
      for (int k = 0; k < 4; ++k) e.bytes += static_cast<char>((qh >> (8 * k)) & 0xff);
    }
    for (int i = 0; i < 16; ++i) e.bytes += static_cast<char>((q[i] & 15) | (q[i + 16] & 15) << 4);
  }
  return e;
}

// Q4_K (bits 4) and Q5_K (bits 5): super-blocks of 256 in 8 sub-blocks of 32, each with a 6-bit
// scale sc and min m; x = d * sc * q - dmin * m. Scales and mins of sub-blocks 0..3 are the low
// 6 bits of bytes 0..3 and 4..7; those of 4..7 have their low 4 bits in bytes 8..11 (scale low,
// min high) and their top 2 bits in the top bits of bytes 0..3 (scales) and 4..7 (mins).
// Values 64c..64c+31 are the low nibbles of qs[32c..32c+31], 64c+32.. the high nibbles; Q5_K's
// fifth bits are bits 2c and 2c+1 of qh[0..31].
inline Encoded encode_k_quant(std::mt19937& rng, size_t n, int bits) {
  Encoded e;
  for (size_t b = 0; b < n; b += 256) {
    const float d = short_half(rng, -8), dmin = short_half(rng, -8);
    int sc[8], m[8], q[256];
    for (int j = 0; j < 8; ++j) sc[j] = rng() % 64, m[j] = rng() % 64;
    for (int& x : q) x = rng() % (1 << bits);
    uint8_t scales[12] = {};
    for (int j = 0; j < 4; ++j) {
      scales[j] = sc[j] | (sc[j + 4] >> 4) << 6;
      scales[j + 4] = m[j] | (m[j + 4] >> 4) << 6;
      scales[j + 8] = (sc[j + 4] & 15) | (m[j + 4] & 15) << 4;
    }
    e.bytes += half_bytes(d) + half_bytes(dmin);
    e.bytes.append(reinterpret_cast<const char*>(scales), 12);
    if (bits == 5) {
      for (int l = 0; l < 32; ++l) {
        int qh = 0;
        for (int c = 0; c < 4; ++c)
          qh |= (q[64 * c + l] >> 4) << (2 * c) | (q[64 * c + 32 + l] >> 4) << (2 * c + 1);
        e.bytes += static_cast<char>(qh);
      }
    }
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        e.bytes += static_cast<char>((q[64 * c + l] & 15) | (q[64 * c + 32 + l] & 15) << 4);
    for (int i = 0; i < 256; ++i)
      e.values.push_back(static_cast<float>(static_cast<double>(d) * sc[i / 32] * q[i] -
                                            static_cast<double>(dmin) * m[i / 32]));
  }
  return e;
}

// Q6_K: ql[128], qh[64], int8 scales[16], d; x = d * scale[i / 16] * (q - 32), q 6 bits. In
// each half h of 128 values, value 32k + l (k = 0..3) has its low 4 bits in ql[64h + l] (k 0:
// low nibble, k 2: high) or ql[64h + 32 + l] (k 1: low, k 3: high), its top 2 bits at bits
// 2k..2k+1 of qh[32h + l].
inline Encoded encode_q6_k(std::mt19937& rng, size_t n) {
  Encoded e;
  for (size_t b = 0; b < n; b += 256) {
    const float d = short_half(rng, -10);
    int q[256], sc[16];
    for (int& x : q) x = rng() % 64;
    for (int& s : sc) s = static_cast<int>(rng() % 256) - 128;
    uint8_t ql[128] = {}, qh[64] = {};
    for (int i = 0; i < 256; ++i) {
      const int h = i / 128, k = (i % 128) / 32, l = i % 32;
      const int low_byte = 64 * h + (k % 2) * 32 + l;
      ql[low_byte] |= (q[i] & 15) << (k >= 2 ? 4 : 0);
      qh[32 * h + l] |= (q[i] >> 4) << (2 * k);
    }
    e.bytes.append(reinterpret_cast<const char*>(ql), 128);
    e.bytes.append(reinterpret_cast<const char*>(qh), 64);
    for (int s : sc) e.bytes += static_cast<char>(static_cast<int8_t>(s));
    e.bytes += half_bytes(d);
    for (int i = 0; i < 256; ++i)
      e.values.push_back(static_cast<float>(static_cast<double>(d) * sc[i / 16] * (q[i] - 32)));
  }
  return e;
}

}  // namespace dd::test
