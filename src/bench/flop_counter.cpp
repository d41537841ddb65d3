#include "bench/flop_counter.h"

#include <ATen/ExpandUtils.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "models/fused_attention.h"

namespace dd::bench {

namespace {

enum class Kind { None, Convolution, Linear, Matmul };

// Handed from on_start to on_end of every counted operator (ObserverContext cannot be made on
// its own).
struct CountedOperator : at::ObserverContext {};

// The counter of this thread (RecordFunction callbacks are plain function pointers, so their
// state lives here) and how many counted operators are running on it.
thread_local FlopCount* t_count = nullptr;
thread_local int t_depth = 0;

Kind kind_of(const char* name) {
  struct Op {
    const char* name;
    Kind kind;
  };
  // The convolution entry points share their first six arguments (input, weight, bias, stride,
  // padding, dilation); the matrix products are read from their tensor arguments.
  static const Op ops[] = {
      {"aten::conv2d", Kind::Convolution},
      {"aten::convolution", Kind::Convolution},
      {"aten::_convolution", Kind::Convolution},
      {"aten::linear", Kind::Linear},
      {"aten::addmm", Kind::Linear},
      {"aten::mm", Kind::Linear},
      {"aten::matmul", Kind::Matmul},
      {"aten::bmm", Kind::Matmul},
      {"aten::baddbmm", Kind::Matmul},
      {models::kFusedAttentionEvent, Kind::Matmul},
  };
  for (const auto& op : ops)
    if (std::strcmp(name, op.name) == 0) return op.kind;
  return Kind::None;
}

// LibTorch's C++ Linear module does not call aten::linear: it runs addmm for 2-D inputs and
// matmul(x, W^T) otherwise. A matrix product whose right operand is one 2-D matrix applies that
// matrix to every row, as a linear layer does; one between two batched activations (attention's
// q k^T and p v) has a batched right operand.
Kind refined(Kind kind, c10::ArrayRef<const c10::IValue> args) {
  if (kind == Kind::Matmul && args.size() >= 2 && args[1].isTensor() &&
      args[1].toTensor().dim() == 2)
    return Kind::Linear;
  return kind;
}

// 2 * batch * M * K * N for a[..., M, K] x b[..., K, N] with broadcast batch dimensions (a 1-D
// operand is a single row or column, as in torch.matmul).
double product_flops(const at::Tensor& a, const at::Tensor& b) {
  const auto dims = [](const at::Tensor& t) {
    return t.dim() > 2 ? t.sizes().slice(0, t.dim() - 2) : at::IntArrayRef{};
  };
  double batch = 1;
  for (int64_t size : at::infer_size(dims(a), dims(b))) batch *= static_cast<double>(size);
  const double m = a.dim() >= 2 ? static_cast<double>(a.size(-2)) : 1.0;
  const double n = b.dim() >= 2 ? static_cast<double>(b.size(-1)) : 1.0;
  return 2.0 * batch * m * static_cast<double>(a.size(-1)) * n;
}

// One entry of a per-dimension argument that may be given once for every dimension.
int64_t entry(const std::vector<int64_t>& values, size_t i) {
  return values.size() == 1 ? values[0] : values.at(i);
}

// Output positions of a convolution from its stride, padding ("same", "valid" or numbers) and
// dilation; -1 when they cannot be read.
double convolution_positions(const at::Tensor& input, const at::Tensor& weight,
                             c10::ArrayRef<const c10::IValue> args) {
  if (args.size() < 6 || !args[3].isIntList() || !args[5].isIntList()) return -1;
  const auto stride = args[3].toIntVector();
  const auto dilation = args[5].toIntVector();
  const bool same = args[4].isString() && args[4].toStringRef() == "same";
  std::vector<int64_t> padding(1, 0);
  if (args[4].isIntList())
    padding = args[4].toIntVector();
  else if (!args[4].isString())
    return -1;
  double positions = 1;
  for (int64_t d = 0; d + 2 < input.dim(); ++d) {
    const int64_t in = input.size(d + 2), kernel = weight.size(d + 2);
    const int64_t out = same ? in
                             : (in + 2 * entry(padding, d) - entry(dilation, d) * (kernel - 1) -
                                1) / entry(stride, d) +
                                   1;
    positions *= static_cast<double>(out);
  }
  return positions;
}

// 2 * outputs * (in_channels / groups * kernel area), i.e. 2 * outputs * weight elements per
// output channel. A transposed convolution spreads each input over the same weights instead.
double convolution_flops(c10::ArrayRef<const c10::IValue> args) {
  const auto& input = args[0].toTensor();
  const auto& weight = args[1].toTensor();
  const double per_output = static_cast<double>(weight.numel()) / weight.size(0);
  const bool transposed = args.size() > 6 && args[6].isBool() && args[6].toBool();
  if (transposed) return 2.0 * static_cast<double>(input.numel()) * per_output;
  const double positions = convolution_positions(input, weight, args);
  if (positions < 0) return -1;
  return 2.0 * static_cast<double>(input.size(0)) * static_cast<double>(weight.size(0)) *
         positions * per_output;
}

// FLOPs of one counted operator, or -1 when its arguments are not the expected tensors.
double flops_of(Kind kind, const char* name, c10::ArrayRef<const c10::IValue> args) {
  const auto tensor_at = [&](size_t i) { return args.size() > i && args[i].isTensor(); };
  const bool three_operands =
      std::strcmp(name, "aten::addmm") == 0 || std::strcmp(name, "aten::baddbmm") == 0;
  if (kind == Kind::Convolution) return tensor_at(0) && tensor_at(1) ? convolution_flops(args) : -1;
  if (kind == Kind::Linear && std::strcmp(name, "aten::linear") == 0) {
    if (!tensor_at(0) || !tensor_at(1)) return -1;
    const auto& weight = args[1].toTensor();
    const double outputs = weight.dim() == 2 ? static_cast<double>(weight.size(0)) : 1.0;
    return 2.0 * static_cast<double>(args[0].toTensor().numel()) * outputs;
  }
  if (std::strcmp(name, models::kFusedAttentionEvent) == 0) {
    if (!tensor_at(0) || !tensor_at(1) || !tensor_at(2)) return -1;
    // q k^T, then probabilities [..., Nq, Nk] times v.
    const auto& q = args[0].toTensor();
    const auto& v = args[2].toTensor();
    return product_flops(q, args[1].toTensor().transpose(-2, -1)) +
           2.0 * static_cast<double>(q.numel() / std::max<int64_t>(1, q.size(-1))) *
               static_cast<double>(v.size(-2)) * static_cast<double>(v.size(-1));
  }
  const size_t first = three_operands ? 1 : 0;
  if (!tensor_at(first) || !tensor_at(first + 1)) return -1;
  return product_flops(args[first].toTensor(), args[first + 1].toTensor());
}

void add(FlopCount& count, Kind kind, double flops) {
  if (flops < 0) {
    ++count.unknown;
    return;
  }
  (kind == Kind::Convolution ? count.convolution
   : kind == Kind::Linear    ? count.linear
                             : count.matmul) += flops;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (t_count == nullptr) return nullptr;
  const Kind kind = kind_of(fn.name());
  if (kind == Kind::None) return nullptr;
  if (t_depth++ == 0)
    add(*t_count, refined(kind, fn.inputs()), flops_of(kind, fn.name(), fn.inputs()));
  return std::make_unique<CountedOperator>();
}

void on_end(const at::RecordFunction&, at::ObserverContext* context) {
  if (context != nullptr) --t_depth;
}

}  // namespace

FlopCount& FlopCount::operator+=(const FlopCount& other) {
  convolution += other.convolution;
  linear += other.linear;
  matmul += other.matmul;
  unknown += other.unknown;
  return *this;
}

FlopCount operator*(double times, const FlopCount& count) {
  FlopCount out;
  out.convolution = times * count.convolution;
  out.linear = times * count.linear;
  out.matmul = times * count.matmul;
  out.unknown = count.unknown;
  return out;
}

FlopCounter::FlopCounter() {
  TORCH_INTERNAL_ASSERT(t_count == nullptr, "one FlopCounter at a time per thread");
  t_count = &count_;
  handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end)
                                           .needsInputs(true)
                                           .scopes({at::RecordScope::FUNCTION}));
}

FlopCounter::~FlopCounter() {
  at::removeCallback(handle_);
  t_count = nullptr;
  t_depth = 0;
}

}  // namespace dd::bench
