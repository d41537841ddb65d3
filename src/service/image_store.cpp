#include "service/image_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/image.h"
#include "io/image_codec.h"
#include "service/crypto.h"
#include "service/schema_migrations.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;

namespace {

// Listings order by (created_ms, rowid): PostgreSQL gets an explicit insertion-ordered rowid.
const std::vector<Migration> kMigrations = {
    {1, "image objects", R"sql(
CREATE TABLE IF NOT EXISTS images ({rowid}
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, blob TEXT NOT NULL,
  format TEXT NOT NULL, width BIGINT NOT NULL, height BIGINT NOT NULL,
  size BIGINT NOT NULL, created_ms BIGINT NOT NULL, public_token TEXT UNIQUE,
  job_id TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS images_by_account ON images(account_id, created_ms);
CREATE INDEX IF NOT EXISTS images_by_blob ON images(blob);
)sql"},
};

const char* const kColumns =
    "id, account_id, name, blob, format, width, height, size, created_ms, public_token, job_id";

ImageRecord read_record(const Statement& row) {
  ImageRecord record;
  record.id = row.text(0);
  record.account_id = row.text(1);
  record.name = row.text(2);
  record.blob = row.text(3);
  record.format = row.text(4);
  record.width = static_cast<int>(row.integer(5));
  record.height = static_cast<int>(row.integer(6));
  record.size = row.integer(7);
  record.created_ms = row.integer(8);
  if (!row.is_null(9)) record.public_token = row.text(9);
  record.job_id = row.text(10);
  return record;
}

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

bool is_sha256_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Writes all of `bytes` to a new file and flushes it to disk, so a crash right after the rename
// that follows can never expose a partial file.
void write_synced(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot create (" + std::strerror(errno) + ")");
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      throw Error(path + ": write failed (" + reason + ")");
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(path.c_str());
    throw Error(path + ": cannot flush to disk");
  }
}

// A uniquely named temporary beside the final file (same folder, so rename is atomic).
std::string stage_file(const std::string& path, const std::string& bytes) {
  const std::string staged = path + "." + random_hex(8) + ".tmp";
  write_synced(staged, bytes);
  return staged;
}

void move_into_place(const std::string& staged, const std::string& path) {
  if (std::rename(staged.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(staged.c_str());
    throw Error(path + ": cannot move the finished file into place (" + reason + ")");
  }
}

void check_side(int side, const char* name) {
  if (side < 1 || side > io::kMaxImageSide)
    throw Error(std::string(name) + ": " + std::to_string(side) + " is outside 1.." +
                std::to_string(io::kMaxImageSide));
}

}  // namespace

ImageStore::ImageStore(Database& db, std::string data_dir)
    : db_(db), data_dir_(std::move(data_dir)) {
  std::error_code error;
  fs::create_directories(fs::path(data_dir_) / "blobs", error);
  if (error) throw Error(data_dir_ + ": cannot create the blobs folder (" + error.message() + ")");
  apply_migrations(db_, "images", kMigrations);
}

ImageRecord ImageStore::store(const std::string& account_id, const std::string& name,
                              const std::string& bytes, const std::string& format, int width,
                              int height, const std::string& job_id) {
  const std::string canonical = io::canonical_image_format(format);
  const std::vector<uint8_t> head(bytes.begin(),
                                  bytes.begin() + std::min<size_t>(bytes.size(), 16));
  if (io::sniff_image_format(head) != canonical)
    throw Error("image store: the bytes are not a " + canonical + " image");
  check_side(width, "width");
  check_side(height, "height");

  ImageRecord record;
  record.id = "image_" + random_hex(16);
  record.account_id = account_id;
  record.name = name;
  record.blob = sha256_hex(bytes);
  record.format = canonical;
  record.width = width;
  record.height = height;
  record.size = static_cast<int64_t>(bytes.size());
  record.created_ms = wall_clock_ms();
  record.job_id = job_id;

  const std::string path = blob_path(record.blob, canonical);
  std::error_code error;
  fs::create_directories(fs::path(path).parent_path(), error);
  if (error) throw Error(path + ": cannot create folder (" + error.message() + ")");
  // Identical bytes are stored once. The slow write happens outside the database lock; only the
  // rename and the insert are serialised with remove(), so a file is never deleted under a
  // record that is about to point at it.
  std::string staged;
  if (!fs::exists(path, error)) staged = stage_file(path, bytes);
  auto guard = db_.lock();
  if (!staged.empty())
    move_into_place(staged, path);
  else if (!fs::exists(path, error))  // a concurrent remove() took the shared file meanwhile
    move_into_place(stage_file(path, bytes), path);
  return insert(std::move(record));
}

ImageRecord ImageStore::insert(ImageRecord record) {
  auto guard = db_.lock();
  db_.prepare("INSERT INTO images (" + std::string(kColumns) +
              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10)")
      .bind(1, record.id)
      .bind(2, record.account_id)
      .bind(3, record.name)
      .bind(4, record.blob)
      .bind(5, record.format)
      .bind(6, record.width)
      .bind(7, record.height)
      .bind(8, record.size)
      .bind(9, record.created_ms)
      .bind(10, record.job_id)
      .run();
  return record;
}

std::optional<ImageRecord> ImageStore::get(const std::string& id,
                                           const std::string& account_id) const {
  auto guard = db_.lock();
  auto row = db_.prepare("SELECT " + std::string(kColumns) +
                         " FROM images WHERE id = ?1 AND account_id = ?2");
  row.bind(1, id).bind(2, account_id);
  if (!row.step()) return std::nullopt;
  return read_record(row);
}

std::vector<ImageRecord> ImageStore::list(const std::string& account_id,
                                          const std::string& name_filter, int limit,
                                          int offset) const {
  if (limit < 0) throw Error("limit: must not be negative");
  if (offset < 0) throw Error("offset: must not be negative");
  auto guard = db_.lock();
  auto row = db_.prepare("SELECT " + std::string(kColumns) +
                         " FROM images WHERE account_id = ?1 AND (?2 = '' OR name = ?2)"
                         " ORDER BY created_ms DESC, rowid DESC LIMIT ?3 OFFSET ?4");
  row.bind(1, account_id).bind(2, name_filter).bind(3, limit).bind(4, offset);
  std::vector<ImageRecord> records;
  while (row.step()) records.push_back(read_record(row));
  return records;
}

int64_t ImageStore::count(const std::string& account_id, const std::string& name_filter) const {
  auto guard = db_.lock();
  auto row =
      db_.prepare("SELECT COUNT(*) FROM images WHERE account_id = ?1 AND (?2 = '' OR name = ?2)");
  row.bind(1, account_id).bind(2, name_filter);
  row.step();
  return row.integer(0);
}

std::string ImageStore::read_bytes(const ImageRecord& record) const {
  const std::string path = blob_path(record.blob, record.format);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("image " + record.id + ": its stored file is missing");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool ImageStore::remove(const std::string& id, const std::string& account_id) {
  auto guard = db_.lock();
  const auto record = get(id, account_id);
  if (!record) return false;
  db_.prepare("DELETE FROM images WHERE id = ?1").bind(1, id).run();
  auto others = db_.prepare("SELECT COUNT(*) FROM images WHERE blob = ?1");
  others.bind(1, record->blob).step();
  // The record goes first: a crash in between leaves an unreferenced file, never a dangling record.
  if (others.integer(0) == 0) ::unlink(blob_path(record->blob, record->format).c_str());
  return true;
}

std::optional<ImageRecord> ImageStore::publish(const std::string& id,
                                               const std::string& account_id) {
  auto guard = db_.lock();
  // Publishing twice keeps the first address, so links already handed out keep working.
  db_.prepare(
         "UPDATE images SET public_token = ?1"
         " WHERE id = ?2 AND account_id = ?3 AND public_token IS NULL")
      .bind(1, random_hex(24))
      .bind(2, id)
      .bind(3, account_id)
      .run();
  return get(id, account_id);
}

std::optional<ImageRecord> ImageStore::unpublish(const std::string& id,
                                                 const std::string& account_id) {
  auto guard = db_.lock();
  db_.prepare("UPDATE images SET public_token = NULL WHERE id = ?1 AND account_id = ?2")
      .bind(1, id)
      .bind(2, account_id)
      .run();
  return get(id, account_id);
}

std::optional<ImageRecord> ImageStore::by_public_token(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  auto guard = db_.lock();
  auto row =
      db_.prepare("SELECT " + std::string(kColumns) + " FROM images WHERE public_token = ?1");
  row.bind(1, token);
  if (!row.step()) return std::nullopt;
  return read_record(row);
}

std::string ImageStore::content_type(const std::string& format) {
  if (format == "png") return "image/png";
  if (format == "jpeg" || format == "jpg") return "image/jpeg";
  if (format == "webp") return "image/webp";
  return "application/octet-stream";
}

std::string ImageStore::blob_path(const std::string& blob, const std::string& format) const {
  // Records are ours, but the path is built from stored text: never let it leave blobs/.
  if (!is_sha256_hex(blob)) throw Error("image store: malformed blob name '" + blob + "'");
  return (fs::path(data_dir_) / "blobs" / blob.substr(0, 2) /
          (blob + "." + io::image_file_extension(format)))
      .string();
}

}  // namespace dd::service
