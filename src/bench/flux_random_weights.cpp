#include "bench/flux_random_weights.h"

#include <cstring>
#include <map>

#include "util/error.h"

namespace dd::bench {

namespace {

// Random bytes of each stored form, copied into the weights at a rotating offset: copying is
// what makes building 17 B random weights take seconds instead of minutes of random number
// generation, and repeated values do not change the speed of a matrix product.
class RandomPools {
 public:
  // 16 MiB of values of `dtype` (bf16 or fp8: normal with a small spread; uint8: uniform codes).
  const torch::Tensor& of(torch::ScalarType dtype) {
    auto& pool = pools_[dtype];
    if (pool.defined()) return pool;
    constexpr int64_t kBytes = int64_t(16) << 20;
    if (dtype == torch::kUInt8)
      pool = torch::randint(0, 256, {kBytes}, torch::TensorOptions(torch::kUInt8));
    else
      pool =
          (torch::randn({kBytes / static_cast<int64_t>(c10::elementSize(dtype))}) * 0.03).to(dtype);
    return pool;
  }

  // Fills contiguous `out` from the pool of its dtype (GGUF bytes from the uint8 one).
  void fill(torch::Tensor& out) {
    const auto& pool = of(out.scalar_type());
    const auto* src = static_cast<const uint8_t*>(pool.data_ptr());
    const int64_t pool_bytes = static_cast<int64_t>(pool.nbytes());
    auto* dst = static_cast<uint8_t*>(out.data_ptr());
    const int64_t total = static_cast<int64_t>(out.nbytes());
    const int64_t align = static_cast<int64_t>(out.element_size());
    int64_t offset = (next_offset_ += 4099 * align) % (pool_bytes / 2) / align * align;
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min(total - done, pool_bytes - offset);
      std::memcpy(dst + done, src + offset, static_cast<size_t>(n));
      done += n;
      offset = 0;
    }
  }

 private:
  std::map<torch::ScalarType, torch::Tensor> pools_;
  int64_t next_offset_ = 0;
};

io::GgmlType ggml_type(WeightFormat format) {
  return format == WeightFormat::Q8_0 ? io::GgmlType::Q8_0 : io::GgmlType::Q4_K;
}

// GGUF blocks of random codes whose fp16 scales (Q8_0: d; Q4_K: d and dmin, the first bytes of
// each block) are small, as a quantised FLUX's are.
torch::Tensor random_blocks(io::GgmlType type, int64_t rows, int64_t cols, RandomPools& pools) {
  const auto& block = io::ggml_block(type);
  const int64_t count = rows * cols / block.elements;
  auto bytes = torch::empty({count * block.bytes}, torch::TensorOptions(torch::kUInt8));
  pools.fill(bytes);
  const int64_t scales = type == io::GgmlType::Q8_0 ? 1 : 2;
  const auto values = (torch::rand({count, scales}) * 1e-3 + 1e-4).to(torch::kHalf);
  bytes.view({count, block.bytes})
      .narrow(1, 0, 2 * scales)
      .copy_(values.view(torch::kUInt8).view({count, 2 * scales}));
  return bytes;
}

torch::ScalarType stored_dtype(WeightFormat format) {
  return format == WeightFormat::FP8 ? torch::kFloat8_e4m3fn : torch::kBFloat16;
}

// One linear layer's weight; returns the bytes it takes.
int64_t randomize_linear(models::PackedLinearImpl& linear, WeightFormat format,
                         RandomPools& pools) {
  const int64_t out = linear.out_features(), in = linear.in_features();
  const bool blocks = format == WeightFormat::Q8_0 || format == WeightFormat::Q4_K;
  if (blocks && in % io::ggml_block(ggml_type(format)).elements == 0) {
    auto bytes = random_blocks(ggml_type(format), out, in, pools);
    const int64_t size = bytes.numel();
    linear.set_packed(
        std::make_shared<BlockWeight>(ggml_type(format), std::move(bytes), std::vector{out, in}));
    return size;
  }
  // Rows that are not whole blocks stay bf16 (GGUF files keep such layers unquantised).
  auto weight = torch::empty(
      {out, in}, torch::TensorOptions(stored_dtype(blocks ? WeightFormat::BF16 : format)));
  pools.fill(weight);
  linear.weight.set_data(weight);
  return static_cast<int64_t>(weight.nbytes());
}

// Any other parameter: 2-D tables (T5's token embedding, its relative position bias) random in
// the stored form, vectors (biases, norm scales) converted to bf16 as a release stores them.
int64_t randomize_other(torch::Tensor& param, WeightFormat format, RandomPools& pools) {
  if (param.dim() == 2) {
    auto table = torch::empty(param.sizes(), torch::TensorOptions(stored_dtype(format)));
    pools.fill(table);
    param.set_data(table);
  } else {
    param.set_data(param.to(torch::kBFloat16));
  }
  return static_cast<int64_t>(param.nbytes());
}

}  // namespace

WeightFormat weight_format(const std::string& name) {
  if (name == "bf16") return WeightFormat::BF16;
  if (name == "fp8") return WeightFormat::FP8;
  if (name == "q8_0") return WeightFormat::Q8_0;
  if (name == "q4_k") return WeightFormat::Q4_K;
  throw Error("weight format must be bf16, fp8, q8_0 or q4_k, got '" + name + "'");
}

std::string weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::BF16:
      return "bf16";
    case WeightFormat::FP8:
      return "fp8";
    case WeightFormat::Q8_0:
      return "q8_0";
    case WeightFormat::Q4_K:
      return "q4_k";
  }
  return "?";
}

BlockWeight::BlockWeight(io::GgmlType type, torch::Tensor bytes, std::vector<int64_t> shape)
    : type_(type), bytes_(std::move(bytes)), shape_(std::move(shape)) {
  int64_t n = 1;
  for (const auto s : shape_) n *= s;
  if (bytes_.scalar_type() != torch::kUInt8 || !bytes_.is_contiguous() ||
      bytes_.numel() != io::ggml_bytes(type_, n))
    throw Error("block weight of " + io::ggml_type_name(type_) + " " + c10::str(shape_) +
                ": needs " + std::to_string(io::ggml_bytes(type_, n)) + " contiguous bytes, got " +
                std::to_string(bytes_.numel()));
}

torch::Tensor BlockWeight::expand(torch::ScalarType dtype) const {
  return io::dequantize_tensor(type_, bytes_.data_ptr<uint8_t>(), shape_, dtype);
}

WeightSummary randomize_weights(torch::nn::Module& module, WeightFormat format) {
  torch::NoGradGuard no_grad;
  RandomPools pools;
  WeightSummary summary;
  for (const auto& child : module.modules()) {
    if (auto* linear = dynamic_cast<models::PackedLinearImpl*>(child.get())) {
      summary.bytes += randomize_linear(*linear, format, pools);
      ++summary.linear_layers;
      if (linear->is_packed() || linear->weight.scalar_type() != torch::kBFloat16)
        ++summary.converted_layers;
      if (linear->bias.defined()) summary.bytes += randomize_other(linear->bias, format, pools);
      continue;
    }
    for (auto& param : child->named_parameters(/*recurse=*/false))
      summary.bytes += randomize_other(param.value(), format, pools);
  }
  return summary;
}

void expand_all(torch::nn::Module& module, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (const auto& child : module.modules()) {
    const auto* linear = dynamic_cast<models::PackedLinearImpl*>(child.get());
    if (linear && (linear->is_packed() || linear->weight.scalar_type() != dtype))
      linear->expanded_weight(dtype);
  }
}

}  // namespace dd::bench
