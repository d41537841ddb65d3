#include "models/fused_attention.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "models/fused_attention_kernel.h"

// Without -fopenmp, at::parallel_for compiles to a plain serial loop and the kernel would use
// one core whatever at::set_num_threads says (see CMakeLists.txt).
#ifndef INTRA_OP_PARALLEL
#error "build with -fopenmp: at::parallel_for is serial without it"
#endif

namespace dd::models {

namespace fd = fused_detail;

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool same_leading_dims(const torch::Tensor& a, const torch::Tensor& b) {
  return a.dim() == b.dim() && a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2);
}

// Both kernels read rows as runs of elements; any other stride is fine.
torch::Tensor rows_contiguous(const torch::Tensor& t) {
  return t.stride(-1) == 1 ? t : t.contiguous();
}

// With q's layout when possible: the transformer's q is a [B, heads, N, d] view of [B, N, heads*d],
// and an output laid out the same way makes its transpose back a view instead of a copy.
torch::Tensor output_for(const torch::Tensor& q, const torch::Tensor& v) {
  if (v.size(-1) == q.size(-1)) {
    auto out = torch::empty_like(q, torch::MemoryFormat::Preserve);
    if (out.stride(-1) == 1) return out;
  }
  auto sizes = q.sizes().vec();
  sizes.back() = v.size(-1);
  return torch::empty(sizes, q.options());
}

// Element offset of every matrix of t (its last two dimensions), leading indices in row-major
// order: the flattened batch * heads index the kernel iterates over.
std::vector<int64_t> matrix_offsets(const torch::Tensor& t) {
  std::vector<int64_t> offsets{0};
  for (int64_t d = 0; d < t.dim() - 2; ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * t.size(d));
    for (const int64_t offset : offsets)
      for (int64_t i = 0; i < t.size(d); ++i) next.push_back(offset + i * t.stride(d));
    offsets.swap(next);
  }
  return offsets;
}

// --- AVX-512
// --------------------------------------------------------------------------------------

void run_avx512(const fd::Problem& p) {
  // Keys and values of every matrix are packed once, then shared by all its query blocks.
  const int64_t packed_bytes = fd::avx512_packed_bytes(p);
  const auto packed = torch::empty({p.count * packed_bytes}, torch::kUInt8);
  uint8_t* base = packed.data_ptr<uint8_t>();
  at::parallel_for(0, p.count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) fd::avx512_pack(p, m, base + m * packed_bytes);
  });
  const int64_t blocks = ceil_div(p.queries, fd::kQueryBlock);
  at::parallel_for(0, p.count * blocks, 1, [&](int64_t begin, int64_t end) {
    // LibTorch's allocator aligns to 64 bytes: every scratch array starts on a cache line.
    const auto scratch = torch::empty({fd::avx512_scratch_bytes(p)}, torch::kUInt8);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t m = item / blocks;
      fd::avx512_attend(p, m, item % blocks, base + m * packed_bytes, scratch.data_ptr());
    }
  });
}

torch::Tensor avx512_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, double scale) {
  auto out = output_for(q, v);
  const auto q_offsets = matrix_offsets(q), k_offsets = matrix_offsets(k),
             v_offsets = matrix_offsets(v), out_offsets = matrix_offsets(out);
  const auto operand = [](const torch::Tensor& t, const std::vector<int64_t>& offsets) {
    return fd::Operand{t.data_ptr(), offsets.data(), t.stride(-2)};
  };
  fd::Problem p;
  p.element = q.scalar_type() == torch::kBFloat16 ? fd::Element::kBFloat16 : fd::Element::kFloat32;
  p.count = static_cast<int64_t>(q_offsets.size());
  p.queries = q.size(-2);
  p.keys = k.size(-2);
  p.qk_dim = q.size(-1);
  p.v_dim = v.size(-1);
  p.scale = static_cast<float>(scale);
  p.q = operand(q, q_offsets);
  p.k = operand(k, k_offsets);
  p.v = operand(v, v_offsets);
  p.out = operand(out, out_offsets);
  run_avx512(p);
  return out;
}

// --- portable
// -------------------------------------------------------------------------------------

// Contiguous float32 copies [count, rows, cols]: the portable loop needs neither strides nor bf16.
struct FlatProblem {
  torch::Tensor q, k, v, out;
  float scale;
  bool round_probabilities;  // bf16 inputs: round p to bf16 before p v, as the kernel does
};

torch::Tensor flat_float(const torch::Tensor& t) {
  return t.to(torch::kFloat32).reshape({-1, t.size(-2), t.size(-1)}).contiguous();
}

// One query row against all keys, a key block at a time with the online softmax, like the
// kernel: scores [kKeyBlock] and the unnormalised output acc [dv] are the only state.
void portable_row(const FlatProblem& f, int64_t m, int64_t i, float* scores, float* acc) {
  const int64_t keys = f.k.size(1), d = f.q.size(2), dv = f.v.size(2);
  const float* q = f.q.data_ptr<float>() + (m * f.q.size(1) + i) * d;
  const float* k = f.k.data_ptr<float>() + m * keys * d;
  const float* v = f.v.data_ptr<float>() + m * keys * dv;
  float max = -std::numeric_limits<float>::infinity(), sum = 0.0f;
  std::fill(acc, acc + dv, 0.0f);
  for (int64_t first = 0; first < keys; first += fd::kKeyBlock) {
    const int64_t n = std::min(fd::kKeyBlock, keys - first);
    float block_max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) {
      const float* key = k + (first + j) * d;
      float dot = 0.0f;
      for (int64_t c = 0; c < d; ++c) dot += q[c] * key[c];
      scores[j] = dot * f.scale;
      block_max = std::max(block_max, scores[j]);
    }
    const float new_max = std::max(max, block_max);
    const float correction = std::exp(max - new_max);  // 0 on the first block
    sum *= correction;
    for (int64_t c = 0; c < dv; ++c) acc[c] *= correction;
    for (int64_t j = 0; j < n; ++j) {
      float p = std::exp(scores[j] - new_max);
      sum += p;
      if (f.round_probabilities) p = static_cast<float>(c10::BFloat16(p));
      const float* value = v + (first + j) * dv;
      for (int64_t c = 0; c < dv; ++c) acc[c] += p * value[c];
    }
    max = new_max;
  }
  float* out = f.out.data_ptr<float>() + (m * f.q.size(1) + i) * dv;
  for (int64_t c = 0; c < dv; ++c) out[c] = acc[c] / sum;
}

torch::Tensor portable_attention(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale) {
  FlatProblem f{flat_float(q),
                flat_float(k),
                flat_float(v),
                {},
                static_cast<float>(scale),
                q.scalar_type() == torch::kBFloat16};
  const int64_t count = f.q.size(0), queries = f.q.size(1), dv = f.v.size(2);
  f.out = torch::empty({count, queries, dv}, torch::kFloat32);
  at::parallel_for(0, count * queries, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(fd::kKeyBlock), acc(dv);
    for (int64_t row = begin; row < end; ++row)
      portable_row(f, row / queries, row % queries, scores.data(), acc.data());
  });
  auto sizes = q.sizes().vec();
  sizes.back() = dv;
  return f.out.reshape(sizes).to(q.scalar_type());
}

bool use_avx512(FusedAttentionPath path) {
  switch (path) {
    case FusedAttentionPath::kAvx512:
      TORCH_CHECK(avx512_attention_available(),
                  "fused_attention: this CPU lacks AVX-512F/BW/VL/BF16");
      return true;
    case FusedAttentionPath::kPortable:
      return false;
    default:
      return avx512_attention_available();
  }
}

}  // namespace

bool avx512_attention_available() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bf16");
  }();
  return available;
}

bool fused_attention_supports(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale) {
  const auto type = q.scalar_type();
  if (type != torch::kFloat32 && type != torch::kBFloat16) return false;
  if (k.scalar_type() != type || v.scalar_type() != type) return false;
  for (const auto* t : {&q, &k, &v})
    if (!t->device().is_cpu() || t->layout() != torch::kStrided) return false;
  if (q.dim() < 2 || !same_leading_dims(q, k) || !same_leading_dims(q, v)) return false;
  if (k.size(-1) != q.size(-1) || v.size(-2) != k.size(-2)) return false;
  if (k.size(-2) == 0 || q.size(-1) == 0 || v.size(-1) == 0) return false;
  if (!(scale > 0.0 && scale <= fd::kMaxScale)) return false;
  const bool needs_grad = q.requires_grad() || k.requires_grad() || v.requires_grad();
  return !(needs_grad && torch::GradMode::is_enabled());
}

torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale, FusedAttentionPath path) {
  TORCH_CHECK(fused_attention_supports(q, k, v, scale),
              "fused_attention: unsupported inputs (see fused_attention_supports)");
  // Seen by profilers and by the bench's FLOP counter, which has no other way to know that
  // q k^T and p v happen in here.
  RECORD_FUNCTION(kFusedAttentionEvent, std::vector<c10::IValue>({q, k, v}));
  const bool avx512 = use_avx512(path);
  if (q.numel() == 0) return output_for(q, v);
  const auto qr = rows_contiguous(q), kr = rows_contiguous(k), vr = rows_contiguous(v);
  return avx512 ? avx512_attention(qr, kr, vr, scale) : portable_attention(qr, kr, vr, scale);
}

}  // namespace dd::models
