#pragma once
// Random identifiers and hashes (OpenSSL): UUIDs for jobs, unguessable tokens for API keys and
// public image addresses, SHA-256 for content addressing and key storage, HMAC-SHA256 for
// webhook signatures.
#include <string>

namespace dd::service {

// A random (version 4) UUID, e.g. "f2c95e57-c831-40e0-b108-f86d2cdc3cbd".
std::string new_uuid();
// `bytes` bytes from the system's secure random source, as lowercase hex.
std::string random_hex(size_t bytes);
std::string sha256_hex(const std::string& data);
std::string hmac_sha256_hex(const std::string& key, const std::string& data);
// Compares in time independent of where the strings differ (for secrets).
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace dd::service
