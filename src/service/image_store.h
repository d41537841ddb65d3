#pragma once
// Images: content-addressed files under DATA_DIR/blobs (named by the SHA-256 of their bytes,
// written to a temporary file and renamed before any record points at them), and records in
// SQLite owned by an account. Publishing gives an unguessable token that serves the bytes
// without a key until unpublish or delete.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/database.h"

namespace dd::service {

struct ImageRecord {
  std::string id;  // "image_<32 hex>"
  std::string account_id;
  std::string name;
  std::string blob;    // SHA-256 hex of the bytes
  std::string format;  // png | jpeg | webp
  int width = 0;
  int height = 0;
  int64_t size = 0;
  int64_t created_ms = 0;
  std::optional<std::string> public_token;
  std::string job_id;  // the job that made it, if any
};

class ImageStore {
 public:
  ImageStore(Database& db, std::string data_dir);  // creates tables and folders

  ImageRecord store(const std::string& account_id, const std::string& name,
                    const std::string& bytes, const std::string& format, int width, int height,
                    const std::string& job_id = "");
  std::optional<ImageRecord> get(const std::string& id, const std::string& account_id) const;
  // Newest first; name_filter "" = all; returns at most limit records after skipping offset.
  std::vector<ImageRecord> list(const std::string& account_id, const std::string& name_filter,
                                int limit, int offset) const;
  int64_t count(const std::string& account_id, const std::string& name_filter) const;
  std::string read_bytes(const ImageRecord& record) const;
  // Deletes the record (the file too when no other record shares it). False when unknown.
  bool remove(const std::string& id, const std::string& account_id);
  std::optional<ImageRecord> publish(const std::string& id, const std::string& account_id);
  std::optional<ImageRecord> unpublish(const std::string& id, const std::string& account_id);
  std::optional<ImageRecord> by_public_token(const std::string& token) const;

  static std::string content_type(const std::string& format);  // image/png, ...

 private:
  std::string blob_path(const std::string& blob, const std::string& format) const;
  ImageRecord insert(ImageRecord record);

  Database& db_;
  std::string data_dir_;
};

}  // namespace dd::service
