#pragma once
// What the OpenAI Images API tests share (http_openai_api_test.cpp: generations, models and
// their errors; http_openai_edits_test.cpp: edits): one server with the tiny models per test
// suite, an API key, and checks of OpenAI's reply shapes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "http_test_server.h"
#include "io/image.h"
#include "test_support.h"

namespace dd::test {

std::set<std::string> keys_of(const nlohmann::json& object);
// An RGB gradient (red along x, green along y).
io::Image gradient(int width, int height);
std::string png_of(const io::Image& image);
io::Image decode(const std::string& bytes);

class OpenAiApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (fixtures_dir().empty()) return;
    server_ = new TestServer();
    key_ = server_->service().accounts().create_key("openai-user").key;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { DD_REQUIRE_FIXTURES(); }

  static TestServer::Reply edit(const httplib::MultipartFormDataItems& items,
                                const std::string& key = key_) {
    auto client = server_->client();
    const auto result =
        client.Post("/v1/images/edits", {{"Authorization", "Bearer " + key}}, items);
    TestServer::Reply reply;
    if (!result) return reply;
    reply.status = result->status;
    reply.body = result->body;
    reply.content_type = result->get_header_value("Content-Type");
    reply.json = nlohmann::json::parse(result->body, nullptr, false);
    return reply;
  }

  static TestServer* server_;
  static std::string key_;
};

// An error in OpenAI's shape: {"error": {message, type, param, code}} naming `param` (null when
// empty).
void expect_openai_error(const TestServer::Reply& reply, int status, const std::string& param,
                         const std::string& type = "invalid_request_error");

}  // namespace dd::test
