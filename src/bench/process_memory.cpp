#include "bench/process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace dd::bench {

namespace {

// A "Name:   123 kB" line of /proc/self/status, in bytes.
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream value(line.substr(field.size() + 1));
    int64_t kib = 0;
    value >> kib;
    return kib * 1024;
  }
  return 0;
}

}  // namespace

int64_t peak_rss_bytes() { return status_bytes("VmHWM"); }

int64_t current_rss_bytes() { return status_bytes("VmRSS"); }

bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

}  // namespace dd::bench
