// The models directory seen from HTTP: /ready answers 503 while no model can serve
// text-to-image, and a model added after the start is found without a restart, by
// POST /v0/api/models/rescan, by a request that names it, and by SIGHUP to `diffusiond serve`.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "http_test_server.h"
#include "serve_process.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A models folder of its own: an unreadable checkpoint and an inpainting-only model, which
// come first by id and cannot serve text-to-image.
class ModelsFolder {
 public:
  ModelsFolder() : dir_(fs::temp_directory_path() / ("dd_models_api_" + service::random_hex(6))) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "a-corrupt.safetensors") << "this is not a checkpoint";
    fs::create_symlink(fixtures() / "sd15-inpaint-tiny.safetensors",
                       dir_ / "b-inpaint.safetensors");
    fs::create_symlink(fixtures() / "sd15-inpaint-tiny.arch.json", dir_ / "b-inpaint.arch.json");
  }
  ~ModelsFolder() { fs::remove_all(dir_); }
  ModelsFolder(const ModelsFolder&) = delete;
  ModelsFolder& operator=(const ModelsFolder&) = delete;

  // The tiny SD 1.5 diffusers folder under the name `id`.
  void add_plain(const std::string& id) const {
    fs::create_directory_symlink(fixtures() / "sd15-tiny", dir_ / id);
  }
  std::string path() const { return dir_.string(); }

 private:
  static fs::path fixtures() { return fs::path(test::fixtures_dir()) / "models"; }
  fs::path dir_;
};

test::TestServerOptions options_for(const ModelsFolder& folder) {
  test::TestServerOptions options;
  options.models_dir = folder.path();
  options.default_model = "";
  return options;
}

bool lists(const json& models, const std::string& id) {
  for (const auto& model : models)
    if (model.value("id", "") == id) return true;
  return false;
}

TEST(ModelsApi, ReadyIs503WhileNoModelCanServeAndTheRescanEndpointFixesThat) {
  DD_REQUIRE_FIXTURES();
  ModelsFolder folder;
  test::TestServer server(options_for(folder));
  const auto unready = server.get("/ready");
  EXPECT_EQ(unready.status, 503) << unready.body;
  ASSERT_EQ(unready.json["problems"].size(), 1u) << unready.body;
  const std::string problem = unready.json["problems"][0];
  EXPECT_EQ(problem.rfind("no model can serve text-to-image", 0), 0u) << problem;
  EXPECT_NE(problem.find("b-inpaint: inpainting only"), std::string::npos) << problem;
  EXPECT_NE(problem.find("a-corrupt: unreadable checkpoint"), std::string::npos) << problem;
  EXPECT_EQ(unready.json["default_model"], "");

  folder.add_plain("c-plain");
  const auto rescanned = server.post("/v0/api/models/rescan", json::object());
  ASSERT_EQ(rescanned.status, 200) << rescanned.body;
  EXPECT_EQ(rescanned.json["success"], true);
  EXPECT_EQ(rescanned.json["defaultModel"], "c-plain");
  ASSERT_EQ(rescanned.json["models"].size(), 3u) << rescanned.body;
  const auto& inpaint = rescanned.json["models"][1];
  EXPECT_EQ(inpaint["id"], "b-inpaint");
  EXPECT_EQ(inpaint["family"], "sd1-inpaint");
  EXPECT_EQ(inpaint["available"], true);
  EXPECT_EQ(inpaint["textToImage"], false);
  EXPECT_EQ(rescanned.json["models"][0]["available"], false);
  EXPECT_TRUE(rescanned.json["models"][0]["error"].is_string());

  const auto ready = server.get("/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json["default_model"], "c-plain");
}

TEST(ModelsApi, TheRescanEndpointNeedsAKeyAndIsListedInOpenApi) {
  DD_REQUIRE_FIXTURES();
  ModelsFolder folder;
  folder.add_plain("c-plain");
  test::TestServer server(options_for(folder));
  EXPECT_EQ(server.get("/ready").status, 200);  // the usable model is the default
  EXPECT_EQ(server.get("/ready").json["default_model"], "c-plain");
  const auto key = server.service().accounts().create_key("ops").key;
  EXPECT_EQ(server.post("/v0/api/models/rescan", json::object()).status, 401);
  EXPECT_EQ(server.post("/v0/api/models/rescan", json::object(), key).status, 200);
  const auto document = server.get("/openapi.json");
  EXPECT_TRUE(document.json["paths"]["/v0/api/models/rescan"].contains("post")) << document.body;
}

TEST(ModelsApi, ARequestNamingAModelAddedSinceTheStartFindsIt) {
  DD_REQUIRE_FIXTURES();
  ModelsFolder folder;
  folder.add_plain("c-plain");
  test::TestServer server(options_for(folder));
  folder.add_plain("d-added");
  const auto created = server.post("/v0/api/images", {{"prompt", "a red circle"},
                                                      {"model", "d-added"},
                                                      {"width", 64},
                                                      {"height", 64},
                                                      {"steps", 2}});
  ASSERT_EQ(created.status, 200) << created.body;
  const auto job = server.wait_for_job(created.json["jobId"]);
  EXPECT_EQ(job["status"], "SUCCESS") << job.dump();
}

TEST(ModelsApi, SighupMakesTheServerReadTheModelsDirectoryAgain) {
  DD_REQUIRE_FIXTURES();
  ModelsFolder folder;
  folder.add_plain("c-plain");
  const fs::path data_dir = fs::temp_directory_path() / ("dd_sighup_" + service::random_hex(6));
  const int port = test::free_port();
  {
    test::ServeProcess server(DD_BINARY, port,
                              {"--models-dir", folder.path(), "--data-dir", data_dir.string()});
    ASSERT_TRUE(server.wait_healthy(30));
    auto client = server.client();
    const auto model_ids = [&] {
      const auto reply = client.Get("/v1/models");  // lists; looks nothing up
      return reply && reply->status == 200 ? json::parse(reply->body)["data"] : json::array();
    };
    EXPECT_TRUE(lists(model_ids(), "c-plain"));
    folder.add_plain("d-added");
    EXPECT_FALSE(lists(model_ids(), "d-added"));
    server.send_signal(SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!lists(model_ids(), "d-added") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(lists(model_ids(), "d-added"));
    EXPECT_EQ(client.Get("/health")->status, 200);  // still serving
  }
  std::error_code ec;
  fs::remove_all(data_dir, ec);
}

}  // namespace
}  // namespace dd::http
