// What every dialect shares about a request before and after its handler: the Bearer scheme in
// any case, 405 with Allow for a known path asked with another method, input pictures (data:
// URLs, a mask of the image's size), the FLUX fields in every dialect, and errors that name no
// file by its absolute server path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "http/routes.h"
#include "http/server.h"
#include "http_test_server.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

namespace fs = std::filesystem;
using test::TestServer;

std::string png_base64(int width, int height, uint8_t value) {
  io::Image image{width, height,
                  std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, value)};
  return io::base64_encode(io::encode_image(image, "png"));
}

// Nothing is generated; a request that queues a job anyway answers 504 soon.
test::TestServerOptions without_worker() {
  test::TestServerOptions options;
  options.start_worker = false;
  options.sync_timeout_ms = 2000;
  return options;
}

TEST(RequestChecks, TheBearerSchemeIsCaseInsensitive) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  const auto alice = server.service().accounts().create_key("alice");
  auto client = server.client();
  for (const std::string scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    const auto reply = client.Get("/models", {{"Authorization", scheme + " " + alice.key}});
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200) << scheme << ": " << reply->body;
  }
  const auto wrong = client.Get("/models", {{"Authorization", "Basic " + alice.key}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

httplib::Request request_for(const std::string& method, const std::string& path) {
  httplib::Request request;
  request.method = method;
  request.path = path;
  return request;
}

TEST(RequestChecks, AKnownPathWithAnotherMethodIs405WithAllow) {
  RouteTable routes;
  routes.add("GET", "/health");
  routes.add("POST", "/sd");
  routes.add("GET", R"(/v1/images/([^/]+))");
  routes.add("DELETE", R"(/v1/images/([^/]+))");
  EXPECT_EQ(routes.allowed("/v1/images/abc"), (std::vector<std::string>{"GET", "HEAD", "DELETE"}));
  EXPECT_TRUE(routes.allowed("/nowhere").empty());
  const auto unhandled = httplib::Server::HandlerResponse::Unhandled;

  httplib::Response put;
  EXPECT_EQ(method_not_allowed(routes, 1000, request_for("PUT", "/sd"), put), unhandled);
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.get_header_value("Allow"), "POST");
  const auto body = nlohmann::json::parse(put.body, nullptr, false);
  EXPECT_EQ(body["success"], false) << put.body;
  EXPECT_EQ(body["error"]["code"], "method_not_allowed") << put.body;
  httplib::Response patch;
  method_not_allowed(routes, 1000, request_for("PATCH", "/v1/images/abc"), patch);
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(patch.get_header_value("Allow"), "GET, HEAD, DELETE");
  httplib::Response options;
  method_not_allowed(routes, 1000, request_for("OPTIONS", "/health"), options);
  EXPECT_EQ(options.get_header_value("Allow"), "GET, HEAD");

  // Served methods, unknown paths and bodies over the limit (httplib's 413) are left alone.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"HEAD", "/health"}, {"DELETE", "/v1/images/abc"}, {"PUT", "/nowhere"}}) {
    httplib::Response response;
    method_not_allowed(routes, 1000, request_for(method, path), response);
    EXPECT_EQ(response.status, -1) << method << " " << path;
    EXPECT_TRUE(response.body.empty()) << method << " " << path;
  }
  auto large = request_for("PUT", "/sd");
  large.set_header("Content-Length", "1001");
  httplib::Response response;
  method_not_allowed(routes, 1000, large, response);
  EXPECT_EQ(response.status, -1);
}

TEST(RequestChecks, AMaskOfAnotherSizeIsRefusedBeforeQueueing) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  const auto reply = server.post(
      "/api/v1/images/generation",
      {{"prompt", "x"}, {"image", png_base64(96, 64, 200)}, {"mask", png_base64(64, 64, 255)}});
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_EQ(reply.json["error"]["param"], "mask") << reply.body;
  EXPECT_NE(reply.body.find("64x64"), std::string::npos) << reply.body;
  EXPECT_EQ(server.service().jobs().queued_count(), 0);
}

TEST(RequestChecks, EveryBase64ImageFieldTakesADataUrl) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::string prefix = "data:image/png;base64,";
  const nlohmann::json base = {{"prompt", "a red cap"}, {"num_steps", 2}};
  for (const std::string field : {"image", "mask"}) {
    nlohmann::json body = base;
    body["image"] = png_base64(64, 64, 200);
    body["mask"] = png_base64(64, 64, 255);
    body[field] = prefix + body[field].get<std::string>();
    const auto reply = server.post("/api/v1/images/generation", body);
    EXPECT_EQ(reply.status, 200) << field << ": " << reply.body.substr(0, 300);
  }
}

// FLUX's guidance, true_cfg and max_sequence_length: every dialect that takes generation
// parameters reads them (the jobs API in camel case) into the job, and refuses a value out of
// range before queueing, naming the field as the dialect spells it.
struct FluxNames {
  std::string path, guidance, true_cfg, max_sequence_length;
  nlohmann::json base;
};

std::vector<FluxNames> flux_dialects() {
  const nlohmann::json prompt = {{"prompt", "x"}};
  return {
      {"/v0/api/images", "guidance", "trueCfg", "maxSequenceLength", prompt},
      {"/sd", "guidance", "true_cfg", "max_sequence_length", prompt},
      {"/api/v1/images/generation", "guidance", "true_cfg", "max_sequence_length", prompt},
      {"/v1/images/imagine",
       "guidance",
       "true_cfg",
       "max_sequence_length",
       {{"name", "n"}, {"prompt", "x"}}},
      {"/v1/images/generations", "guidance", "true_cfg", "max_sequence_length", prompt},
  };
}

// The edits endpoint's multipart form, with these text parts besides the image and prompt.
TestServer::Reply post_edit(const TestServer& server,
                            const std::vector<std::pair<std::string, std::string>>& parts) {
  const auto png = [](uint8_t value) {
    const auto bytes =
        io::encode_image(io::Image{64, 64, std::vector<uint8_t>(64 * 64 * 3, value)}, "png");
    return std::string(bytes.begin(), bytes.end());
  };
  httplib::MultipartFormDataItems items = {{"image", png(200), "in.png", "image/png"},
                                           {"mask", png(255), "mask.png", "image/png"},
                                           {"prompt", "x", "", ""}};
  for (const auto& [name, value] : parts) items.push_back({name, value, "", ""});
  const auto reply = server.client().Post("/v1/images/edits", items);
  TestServer::Reply out;
  if (!reply) return out;
  out.status = reply->status;
  out.body = reply->body;
  out.json = nlohmann::json::parse(reply->body, nullptr, false);
  return out;
}

TEST(RequestChecks, EveryDialectTakesTheFluxFields) {
  DD_REQUIRE_FIXTURES();
  auto options = without_worker();
  options.sync_timeout_ms = 20;  // a sync dialect's job is stored, then abandoned (504)
  TestServer server(options);
  auto last_params = [&] {
    const auto jobs = server.service().jobs().list(service::kLocalAccount, 1, 0);
    return jobs.empty() ? pipeline::GenerationParams{} : jobs[0].spec.params;
  };
  auto expect_stored = [&](const std::string& what) {
    const auto params = last_params();
    EXPECT_EQ(params.guidance, 2.5) << what;
    EXPECT_EQ(params.true_cfg, 3.0) << what;
    EXPECT_EQ(params.max_sequence_length, 128) << what;
  };
  for (const auto& dialect : flux_dialects()) {
    nlohmann::json body = dialect.base;
    body[dialect.guidance] = 2.5;
    body[dialect.true_cfg] = 3;
    body[dialect.max_sequence_length] = 128;
    const auto reply = server.post(dialect.path, body);
    EXPECT_TRUE(reply.status == 200 || reply.status == 504) << dialect.path << ": " << reply.body;
    expect_stored(dialect.path);
  }
  const auto edit =
      post_edit(server, {{"guidance", "2.5"}, {"true_cfg", "3"}, {"max_sequence_length", "128"}});
  EXPECT_EQ(edit.status, 504) << edit.body;
  expect_stored("/v1/images/edits");
}

TEST(RequestChecks, EveryDialectRefusesFluxFieldsOutOfRange) {
  DD_REQUIRE_FIXTURES();
  TestServer server(without_worker());
  const auto jobs_before = server.service().jobs().count(service::kLocalAccount);
  for (const auto& dialect : flux_dialects()) {
    const std::vector<std::pair<std::string, nlohmann::json>> bad = {
        {dialect.guidance, -0.5},
        {dialect.guidance, 101},
        {dialect.guidance, "high"},
        {dialect.true_cfg, 0.5},
        {dialect.true_cfg, 31},
        {dialect.max_sequence_length, 0},
        {dialect.max_sequence_length, 513},
        {dialect.max_sequence_length, 1.5},
    };
    for (const auto& [name, value] : bad) {
      nlohmann::json body = dialect.base;
      body[name] = value;
      const auto reply = server.post(dialect.path, body);
      EXPECT_EQ(reply.status, 400)
          << dialect.path << " " << name << "=" << value << ": " << reply.body;
      EXPECT_EQ(reply.json["error"]["param"], name) << dialect.path << ": " << reply.body;
    }
  }
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"guidance", "101"}, {"true_cfg", "0"}, {"max_sequence_length", "600"}}) {
    const auto reply = post_edit(server, {{name, value}});
    EXPECT_EQ(reply.status, 400) << name << ": " << reply.body;
    EXPECT_EQ(reply.json["error"]["param"], name) << reply.body;
  }
  EXPECT_EQ(server.service().jobs().count(service::kLocalAccount), jobs_before);
}

// A models dir with the tiny model and a checkpoint that is not one.
std::string models_with_a_broken_one() {
  const fs::path root = fs::temp_directory_path() / ("dd_broken_models_" + service::random_hex(6));
  fs::create_directories(root);
  const fs::path tiny = test::tiny_models_dir();
  fs::create_directory_symlink(tiny / "sd15-tiny", root / "sd15-tiny");
  fs::copy_file(tiny / "sd15-tiny.json", root / "sd15-tiny.json");
  std::ofstream(root / "broken.safetensors") << "this is not a safetensors file";
  return root.string();
}

TEST(RequestChecks, ErrorsNameNoAbsoluteServerPath) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.models_dir = models_with_a_broken_one();
  TestServer server(options);
  const std::string models_dir = fs::absolute(server.models_dir()).string();
  const std::string data_dir = fs::absolute(server.data_dir()).string();
  const auto expect_no_paths = [&](const std::string& what, const std::string& body) {
    EXPECT_EQ(body.find(models_dir), std::string::npos) << what << ": " << body;
    EXPECT_EQ(body.find(data_dir), std::string::npos) << what << ": " << body;
  };
  const auto sync = server.post("/sd", {{"prompt", "x"}, {"model", "broken"}});
  EXPECT_GE(sync.status, 400) << sync.body;
  EXPECT_NE(sync.body.find("broken"), std::string::npos) << sync.body;
  expect_no_paths("/sd", sync.body);

  const auto created = server.post("/v0/api/images", {{"prompt", "x"}, {"model", "broken"}});
  if (created.status == 200) {
    const auto job = server.wait_for_job(created.json["jobId"]);
    EXPECT_EQ(job["status"], "FAILED") << job.dump();
    expect_no_paths("job", job.dump());
  } else {
    expect_no_paths("/v0/api/images", created.body);
  }
  for (const std::string path : {"/v1/models", "/v1/models/broken", "/models", "/ready"})
    expect_no_paths(path, server.get(path).body);
}

// A webhook carries the job's error too: it names files the same way as the answers do.
TEST(RequestChecks, WebhookBodiesNameNoServerPaths) {
  HttpOptions http;
  service::ServiceOptions service;
  service.models_dir = "/srv/diffusiond/models";
  service.data_dir = "/srv/diffusiond/data";
  service::Job job;
  job.id = "j1";
  job.status = service::JobStatus::Failed;
  job.error = "unreadable checkpoint: /srv/diffusiond/models/broken.safetensors: bad header";
  const std::string body = http::webhook_body(http, service)(job);
  EXPECT_EQ(body.find("/srv/diffusiond"), std::string::npos) << body;
  EXPECT_NE(body.find("broken.safetensors"), std::string::npos) << body;
}

}  // namespace
}  // namespace dd::http
