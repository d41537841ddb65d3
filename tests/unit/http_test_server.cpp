#include "http_test_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/base64.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::test {

namespace fs = std::filesystem;

std::string tiny_models_dir() {
  static const std::string dir = [] {
    const fs::path root = fs::temp_directory_path() / ("dd_models_" + service::random_hex(6));
    const fs::path models = fixtures_dir() + "/models";
    fs::create_directories(root / "loras");
    fs::create_directory_symlink(models / "sd15-tiny", root / "sd15-tiny");
    fs::create_symlink(models / "sd15-tiny.safetensors", root / "sd15-tiny-single.safetensors");
    fs::create_symlink(models / "sd15-tiny.arch.json", root / "sd15-tiny-single.arch.json");
    fs::create_directory_symlink(models / "sd15-tiny" / "tokenizer",
                                 root / "sd15-tiny-single-tokenizer");
    fs::create_symlink(models / "lora" / "sd15-tiny-lora.safetensors",
                       root / "loras" / "sd15-tiny-lora.safetensors");
    std::ofstream(root / "sd15-tiny.json") << R"({
      "defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}
    })";
    // SDXL: the diffusers folder answers to the seeds' SDXL names; the single file, named like
    // a Lightning release, is the fast model (4 trailing Euler steps, no CFG) and so the
    // image-object API's default.
    fs::create_directory_symlink(models / "sdxl-tiny", root / "sdxl-tiny");
    fs::create_symlink(models / "sdxl-tiny.safetensors", root / "sdxl-lightning-tiny.safetensors");
    fs::create_symlink(models / "sdxl-tiny.arch.json", root / "sdxl-lightning-tiny.arch.json");
    std::ofstream(root / "sdxl-tiny.json") << R"({
      "aliases": ["sdxl-base", "stabilityai/stable-diffusion-xl-base-1.0"],
      "defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}
    })";
    std::ofstream(root / "sdxl-lightning-tiny.json") << R"({
      "config": "sdxl-lightning-tiny.arch.json",
      "tokenizer": "sdxl-tiny",
      "defaults": {"width": 64, "height": 64}
    })";
    std::ofstream(root / "sd15-tiny-single.json") << R"({
      "config": "sd15-tiny-single.arch.json",
      "tokenizer": "sd15-tiny-single-tokenizer",
      "defaults": {"steps": 2, "width": 64, "height": 64}
    })";
    return root.string();
  }();
  return dir;
}

TestServer::TestServer(TestServerOptions options) {
  data_dir_ = options.data_dir.empty()
                  ? (fs::temp_directory_path() / ("dd_data_" + service::random_hex(6))).string()
                  : options.data_dir;
  models_dir_ = options.models_dir.empty() ? tiny_models_dir() : options.models_dir;
  service::ServiceOptions service_options;
  service_options.data_dir = data_dir_;
  service_options.models_dir = models_dir_;
  service_options.default_model = options.default_model;
  service_options.max_queue = options.max_queue;
  service_options.preview_every = options.preview_every;
  service_options.allow_private_webhooks = options.allow_private_webhooks;
  service_options.webhooks.base_delay_ms = options.webhook_base_delay_ms;
  http::HttpOptions http_options;
  http_options.port = 0;
  http_options.max_body_bytes = size_t(2) << 20;
  http_options.sync_timeout_ms = options.sync_timeout_ms;
  http_options.cors_origins = options.cors_origins;
  http_options.max_connections_per_client = options.max_connections_per_client;
  http_options.head_timeout_s = options.head_timeout_s;
  service_ = std::make_unique<service::Service>(service_options,
                                                http::webhook_body(http_options, service_options));
  server_ = std::make_unique<http::HttpServer>(*service_, http_options);
  if (options.start_worker) service_->start();
  port_ = server_->start_background();
}

TestServer::~TestServer() {
  server_->stop();
  service_->stop();
}

httplib::Client TestServer::client() const {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(120, 0);
  return client;
}

std::string TestServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

namespace {

TestServer::Reply to_reply(const httplib::Result& result) {
  TestServer::Reply reply;
  if (!result) return reply;
  reply.status = result->status;
  reply.body = result->body;
  reply.headers = result->headers;
  reply.content_type = result->get_header_value("Content-Type");
  reply.json = nlohmann::json::parse(result->body, nullptr, false);
  if (reply.json.is_discarded()) reply.json = nullptr;
  return reply;
}

httplib::Headers auth(const std::string& key) {
  if (key.empty()) return {};
  return {{"Authorization", "Bearer " + key}};
}

}  // namespace

TestServer::Reply TestServer::post(const std::string& path, const nlohmann::json& body,
                                   const std::string& key) const {
  return post_raw(path, body.dump(), "application/json", key);
}

TestServer::Reply TestServer::post_raw(const std::string& path, const std::string& body,
                                       const std::string& content_type,
                                       const std::string& key) const {
  auto c = client();
  return to_reply(c.Post(path.c_str(), auth(key), body, content_type.c_str()));
}

TestServer::Reply TestServer::add_tiny_character(const std::string& name,
                                                 const std::string& class_name,
                                                 const std::string& trigger_word,
                                                 const std::string& key) const {
  std::ifstream in(test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors"),
                   std::ios::binary);
  const std::string lora((std::istreambuf_iterator<char>(in)), {});
  return post("/v0/api/characters",
              {{"name", name},
               {"class", class_name},
               {"triggerWord", trigger_word},
               {"lora", io::base64_encode(lora)}},
              key);
}

TestServer::Reply TestServer::get(const std::string& path, const std::string& key) const {
  auto c = client();
  return to_reply(c.Get(path.c_str(), auth(key)));
}

TestServer::Reply TestServer::del(const std::string& path, const std::string& key) const {
  auto c = client();
  return to_reply(c.Delete(path.c_str(), auth(key)));
}

nlohmann::json TestServer::wait_for_job(const std::string& id, const std::string& key,
                                        int timeout_s) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto reply = get("/v0/api/jobs/" + id, key);
    if (reply.status != 200) return reply.json;
    const std::string status = reply.json["job"]["status"];
    if (status == "SUCCESS" || status == "FAILED" || status == "CANCELLED")
      return reply.json["job"];
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " did not end";
  return nullptr;
}

}  // namespace dd::test
