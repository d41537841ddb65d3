// The image-object API (API.md section 4) against a real server with the tiny models: the
// Image object's exact shape, listing, content, publish/unpublish/delete of the public
// address, transform, account isolation and bad input.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "http_test_server.h"
#include "io/image_codec.h"
#include "test_support.h"

namespace dd::test {
namespace {

using nlohmann::json;

class ImagesApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (fixtures_dir().empty()) return;
    server_ = new TestServer();
    alice_ = server_->service().accounts().create_key("alice").key;
    bob_ = server_->service().accounts().create_key("bob").key;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { DD_REQUIRE_FIXTURES(); }

  static json imagine(const std::string& name, const std::string& key, int64_t seed = 1) {
    auto reply = server_->post("/v1/images/imagine",
                               {{"name", name}, {"prompt", "a red apple"}, {"seed", seed}}, key);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.json;
  }

  static TestServer* server_;
  static std::string alice_;
  static std::string bob_;
};

TestServer* ImagesApi::server_ = nullptr;
std::string ImagesApi::alice_;
std::string ImagesApi::bob_;

void expect_image_object(const json& image) {
  ASSERT_TRUE(image.is_object()) << image;
  std::set<std::string> keys;
  for (const auto& item : image.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"id", "name", "url", "width", "height", "format", "size",
                                         "created_at"}));
  EXPECT_TRUE(std::regex_match(image["id"].get<std::string>(), std::regex("image_[0-9a-f]{32}")));
  EXPECT_TRUE(image["width"].is_number_integer());
  EXPECT_TRUE(image["height"].is_number_integer());
  EXPECT_TRUE(image["size"].is_number_integer());
  EXPECT_TRUE(std::regex_match(image["created_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

std::string path_of(const std::string& url, const std::string& base_url) {
  EXPECT_EQ(url.rfind(base_url, 0), 0u) << url;
  return url.substr(base_url.size());
}

TEST_F(ImagesApi, ImagineAnswersThePrivateImageObjectAndServesItsBytes) {
  const auto image = imagine("cat", alice_);
  expect_image_object(image);
  EXPECT_EQ(image["name"], "cat");
  EXPECT_TRUE(image["url"].is_null());
  EXPECT_EQ(image["format"], "png");
  EXPECT_EQ(image["width"], 64);  // the default model's default size
  EXPECT_EQ(image["height"], 64);

  const std::string id = image["id"];
  const auto fetched = server_->get("/v1/images/" + id, alice_);
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.json, image);

  const auto content = server_->get("/v1/images/" + id + "/content", alice_);
  ASSERT_EQ(content.status, 200);
  EXPECT_EQ(content.content_type, "image/png");
  EXPECT_EQ(static_cast<int64_t>(content.body.size()), image["size"].get<int64_t>());
  const auto decoded =
      io::decode_image(std::vector<uint8_t>(content.body.begin(), content.body.end()), "content");
  EXPECT_EQ(decoded.width, 64);
  EXPECT_EQ(decoded.height, 64);
}

TEST_F(ImagesApi, ImagineHonoursFormatAndModelExtensions) {
  auto reply = server_->post("/v1/images/imagine",
                             {{"name", "jpeg one"},
                              {"prompt", "a boat"},
                              {"model", "stabilityai/stable-diffusion-xl-base-1.0"},
                              {"format", "jpg"}},
                             alice_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json["format"], "jpeg");
  const auto content =
      server_->get("/v1/images/" + reply.json["id"].get<std::string>() + "/content", alice_);
  EXPECT_EQ(content.content_type, "image/jpeg");
}

TEST_F(ImagesApi, ListIsNewestFirstPaginatedAndFilteredByName) {
  const auto first = imagine("listed", bob_, 7);
  const std::string id = first["id"];
  // Transforms make more images with the same name cheaply.
  const auto second = server_->post("/v1/images/" + id + "/transform", {{"width", 32}}, bob_);
  ASSERT_EQ(second.status, 201) << second.body;
  const auto third = server_->post("/v1/images/" + id + "/transform", {{"format", "webp"}}, bob_);
  ASSERT_EQ(third.status, 201) << third.body;
  imagine("other", bob_, 8);

  const auto all = server_->get("/v1/images?name=listed", bob_);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json["object"], "list");
  EXPECT_EQ(all.json["total"], 3);
  EXPECT_EQ(all.json["limit"], 20);
  EXPECT_EQ(all.json["offset"], 0);
  ASSERT_EQ(all.json["data"].size(), 3u);
  EXPECT_EQ(all.json["data"][0]["id"], third.json["id"]);
  EXPECT_EQ(all.json["data"][1]["id"], second.json["id"]);
  EXPECT_EQ(all.json["data"][2]["id"], id);
  for (const auto& image : all.json["data"]) expect_image_object(image);

  const auto page = server_->get("/v1/images?name=listed&limit=2&page=2", bob_);
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.json["offset"], 2);
  ASSERT_EQ(page.json["data"].size(), 1u);
  EXPECT_EQ(page.json["data"][0]["id"], id);

  const auto offset = server_->get("/v1/images?name=listed&limit=1&offset=1", bob_);
  ASSERT_EQ(offset.json["data"].size(), 1u);
  EXPECT_EQ(offset.json["data"][0]["id"], second.json["id"]);

  const auto everything = server_->get("/v1/images", bob_);
  EXPECT_GE(everything.json["total"].get<int>(), 4);
}

TEST_F(ImagesApi, PublishGivesAPublicAddressUntilUnpublishOrDelete) {
  const auto image = imagine("public", alice_);
  const std::string id = image["id"];
  const auto published = server_->post("/v1/images/" + id + "/publish", json::object(), alice_);
  ASSERT_EQ(published.status, 200) << published.body;
  expect_image_object(published.json);
  ASSERT_TRUE(published.json["url"].is_string());
  const std::string url = published.json["url"];
  const std::string address = path_of(url, server_->base_url());
  EXPECT_TRUE(std::regex_match(address, std::regex("/public/images/[0-9a-f]{48}"))) << address;

  const auto anonymous = server_->get(address);  // no key
  ASSERT_EQ(anonymous.status, 200);
  EXPECT_EQ(anonymous.content_type, "image/png");
  EXPECT_EQ(anonymous.body, server_->get("/v1/images/" + id + "/content", alice_).body);

  // Publishing again keeps the address already shared.
  EXPECT_EQ(server_->post("/v1/images/" + id + "/publish", json::object(), alice_).json["url"],
            url);
  EXPECT_EQ(server_->get("/v1/images/" + id, alice_).json["url"], url);

  const auto unpublished = server_->post("/v1/images/" + id + "/unpublish", json::object(), alice_);
  ASSERT_EQ(unpublished.status, 200);
  EXPECT_TRUE(unpublished.json["url"].is_null());
  EXPECT_EQ(server_->get(address).status, 404);

  const auto again = server_->post("/v1/images/" + id + "/publish", json::object(), alice_);
  const std::string new_address = path_of(again.json["url"], server_->base_url());
  EXPECT_NE(new_address, address);
  EXPECT_EQ(server_->get(new_address).status, 200);

  const auto deleted = server_->del("/v1/images/" + id, alice_);
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.json, json({{"id", id}, {"object", "image"}, {"deleted", true}}));
  EXPECT_EQ(server_->get(new_address).status, 404);
  EXPECT_EQ(server_->get("/v1/images/" + id, alice_).status, 404);
  EXPECT_EQ(server_->get("/v1/images/" + id + "/content", alice_).status, 404);
  EXPECT_EQ(server_->del("/v1/images/" + id, alice_).status, 404);
}

TEST_F(ImagesApi, TransformMakesANewImageAndLeavesTheOriginal) {
  const auto image = imagine("shapes", alice_);
  const std::string id = image["id"];
  const auto before = server_->get("/v1/images/" + id + "/content", alice_).body;
  const auto made =
      server_->post("/v1/images/" + id + "/transform",
                    {{"format", "jpeg"}, {"width", 48}, {"height", 24}, {"quality", 70}}, alice_);
  ASSERT_EQ(made.status, 201) << made.body;
  expect_image_object(made.json);
  EXPECT_NE(made.json["id"], id);
  EXPECT_EQ(made.json["name"], "shapes");
  EXPECT_EQ(made.json["format"], "jpeg");
  EXPECT_EQ(made.json["width"], 48);
  EXPECT_EQ(made.json["height"], 24);
  const auto bytes =
      server_->get("/v1/images/" + made.json["id"].get<std::string>() + "/content", alice_);
  EXPECT_EQ(bytes.content_type, "image/jpeg");
  const auto decoded =
      io::decode_image(std::vector<uint8_t>(bytes.body.begin(), bytes.body.end()), "jpeg");
  EXPECT_EQ(decoded.width, 48);
  EXPECT_EQ(decoded.height, 24);

  // One side given: the other keeps the aspect ratio.
  const auto half = server_->post("/v1/images/" + id + "/transform", {{"height", 32}}, alice_);
  ASSERT_EQ(half.status, 201) << half.body;
  EXPECT_EQ(half.json["width"], 32);
  EXPECT_EQ(half.json["format"], "png");

  EXPECT_EQ(server_->get("/v1/images/" + id, alice_).json, image);
  EXPECT_EQ(server_->get("/v1/images/" + id + "/content", alice_).body, before);
}

TEST_F(ImagesApi, AccountsCannotSeeEachOthersImages) {
  const auto image = imagine("secret", alice_);
  const std::string id = image["id"];
  EXPECT_EQ(server_->get("/v1/images/" + id, bob_).status, 404);
  EXPECT_EQ(server_->get("/v1/images/" + id + "/content", bob_).status, 404);
  EXPECT_EQ(server_->post("/v1/images/" + id + "/publish", json::object(), bob_).status, 404);
  EXPECT_EQ(server_->post("/v1/images/" + id + "/unpublish", json::object(), bob_).status, 404);
  EXPECT_EQ(server_->post("/v1/images/" + id + "/transform", {{"width", 8}}, bob_).status, 404);
  EXPECT_EQ(server_->del("/v1/images/" + id, bob_).status, 404);
  EXPECT_EQ(server_->get("/v1/images?name=secret", bob_).json["total"], 0);
  EXPECT_EQ(server_->get("/v1/images/" + id, alice_).status, 200);

  const auto no_key = server_->get("/v1/images/" + id);
  EXPECT_EQ(no_key.status, 401);
  EXPECT_EQ(no_key.json["success"], false);
  EXPECT_EQ(no_key.json["error"]["code"], "unauthorized");
  EXPECT_EQ(server_->get("/v1/images", "dd_not_a_key").status, 401);
}

struct BadRequest {
  std::string what;
  std::string method;
  std::string path;  // "{id}" = an existing image of the caller
  std::string body;
  int status;
  std::string param;  // "" = no param expected
};

TEST_F(ImagesApi, BadInputGetsTheRightErrorNamingTheParameter) {
  const std::string id = imagine("target", alice_)["id"];
  const std::vector<BadRequest> cases = {
      {"malformed JSON", "POST", "/v1/images/imagine", "{\"name\": ", 400, ""},
      {"not an object", "POST", "/v1/images/imagine", "[1]", 400, ""},
      {"missing name", "POST", "/v1/images/imagine", R"({"prompt": "x"})", 400, "name"},
      {"empty prompt", "POST", "/v1/images/imagine", R"({"name": "n", "prompt": ""})", 400,
       "prompt"},
      {"name of wrong type", "POST", "/v1/images/imagine", R"({"name": 5, "prompt": "x"})", 400,
       "name"},
      {"seed of wrong type", "POST", "/v1/images/imagine",
       R"({"name": "n", "prompt": "x", "seed": "1"})", 400, "seed"},
      {"fractional seed", "POST", "/v1/images/imagine",
       R"({"name": "n", "prompt": "x", "seed": 1.5})", 400, "seed"},
      {"unknown model", "POST", "/v1/images/imagine",
       R"({"name": "n", "prompt": "x", "model": "nope"})", 400, "model"},
      {"unknown format", "POST", "/v1/images/imagine",
       R"({"name": "n", "prompt": "x", "format": "gif"})", 400, "format"},
      {"limit zero", "GET", "/v1/images?limit=0", "", 400, "limit"},
      {"limit too big", "GET", "/v1/images?limit=101", "", 400, "limit"},
      {"limit not a number", "GET", "/v1/images?limit=ten", "", 400, "limit"},
      {"negative offset", "GET", "/v1/images?offset=-1", "", 400, "offset"},
      {"page zero", "GET", "/v1/images?page=0", "", 400, "page"},
      {"transform width zero", "POST", "/v1/images/{id}/transform", R"({"width": 0})", 400,
       "width"},
      {"transform too large", "POST", "/v1/images/{id}/transform", R"({"width": 5000})", 400,
       "width"},
      {"transform quality", "POST", "/v1/images/{id}/transform", R"({"quality": 101})", 400,
       "quality"},
      {"transform format", "POST", "/v1/images/{id}/transform", R"({"format": "bmp"})", 400,
       "format"},
      {"transform bad JSON", "POST", "/v1/images/{id}/transform", "nope", 400, ""},
      {"unknown image", "GET", "/v1/images/image_00000000000000000000000000000000", "", 404, ""},
      {"path traversal id", "GET", "/v1/images/..%2F..%2Fdiffusiond.db/content", "", 404, ""},
      {"dots as id", "GET", "/v1/images/../content", "", 404, ""},
      {"unknown public token", "GET", "/public/images/0123456789abcdef", "", 404, ""},
      {"traversal public token", "GET", "/public/images/..%2Fdiffusiond.db", "", 404, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = c.path;
    if (const auto at = path.find("{id}"); at != std::string::npos) path.replace(at, 4, id);
    const auto reply = c.method == "GET"
                           ? server_->get(path, alice_)
                           : server_->post_raw(path, c.body, "application/json", alice_);
    EXPECT_EQ(reply.status, c.status) << reply.body;
    ASSERT_TRUE(reply.json.is_object()) << reply.body;
    EXPECT_EQ(reply.json["success"], false);
    EXPECT_TRUE(reply.json["error"]["message"].is_string());
    if (!c.param.empty()) {
      EXPECT_EQ(reply.json["error"]["param"], c.param);
    }
  }
  EXPECT_EQ(server_->get("/v1/images/" + id, alice_).status, 200);  // still serving
}

}  // namespace
}  // namespace dd::test
