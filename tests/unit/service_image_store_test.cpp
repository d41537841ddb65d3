#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "io/image_codec.h"
#include "postgres_server.h"
#include "service/crypto.h"
#include "service/database.h"
#include "service/image_store.h"
#include "util/error.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;

std::string png_bytes(uint8_t shade, int w = 4, int h = 3) {
  io::Image image{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, shade)};
  const auto bytes = io::encode_image(image, "png");
  return std::string(bytes.begin(), bytes.end());
}

std::string encoded(const std::string& format) {
  io::Image image{4, 4, std::vector<uint8_t>(48, 77)};
  const auto bytes = io::encode_image(image, format);
  return std::string(bytes.begin(), bytes.end());
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dd_image_store_" + random_hex(8));
    fs::create_directories(dir_);
    db_ = std::make_unique<Database>(test::test_database((dir_ / "db.sqlite").string()));
    store_ = std::make_unique<ImageStore>(*db_, (dir_ / "data").string());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    fs::remove_all(dir_);
  }

  std::vector<fs::path> files_under_data() const {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "data"))
      if (entry.is_regular_file()) files.push_back(entry.path());
    return files;
  }

  fs::path dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, StoresAndReadsBack) {
  const std::string bytes = png_bytes(10);
  const ImageRecord record = store_->store("acct_a", "cat", bytes, "png", 4, 3, "job-1");
  EXPECT_EQ(record.id.rfind("image_", 0), 0u);
  EXPECT_EQ(record.id.size(), 6u + 32u);
  EXPECT_EQ(record.blob, sha256_hex(bytes));
  EXPECT_EQ(record.size, static_cast<int64_t>(bytes.size()));
  EXPECT_FALSE(record.public_token);
  EXPECT_GT(record.created_ms, 1600000000000);

  const auto got = store_->get(record.id, "acct_a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "cat");
  EXPECT_EQ(got->format, "png");
  EXPECT_EQ(got->width, 4);
  EXPECT_EQ(got->height, 3);
  EXPECT_EQ(got->job_id, "job-1");
  EXPECT_EQ(got->created_ms, record.created_ms);
  EXPECT_EQ(store_->read_bytes(*got), bytes);

  // The blob lives at blobs/<first two hex>/<sha256>.png and nothing temporary is left.
  const auto files = files_under_data();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], dir_ / "data" / "blobs" / record.blob.substr(0, 2) / (record.blob + ".png"));
}

TEST_F(ImageStoreTest, StoresEveryFormatWithItsExtensionAndContentType) {
  const auto jpeg = store_->store("a", "j", encoded("jpeg"), "jpg", 4, 4);
  const auto webp = store_->store("a", "w", encoded("webp"), "webp", 4, 4);
  EXPECT_EQ(jpeg.format, "jpeg");
  EXPECT_EQ(webp.format, "webp");
  EXPECT_TRUE(fs::exists(dir_ / "data" / "blobs" / jpeg.blob.substr(0, 2) / (jpeg.blob + ".jpg")));
  EXPECT_TRUE(fs::exists(dir_ / "data" / "blobs" / webp.blob.substr(0, 2) / (webp.blob + ".webp")));
  EXPECT_EQ(ImageStore::content_type("png"), "image/png");
  EXPECT_EQ(ImageStore::content_type("jpeg"), "image/jpeg");
  EXPECT_EQ(ImageStore::content_type("webp"), "image/webp");
}

TEST_F(ImageStoreTest, RejectsBadArguments) {
  EXPECT_THROW(store_->store("a", "x", png_bytes(1), "gif", 4, 3), Error);
  EXPECT_THROW(store_->store("a", "x", png_bytes(1), "jpeg", 4, 3), Error);  // bytes are PNG
  EXPECT_THROW(store_->store("a", "x", "", "png", 4, 3), Error);
  EXPECT_THROW(store_->store("a", "x", png_bytes(1), "png", 0, 3), Error);
  EXPECT_THROW(store_->list("a", "", -1, 0), Error);
  EXPECT_THROW(store_->list("a", "", 10, -1), Error);
  EXPECT_TRUE(files_under_data().empty());
}

TEST_F(ImageStoreTest, IdenticalBytesAreStoredOnceAndRemovedWithTheLastRecord) {
  const std::string bytes = png_bytes(42);
  const auto first = store_->store("acct_a", "one", bytes, "png", 4, 3);
  const auto second = store_->store("acct_a", "two", bytes, "png", 4, 3);
  const auto other = store_->store("acct_b", "three", bytes, "png", 4, 3);
  EXPECT_NE(first.id, second.id);
  EXPECT_EQ(first.blob, second.blob);
  EXPECT_EQ(files_under_data().size(), 1u);

  EXPECT_FALSE(store_->remove(first.id, "acct_b"));  // not theirs
  EXPECT_TRUE(store_->remove(first.id, "acct_a"));
  EXPECT_FALSE(store_->remove(first.id, "acct_a"));  // already gone
  EXPECT_FALSE(store_->get(first.id, "acct_a"));
  EXPECT_EQ(store_->read_bytes(*store_->get(second.id, "acct_a")), bytes);
  EXPECT_TRUE(store_->remove(second.id, "acct_a"));
  EXPECT_EQ(store_->read_bytes(*store_->get(other.id, "acct_b")), bytes);
  EXPECT_EQ(files_under_data().size(), 1u);
  EXPECT_TRUE(store_->remove(other.id, "acct_b"));
  EXPECT_TRUE(files_under_data().empty());
  EXPECT_THROW(store_->read_bytes(other), Error);

  // Storing the same bytes again after the file went away writes it anew.
  const auto again = store_->store("acct_a", "again", bytes, "png", 4, 3);
  EXPECT_EQ(store_->read_bytes(again), bytes);
}

TEST_F(ImageStoreTest, ListsNewestFirstWithNameFilterAndPagination) {
  std::vector<std::string> ids;  // in insertion order
  for (int i = 0; i < 7; ++i)
    ids.push_back(store_->store("acct_a", i % 2 ? "odd" : "even", png_bytes(i), "png", 4, 3).id);
  store_->store("acct_b", "even", png_bytes(99), "png", 4, 3);

  const auto all = store_->list("acct_a", "", 100, 0);
  ASSERT_EQ(all.size(), 7u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].id, ids[6 - i]) << i;
  EXPECT_EQ(store_->count("acct_a", ""), 7);

  const auto page1 = store_->list("acct_a", "", 3, 0);
  const auto page2 = store_->list("acct_a", "", 3, 3);
  const auto page3 = store_->list("acct_a", "", 3, 6);
  ASSERT_EQ(page1.size(), 3u);
  ASSERT_EQ(page2.size(), 3u);
  ASSERT_EQ(page3.size(), 1u);
  EXPECT_EQ(page1[0].id, ids[6]);
  EXPECT_EQ(page2[0].id, ids[3]);
  EXPECT_EQ(page3[0].id, ids[0]);
  EXPECT_TRUE(store_->list("acct_a", "", 3, 7).empty());
  EXPECT_TRUE(store_->list("acct_a", "", 0, 0).empty());

  const auto even = store_->list("acct_a", "even", 100, 0);
  ASSERT_EQ(even.size(), 4u);
  for (const auto& record : even) EXPECT_EQ(record.name, "even");
  EXPECT_EQ(even[0].id, ids[6]);
  EXPECT_EQ(store_->count("acct_a", "even"), 4);
  EXPECT_EQ(store_->count("acct_a", "ev"), 0);  // exact match, not prefix
  EXPECT_TRUE(store_->list("acct_a", "%", 100, 0).empty());
}

TEST_F(ImageStoreTest, AccountsCannotSeeEachOther) {
  const auto mine = store_->store("acct_a", "secret", png_bytes(5), "png", 4, 3);
  EXPECT_FALSE(store_->get(mine.id, "acct_b"));
  EXPECT_TRUE(store_->list("acct_b", "", 100, 0).empty());
  EXPECT_EQ(store_->count("acct_b", "secret"), 0);
  EXPECT_FALSE(store_->publish(mine.id, "acct_b"));
  EXPECT_FALSE(store_->get(mine.id, "acct_a")->public_token);
  EXPECT_FALSE(store_->unpublish(mine.id, "acct_b"));
  EXPECT_FALSE(store_->remove(mine.id, "acct_b"));
  EXPECT_TRUE(store_->get(mine.id, "acct_a"));
  // Ids that are not ids at all behave as unknown.
  for (const char* id : {"", "../../etc/passwd", "image_' OR '1'='1", "%"})
    EXPECT_FALSE(store_->get(id, "acct_a")) << id;
}

TEST_F(ImageStoreTest, PublishGivesAnUnguessableTokenUntilUnpublished) {
  const auto record = store_->store("acct_a", "pic", png_bytes(8), "png", 4, 3);
  const auto published = store_->publish(record.id, "acct_a");
  ASSERT_TRUE(published && published->public_token);
  const std::string token = *published->public_token;
  EXPECT_GE(token.size(), 32u);
  EXPECT_EQ(store_->by_public_token(token)->id, record.id);
  EXPECT_EQ(*store_->publish(record.id, "acct_a")->public_token, token);  // stable address

  const auto second = store_->store("acct_a", "pic2", png_bytes(9), "png", 4, 3);
  EXPECT_NE(*store_->publish(second.id, "acct_a")->public_token, token);

  const auto unpublished = store_->unpublish(record.id, "acct_a");
  ASSERT_TRUE(unpublished);
  EXPECT_FALSE(unpublished->public_token);
  EXPECT_FALSE(store_->by_public_token(token));
  EXPECT_FALSE(store_->by_public_token(""));

  // Publishing again gives a new address; deleting the image kills it.
  const std::string fresh = *store_->publish(record.id, "acct_a")->public_token;
  EXPECT_NE(fresh, token);
  EXPECT_TRUE(store_->remove(record.id, "acct_a"));
  EXPECT_FALSE(store_->by_public_token(fresh));
  EXPECT_FALSE(store_->publish(record.id, "acct_a"));
}

TEST_F(ImageStoreTest, AReopenedStoreSeesEverything) {
  const auto kept = store_->store("acct_a", "kept", png_bytes(3), "png", 4, 3, "job-9");
  const std::string token = *store_->publish(kept.id, "acct_a")->public_token;
  store_->store("acct_a", "other", png_bytes(4), "png", 4, 3);
  store_.reset();
  db_.reset();

  Database reopened(test::test_database((dir_ / "db.sqlite").string()));
  ImageStore store(reopened, (dir_ / "data").string());
  const auto got = store.get(kept.id, "acct_a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->job_id, "job-9");
  EXPECT_EQ(got->public_token, token);
  EXPECT_EQ(store.read_bytes(*got), png_bytes(3));
  EXPECT_EQ(store.by_public_token(token)->id, kept.id);
  EXPECT_EQ(store.count("acct_a", ""), 2);
  EXPECT_EQ(store.list("acct_a", "", 10, 0)[0].name, "other");
}

TEST_F(ImageStoreTest, ManyStoresLeaveNoTemporaryFiles) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.insert(store_->store("acct_a", "n", png_bytes(i % 5), "png", 4, 3).id);
  EXPECT_EQ(ids.size(), 20u);
  const auto files = files_under_data();
  EXPECT_EQ(files.size(), 5u);
  for (const auto& file : files) EXPECT_NE(file.extension(), ".tmp") << file;
}

TEST_F(ImageStoreTest, ConcurrentStoresAndRemovesOfSharedBytesStayConsistent) {
  const std::string bytes = png_bytes(123);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      const std::string account = "acct_" + std::to_string(t);
      for (int i = 0; i < 8; ++i) {
        const auto record = store_->store(account, "shared", bytes, "png", 4, 3);
        // While this record exists its bytes must be readable, whatever the others do.
        EXPECT_EQ(store_->read_bytes(record), bytes);
        EXPECT_TRUE(store_->remove(record.id, account));
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(files_under_data().empty());
}

}  // namespace
}  // namespace dd::service
