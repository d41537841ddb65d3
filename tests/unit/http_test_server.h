#pragma once
// A real diffusiond server on a loopback port for HTTP tests: a temporary data dir, a models dir
// with the tiny fixture models (sd15-tiny as a diffusers folder; sd15-tiny-single as a single
// file with its architecture; sdxl-tiny as a diffusers folder aliased sdxl-base and
// stabilityai/stable-diffusion-xl-base-1.0; sdxl-lightning-tiny, the fast model, as a single
// file; loras/sd15-tiny-lora), the worker running.
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/server.h"
#include "service/service.h"

namespace dd::test {

struct TestServerOptions {
  std::string data_dir = "";                // "" = a fresh temporary folder
  std::string models_dir = "";              // "" = tiny_models_dir()
  std::string default_model = "sd15-tiny";  // "" = the registry's own choice
  int max_queue = 100;
  bool start_worker = true;
  bool allow_private_webhooks = true;
  int64_t webhook_base_delay_ms = 50;    // fast retries for tests
  int sync_timeout_ms = 10 * 60 * 1000;  // how long synchronous endpoints wait (then 504)
  std::vector<std::string> cors_origins = {};
  size_t max_connections_per_client = 32;
  int head_timeout_s = 10;
  int preview_every = 0;  // steps between a running job's previews (0: about four per job)
};

class TestServer {
 public:
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();

  httplib::Client client() const;
  int port() const { return port_; }
  std::string base_url() const;
  service::Service& service() { return *service_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& models_dir() const { return models_dir_; }

  // JSON helpers: status and parsed body (null when the body is not JSON).
  struct Reply {
    int status = 0;
    nlohmann::json json;
    std::string body;
    std::string content_type;
    httplib::Headers headers;
  };
  Reply post(const std::string& path, const nlohmann::json& body,
             const std::string& key = "") const;
  Reply post_raw(const std::string& path, const std::string& body, const std::string& content_type,
                 const std::string& key = "") const;
  Reply get(const std::string& path, const std::string& key = "") const;
  Reply del(const std::string& path, const std::string& key = "") const;
  // POST /v0/api/characters with the tiny fixture LoRA.
  Reply add_tiny_character(const std::string& name, const std::string& class_name,
                           const std::string& trigger_word, const std::string& key = "") const;
  // Polls GET /v0/api/jobs/:id until the job ends; its `job` object (or the error reply's body).
  nlohmann::json wait_for_job(const std::string& id, const std::string& key = "",
                              int timeout_s = 60) const;

 private:
  std::string data_dir_;
  std::string models_dir_;
  std::unique_ptr<service::Service> service_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
};

// A models dir with the tiny fixtures (created once per process).
std::string tiny_models_dir();

}  // namespace dd::test
