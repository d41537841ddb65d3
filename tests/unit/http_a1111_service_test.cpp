// AUTOMATIC1111's endpoints around generation (/sdapi/v1): HTTP Basic auth as A1111 clients send
// it, options and the per-account default model (kept across restarts), the lists, png-info,
// progress with a preview, and interrupt.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "http_test_server.h"
#include "io/base64.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

using nlohmann::json;
using test::TestServer;
using test::TestServerOptions;

const json kSmall = {{"prompt", "a red cube"}, {"steps", 2}, {"width", 64}, {"height", 64}};

json parse(const httplib::Result& result) {
  return result ? json::parse(result->body, nullptr, false) : json();
}

TEST(A1111Service, BasicAuthWithKeyNameAndKey) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto alice = server.service().accounts().create_key("alice");
  server.service().accounts().create_key("bob");
  auto client = server.client();

  client.set_basic_auth("alice", alice.key);
  auto good = client.Get("/sdapi/v1/options");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body;
  EXPECT_EQ(parse(good)["sd_model_checkpoint"], "sd15-tiny");

  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"alice", "dd_wrong"}, {"bob", alice.key}, {"", alice.key}}) {
    auto bad_client = server.client();
    bad_client.set_basic_auth(user, password);
    const auto bad = bad_client.Get("/sdapi/v1/options");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 401) << user;
    EXPECT_EQ(bad->get_header_value("WWW-Authenticate").rfind("Basic", 0), 0u) << user;
  }
  // Missing credentials: the Basic challenge too.
  const auto missing = server.client().Get("/sdapi/v1/sd-models");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate").rfind("Basic", 0), 0u);
  // Malformed Basic credentials.
  const auto garbled =
      server.client().Get("/sdapi/v1/sd-models", {{"Authorization", "Basic %%%not-base64"}});
  ASSERT_TRUE(garbled);
  EXPECT_EQ(garbled->status, 401);
  // The Bearer key still works, here and elsewhere; Basic works in the other dialects too.
  EXPECT_EQ(server.get("/sdapi/v1/samplers", alice.key).status, 200);
  EXPECT_EQ(client.Get("/v1/models")->status, 200);
}

TEST(A1111Service, OptionsChooseTheAccountsDefaultModelDurably) {
  DD_REQUIRE_FIXTURES();
  const std::string data_dir =
      (std::filesystem::temp_directory_path() / ("dd_a1111_options_" + service::random_hex(6)))
          .string();
  std::string alice_key, bob_key;
  {
    TestServer server(TestServerOptions{.data_dir = data_dir});
    alice_key = server.service().accounts().create_key("alice").key;
    bob_key = server.service().accounts().create_key("bob").key;
    auto options = server.get("/sdapi/v1/options", alice_key).json;
    EXPECT_EQ(options["sd_model_checkpoint"], "sd15-tiny");
    // What Open WebUI does: post the whole object back with the model changed.
    options["sd_model_checkpoint"] = "sd15-tiny-single";
    const auto set = server.post("/sdapi/v1/options", options, alice_key);
    EXPECT_EQ(set.status, 200) << set.body;
    EXPECT_EQ(server.get("/sdapi/v1/options", alice_key).json["sd_model_checkpoint"],
              "sd15-tiny-single");
    EXPECT_EQ(server.get("/sdapi/v1/options", bob_key).json["sd_model_checkpoint"], "sd15-tiny");
    // Used when a request names no model.
    const auto reply = server.post("/sdapi/v1/txt2img", kSmall, alice_key);
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(json::parse(reply.json["info"].get<std::string>())["sd_model_name"],
              "sd15-tiny-single");
    // Refusals: an unknown model, another value of an option we only list.
    EXPECT_EQ(server.post("/sdapi/v1/options", {{"sd_model_checkpoint", "nope"}}, alice_key).status,
              400);
    EXPECT_EQ(server.post("/sdapi/v1/options", {{"samples_format", "webp"}}, alice_key).status,
              422);
    EXPECT_EQ(server.post("/sdapi/v1/options", {{"not_an_option_here", 1}}, alice_key).status, 200);
  }
  {
    TestServer restarted(TestServerOptions{.data_dir = data_dir});
    EXPECT_EQ(restarted.get("/sdapi/v1/options", alice_key).json["sd_model_checkpoint"],
              "sd15-tiny-single");
  }
  std::filesystem::remove_all(data_dir);
}

TEST(A1111Service, Lists) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto models = server.get("/sdapi/v1/sd-models").json;
  ASSERT_TRUE(models.is_array());
  bool found = false;
  for (const auto& model : models) {
    EXPECT_TRUE(model.contains("title") && model.contains("model_name") && model.contains("hash") &&
                model.contains("sha256") && model.contains("filename") && model.contains("config"))
        << model.dump();
    EXPECT_EQ(model["filename"].get<std::string>().find(server.models_dir()), std::string::npos);
    found = found || model["title"] == "sd15-tiny";
  }
  EXPECT_TRUE(found) << models.dump();
  // A title is what a client sends back; A1111's "file [hash]" form is understood too.
  EXPECT_EQ(server
                .post("/sdapi/v1/options",
                      {{"sd_model_checkpoint", "sd15-tiny-single.safetensors [0123abcd]"}})
                .status,
            200);
  EXPECT_EQ(server.get("/sdapi/v1/options").json["sd_model_checkpoint"], "sd15-tiny-single");

  const auto samplers = server.get("/sdapi/v1/samplers").json;
  ASSERT_FALSE(samplers.empty());
  EXPECT_EQ(samplers[1]["name"], "Euler a");
  EXPECT_TRUE(samplers[1]["aliases"].is_array());
  EXPECT_TRUE(samplers[1]["options"].is_object());
  const auto schedulers = server.get("/sdapi/v1/schedulers").json;
  ASSERT_EQ(schedulers.size(), 2u);
  EXPECT_EQ(schedulers[0]["name"], "automatic");
  EXPECT_EQ(schedulers[1]["label"], "Karras");
  const auto loras = server.get("/sdapi/v1/loras").json;
  ASSERT_EQ(loras.size(), 1u);
  EXPECT_EQ(loras[0]["name"], "sd15-tiny-lora");
  EXPECT_EQ(loras[0]["path"].get<std::string>().find(server.models_dir()), std::string::npos);
}

TEST(A1111Service, PngInfoReadsTheParametersOfOurImages) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = kSmall;
  body["negative_prompt"] = "blurry";
  body["seed"] = 11;
  const auto made = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(made.status, 200) << made.body;
  const auto reply = server.post("/sdapi/v1/png-info", {{"image", made.json["images"][0]}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string info = reply.json["info"];
  EXPECT_EQ(info.rfind("a red cube\nNegative prompt: blurry\nSteps: 2,", 0), 0u) << info;
  EXPECT_EQ(reply.json["parameters"]["Prompt"], "a red cube");
  EXPECT_EQ(reply.json["parameters"]["Negative prompt"], "blurry");
  EXPECT_EQ(reply.json["parameters"]["Seed"], "11");
  EXPECT_EQ(reply.json["parameters"]["Size-1"], "64");
  EXPECT_TRUE(reply.json["items"].is_object());

  EXPECT_EQ(server.post("/sdapi/v1/png-info", json::object()).status, 400);
  EXPECT_EQ(server.post("/sdapi/v1/png-info", {{"image", "aGVsbG8="}}).status, 400);
}

TEST(A1111Service, ProgressOfTheCallersJobAndInterrupt) {
  DD_REQUIRE_FIXTURES();
  // A preview at every step: the first comes after one step, not after a quarter of 500 steps
  // (which took over a minute on a loaded machine).
  test::TestServerOptions options;
  options.preview_every = 1;
  TestServer server(options);
  const auto key = server.service().accounts().create_key("alice").key;
  const auto other = server.service().accounts().create_key("bob").key;
  auto idle = server.get("/sdapi/v1/progress", key).json;
  EXPECT_EQ(idle["progress"], 0.0);
  EXPECT_TRUE(idle["current_image"].is_null());
  EXPECT_EQ(idle["state"]["job_count"], 0);

  // A long job, so that it is caught running.
  service::NewJob job;
  job.account_id = *server.service().accounts().account_named("alice");
  job.dialect = "a1111";
  job.spec.params.prompt = "x";
  job.spec.params.steps = 500;
  const auto queued = server.service().submit(job);
  json progress;
  for (int i = 0; i < 6000; ++i) {
    progress = server.get("/sdapi/v1/progress", key).json;
    if (!progress["current_image"].is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(progress["current_image"].is_null()) << progress.dump();
  EXPECT_EQ(progress["state"]["job"], queued.id);
  EXPECT_EQ(progress["state"]["sampling_steps"], 500);
  EXPECT_GT(progress["state"]["sampling_step"].get<int>(), 0);
  EXPECT_GT(progress["progress"].get<double>(), 0.0);
  const auto preview = io::base64_decode(progress["current_image"].get<std::string>(), "preview");
  EXPECT_EQ(std::string(preview.begin() + 1, preview.begin() + 4), "PNG");
  // Another account sees nothing of it, and cannot interrupt it.
  EXPECT_EQ(server.get("/sdapi/v1/progress", other).json["state"]["job_count"], 0);
  EXPECT_EQ(server.post("/sdapi/v1/interrupt", json::object(), other).status, 200);
  EXPECT_EQ(server.post("/sdapi/v1/interrupt", json::object(), key).status, 200);
  const auto ended = server.service().wait(queued.id, job.account_id, 60000);
  EXPECT_EQ(ended.status, service::JobStatus::Cancelled);
}

}  // namespace
}  // namespace dd::http
