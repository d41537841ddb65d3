#pragma once
// Base64 (RFC 4648, standard alphabet) for images carried inside JSON bodies. Decoding is strict
// about the alphabet and the padding, so a damaged upload is a clear dd::Error rather than a
// garbled image, but it forgives what clients commonly add: a `data:<type>;base64,` prefix (as
// browsers produce), whitespace and line breaks (as MIME encoders produce), and missing padding.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dd::io {

std::string base64_encode(const uint8_t* data, size_t size);
std::string base64_encode(const std::vector<uint8_t>& bytes);
std::string base64_encode(std::string_view bytes);

// `what` names the input in error messages (e.g. the request field "image").
std::vector<uint8_t> base64_decode(std::string_view text, const std::string& what);

}  // namespace dd::io
