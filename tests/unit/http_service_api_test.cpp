// The service endpoints against a real server: /health, /ready, /metrics (Prometheus text),
// /openapi.json (covers every endpoint) and GET /files/<job-id>/<name> (a job's output, for its
// own account only).
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <tuple>
#include <vector>

#include "http_test_server.h"
#include "io/image_codec.h"
#include "test_support.h"

namespace dd::test {
namespace {

using nlohmann::json;

// Runs a small job straight through the service, as any dialect would.
service::Job run_job(TestServer& server, const std::string& account) {
  service::NewJob job;
  job.account_id = account;
  job.dialect = "test";
  job.spec.params.prompt = "a small house";
  job.spec.params.seed = 5;
  const auto queued = server.service().submit(job);
  return server.service().wait(queued.id, account, 120'000);
}

// The value of an unlabelled or labelled sample line, e.g. `name{status="SUCCESS"} 3`.
double sample(const std::string& text, const std::string& series) {
  const std::string line_start = series + " ";
  for (size_t at = text.find(line_start); at != std::string::npos;
       at = text.find(line_start, at + 1)) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + line_start.size()));
  }
  ADD_FAILURE() << "no sample " << series << " in:\n" << text;
  return -1;
}

TEST(HttpServiceApi, HealthAnswersOk) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto reply = server.get("/health");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.json, json({{"status", "ok"}}));
}

TEST(HttpServiceApi, ReadyWhenTheDefaultModelCanServeAndTheQueueHasRoom) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto ready = server.get("/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json["status"], "ready");
  EXPECT_EQ(ready.json["default_model"], "sd15-tiny");
  EXPECT_EQ(ready.json["queue_depth"], 0);
  EXPECT_EQ(ready.json["max_queue"], 100);
  EXPECT_EQ(ready.json["problems"], json::array());

  TestServerOptions full;
  full.max_queue = 0;
  TestServer no_room(full);
  const auto busy = no_room.get("/ready");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.json["status"], "unavailable");
  EXPECT_EQ(busy.json["problems"], json::array({"the queue is full"}));

  TestServerOptions idle;
  idle.start_worker = false;
  TestServer no_worker(idle);
  EXPECT_EQ(no_worker.get("/ready").status, 503);
}

TEST(HttpServiceApi, MetricsCountJobsAndTimeStepsAndImages) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto before = server.get("/metrics");
  ASSERT_EQ(before.status, 200);
  EXPECT_EQ(before.content_type.rfind("text/plain", 0), 0u) << before.content_type;
  EXPECT_EQ(sample(before.body, "diffusiond_queue_depth"), 0);
  EXPECT_EQ(sample(before.body, R"(diffusiond_jobs{status="SUCCESS"})"), 0);
  EXPECT_EQ(sample(before.body, "diffusiond_step_seconds_count"), 0);
  EXPECT_NE(before.body.find("# TYPE diffusiond_step_seconds histogram\n"), std::string::npos);

  ASSERT_EQ(run_job(server, service::kLocalAccount).status, service::JobStatus::Success);
  const auto after = server.get("/metrics").body;
  EXPECT_EQ(sample(after, R"(diffusiond_jobs{status="SUCCESS"})"), 1);
  EXPECT_EQ(sample(after, R"(diffusiond_jobs{status="CREATED"})"), 0);
  EXPECT_EQ(sample(after, R"(diffusiond_jobs_finished_total{status="SUCCESS"})"), 1);
  EXPECT_EQ(sample(after, "diffusiond_images_generated_total"), 1);
  EXPECT_EQ(sample(after, "diffusiond_image_seconds_count"), 1);
  EXPECT_EQ(sample(after, R"(diffusiond_image_seconds_bucket{le="+Inf"})"), 1);
  EXPECT_EQ(sample(after, "diffusiond_step_seconds_count"), 4);  // the model's default steps
  EXPECT_GT(sample(after, "diffusiond_step_seconds_sum"), 0);
  EXPECT_EQ(sample(after, "diffusiond_models_loaded"), 1);

  // Every sample line is `name{labels} number` and every series has a TYPE.
  std::istringstream lines(after);
  const std::regex sample_line(R"([a-z_]+(\{[a-z]+="[^"]*"\})? [-+0-9.e]+)");
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample_line)) << line;
  }
}

TEST(HttpServiceApi, OpenApiDocumentDescribesEveryEndpoint) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto reply = server.get("/openapi.json");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "application/json");
  const auto& doc = reply.json;
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_EQ(doc["info"]["title"], "diffusiond");
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"/v0/api/images", "post"},
      {"/v0/api/jobs/{id}", "get"},
      {"/v0/api/jobs/{id}/cancel", "post"},
      {"/v0/api/characters", "post"},
      {"/v0/api/characters", "get"},
      {"/v0/api/characters/{id}", "get"},
      {"/v0/api/characters/{id}", "delete"},
      {"/sd", "post"},
      {"/models", "get"},
      {"/samplers", "get"},
      {"/loras", "get"},
      {"/api/v1/images/generation", "post"},
      {"/v1/images/imagine", "post"},
      {"/v1/images", "get"},
      {"/v1/images/{id}", "get"},
      {"/v1/images/{id}", "delete"},
      {"/v1/images/{id}/content", "get"},
      {"/v1/images/{id}/publish", "post"},
      {"/v1/images/{id}/unpublish", "post"},
      {"/v1/images/{id}/transform", "post"},
      {"/public/images/{token}", "get"},
      {"/v1/images/generations", "post"},
      {"/v1/images/edits", "post"},
      {"/v1/models", "get"},
      {"/files/{jobId}/{name}", "get"},
      {"/health", "get"},
      {"/ready", "get"},
      {"/metrics", "get"},
      {"/openapi.json", "get"},
  };
  for (const auto& [path, method] : endpoints) {
    SCOPED_TRACE(method + " " + path);
    ASSERT_TRUE(doc["paths"].contains(path));
    ASSERT_TRUE(doc["paths"][path].contains(method));
    const auto& operation = doc["paths"][path][method];
    EXPECT_TRUE(operation["summary"].is_string());
    EXPECT_TRUE(operation["responses"].contains("200"));
    // Each {placeholder} is a declared path parameter.
    const std::regex placeholder(R"(\{([A-Za-z]+)\})");
    std::set<std::string> declared;
    for (const auto& parameter : operation.value("parameters", json::array()))
      declared.insert(parameter["name"].get<std::string>());
    std::set<std::string> used;
    for (std::sregex_iterator it(path.begin(), path.end(), placeholder), end; it != end; ++it)
      used.insert((*it)[1]);
    EXPECT_EQ(declared, used);
  }
  const auto& edits = doc["paths"]["/v1/images/edits"]["post"]["requestBody"]["content"];
  ASSERT_TRUE(edits.contains("multipart/form-data"));
  EXPECT_EQ(edits["multipart/form-data"]["schema"]["required"], json({"image", "prompt"}));
  const auto& imagine =
      doc["paths"]["/v1/images/imagine"]["post"]["requestBody"]["content"]["application/json"];
  EXPECT_EQ(imagine["schema"]["required"], json({"name", "prompt"}));
  // SDXL micro-conditioning: two integers, snake case here, camel case in the jobs API.
  auto expect_pair = [](const json& property) {
    EXPECT_EQ(property["type"], "array") << property.dump();
    EXPECT_EQ(property["items"]["type"], "integer") << property.dump();
    EXPECT_EQ(property["minItems"], 2) << property.dump();
    EXPECT_EQ(property["maxItems"], 2) << property.dump();
  };
  expect_pair(imagine["schema"]["properties"]["negative_crops_coords_top_left"]);
  expect_pair(doc["paths"]["/v0/api/images"]["post"]["requestBody"]["content"]["application/json"]
                 ["schema"]["properties"]["originalSize"]);
  // Every field of a generation endpoint is documented from its table: type, range, doc line.
  const auto& sd = doc["paths"]["/sd"]["post"]["requestBody"]["content"]["application/json"]
                      ["schema"]["properties"];
  EXPECT_EQ(sd["steps"]["maximum"], 30);
  EXPECT_EQ(sd["steps"]["default"], 30);
  EXPECT_EQ(sd["clip_skip"]["type"], "integer");
  EXPECT_EQ(doc["paths"]["/v0/api/images"]["post"]["requestBody"]["content"]["application/json"]
               ["schema"]["properties"]["clipSkip"]["maximum"],
            12);
  // FLUX's fields in every generation endpoint, with their ranges and a doc line.
  const std::vector<std::tuple<std::string, std::string, std::string>> flux_rows = {
      {"/v0/api/images", "application/json", "trueCfg"},
      {"/sd", "application/json", "true_cfg"},
      {"/api/v1/images/generation", "application/json", "true_cfg"},
      {"/v1/images/imagine", "application/json", "true_cfg"},
      {"/v1/images/generations", "application/json", "true_cfg"},
      {"/v1/images/edits", "multipart/form-data", "true_cfg"},
  };
  for (const auto& [path, media, true_cfg] : flux_rows) {
    const auto& properties =
        doc["paths"][path]["post"]["requestBody"]["content"][media]["schema"]["properties"];
    const std::string max_length =
        true_cfg == "trueCfg" ? "maxSequenceLength" : "max_sequence_length";
    EXPECT_EQ(properties["guidance"]["type"], "number") << path;
    EXPECT_EQ(properties["guidance"]["maximum"], 100) << path;
    EXPECT_EQ(properties[true_cfg]["minimum"], 1) << path;
    EXPECT_EQ(properties[true_cfg]["maximum"], 30) << path;
    EXPECT_EQ(properties[max_length]["type"], "integer") << path;
    EXPECT_EQ(properties[max_length]["maximum"], 512) << path;
    for (const auto& name : {std::string("guidance"), true_cfg, max_length})
      EXPECT_NE(properties[name].value("description", "").find("FLUX"), std::string::npos)
          << path << " " << name;
  }
  for (const auto& [path, methods] : doc["paths"].items()) {
    for (const auto& [method, operation] : methods.items()) {
      if (!operation.contains("requestBody")) continue;
      for (const auto& [media, content] : operation["requestBody"]["content"].items())
        for (const auto& [name, property] : content["schema"]["properties"].items())
          EXPECT_FALSE(property.value("description", "").empty()) << path << " " << name;
    }
  }
  EXPECT_EQ(doc["paths"]["/health"]["get"]["security"], json::array());
}

TEST(HttpServiceApi, FilesServeAJobsOutputsToItsAccountOnly) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto alice = server.service().accounts().create_key("alice");
  const auto bob = server.service().accounts().create_key("bob");
  const auto job = run_job(server, alice.account_id);
  ASSERT_EQ(job.status, service::JobStatus::Success) << job.error;
  ASSERT_EQ(job.outputs.size(), 1u);
  const auto& output = job.outputs[0];

  const auto reply = server.get("/files/" + output.path, alice.key);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "image/png");
  EXPECT_EQ(static_cast<int64_t>(reply.body.size()), output.size);
  const auto record = server.service().images().get(output.image_id, alice.account_id);
  ASSERT_TRUE(record);
  EXPECT_EQ(reply.body, server.service().images().read_bytes(*record));

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"/files/" + output.path, bob.key},
      {"/files/" + job.id + "/other.png", alice.key},
      {"/files/" + job.id + "/" + output.image_id, alice.key},
      {"/files/00000000-0000-0000-0000-000000000000/" + output.name, alice.key},
      {"/files/..%2F..%2Fdiffusiond.db/x", alice.key},
      {"/files/" + job.id + "/..%2F..%2Fdiffusiond.db", alice.key},
      {"/files/" + job.id + "/%2e%2e", alice.key},
  };
  for (const auto& [path, key] : refused) {
    SCOPED_TRACE(path);
    const auto refusal = server.get(path, key);
    EXPECT_EQ(refusal.status, 404) << refusal.body;
    EXPECT_EQ(refusal.json["success"], false);
  }
  EXPECT_EQ(server.get("/files/" + output.path).status, 401);
}

}  // namespace
}  // namespace dd::test
