#pragma once
// Resident memory of this process, from /proc/self/status (Linux).
#include <cstdint>

namespace dd::bench {

// VmHWM: the most resident memory since the process started or since reset_peak_rss().
// 0 when /proc is not readable.
int64_t peak_rss_bytes();
// VmRSS: resident memory now.
int64_t current_rss_bytes();
// Restarts VmHWM from the current resident size (writes 5 to /proc/self/clear_refs, Linux
// 4.0+), so a peak can be measured for one phase. False when the kernel does not allow it.
bool reset_peak_rss();

}  // namespace dd::bench
