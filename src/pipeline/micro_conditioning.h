#pragma once
// SDXL's micro-conditioning ("text_time" ids): plain values shared by the request, the stored
// job and the HTTP dialects (no tensors here, so the service layer can hold it cheaply).
#include <array>
#include <optional>

namespace dd::pipeline {

// In pixels, height first as in the reference. Unset sizes default to the output size and the
// crop to (0, 0), the reference's defaults.
struct MicroConditioning {
  std::optional<std::array<int, 2>> original_size;  // (height, width) of the "source" picture
  std::optional<std::array<int, 2>> crop_top_left;  // (top, left)
  std::optional<std::array<int, 2>> target_size;    // (height, width)

  bool empty() const { return !original_size && !crop_top_left && !target_size; }
  bool operator==(const MicroConditioning&) const = default;
};

}  // namespace dd::pipeline
