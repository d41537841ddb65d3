// The safetensors reader on arbitrary bytes. It maps a file, so each input is written to a
// memfd and opened through /proc/self/fd. Every entry the reader accepts must lie inside the
// file: its bytes are read back (ASan does not watch mappings, so the bounds are checked here).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("safetensors_fuzz", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    if (n <= 0) std::abort();
    written += static_cast<size_t>(n);
  }
  try {
    dd::io::SafetensorsFile file("/proc/self/fd/" + std::to_string(fd));
    unsigned sum = 0;
    const uint8_t* base = data;
    for (const auto& entry : file.entries()) {
      const size_t bytes = static_cast<size_t>(entry.end - entry.begin);
      if (entry.numel() * static_cast<int64_t>(dd::io::dtype_size(entry.dtype)) !=
          static_cast<int64_t>(bytes))
        std::abort();
      const uint8_t* p = file.data(entry);
      if (bytes > 0) {
        // data() points into the mapping of the same bytes as `data`: check its offset.
        const uint64_t header_len = size >= 8 ? *reinterpret_cast<const uint64_t*>(base) : 0;
        const uint64_t offset = 8 + header_len + entry.begin;
        if (offset + bytes > size) std::abort();
        sum += p[0] + p[bytes - 1];
      }
      if (file.find(entry.name) == nullptr) std::abort();
    }
    (void)file.metadata().dump();
    if (sum == 0xffffffffu) std::puts("");
  } catch (const dd::Error&) {
  }
  ::close(fd);
  return 0;
}
