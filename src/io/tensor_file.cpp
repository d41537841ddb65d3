#include "io/tensor_file.h"

#include <cstdio>
#include <fstream>

#include "util/error.h"

namespace dd::io {

namespace {

torch::ScalarType torch_type(DType dtype) {
  switch (dtype) {
    case DType::F64:
      return torch::kFloat64;
    case DType::F32:
      return torch::kFloat32;
    case DType::F16:
      return torch::kFloat16;
    case DType::BF16:
      return torch::kBFloat16;
    case DType::F8_E4M3:
      return torch::kFloat8_e4m3fn;
    case DType::F8_E5M2:
      return torch::kFloat8_e5m2;
    case DType::I64:
      return torch::kInt64;
    case DType::I32:
      return torch::kInt32;
    case DType::I16:
      return torch::kInt16;
    case DType::I8:
      return torch::kInt8;
    case DType::U8:
      return torch::kUInt8;
    case DType::BOOL:
      return torch::kBool;
  }
  throw Error("unknown dtype");
}

const char* stored_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat64:
      return "F64";
    case torch::kFloat32:
      return "F32";
    case torch::kFloat16:
      return "F16";
    case torch::kBFloat16:
      return "BF16";
    case torch::kFloat8_e4m3fn:
      return "F8_E4M3";
    case torch::kFloat8_e5m2:
      return "F8_E5M2";
    case torch::kInt64:
      return "I64";
    case torch::kInt32:
      return "I32";
    case torch::kInt16:
      return "I16";
    case torch::kInt8:
      return "I8";
    case torch::kUInt8:
      return "U8";
    case torch::kBool:
      return "BOOL";
    default:
      throw Error(std::string("cannot store tensors of type ") + c10::toString(type));
  }
}

}  // namespace

torch::Tensor load_tensor(const SafetensorsFile& file, const TensorEntry& entry) {
  auto view = torch::from_blob(const_cast<uint8_t*>(file.data(entry)), entry.shape,
                               torch::TensorOptions().dtype(torch_type(entry.dtype)));
  return view.clone();  // own the bytes: the mapping may go away
}

torch::Tensor load_tensor(const SafetensorsFile& file, const std::string& name) {
  return load_tensor(file, file.at(name));
}

torch::Tensor load_tensor(const SafetensorsFile& file, const std::string& name,
                          torch::ScalarType dtype) {
  const TensorEntry& entry = file.at(name);
  auto view = torch::from_blob(const_cast<uint8_t*>(file.data(entry)), entry.shape,
                               torch::TensorOptions().dtype(torch_type(entry.dtype)));
  return view.to(dtype, /*non_blocking=*/false, /*copy=*/true);
}

void save_safetensors(const std::string& path, const NamedTensors& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<torch::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", stored_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(t);
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write");
    const uint64_t len = text.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : contiguous)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    if (!out.flush()) throw Error(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename the finished file into place");
  }
}

}  // namespace dd::io
