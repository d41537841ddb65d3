#pragma once
// AUTOMATIC1111's options, as far as they mean something here: GET /sdapi/v1/options lists
// them, POST sets `sd_model_checkpoint` (the caller's default model, kept per account across
// restarts), and a request's `override_settings` sets them for that request only. An option we
// list may be sent back at its listed value (clients post back the whole object they got);
// another value of it, or an override of an option we do not have, is a 422.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/api.h"

namespace dd::http {

// The model id of an A1111 checkpoint name: a model id or alias, or a title as GET
// /sdapi/v1/sd-models gives it (A1111's "name.safetensors [hash]" form is accepted too). A 400
// naming `param` when no available model has that name.
std::string a1111_model_id(Api& api, const std::string& name, const std::string& param);

// The caller's checkpoint: the model it chose, else the server's default ("" when none).
std::string a1111_checkpoint(Api& api, const std::string& account);

nlohmann::json a1111_options(Api& api, const std::string& account);
void set_a1111_options(Api& api, const std::string& account, const nlohmann::json& options);

// What a request's override_settings asks of it.
struct A1111Overrides {
  std::optional<std::string> model;
  std::optional<int> clip_skip;
  std::optional<std::string> format;
};
A1111Overrides read_overrides(Api& api, const nlohmann::json* override_settings);

// GET|POST /sdapi/v1/options, the lists (sd-models, samplers, schedulers, loras), progress,
// interrupt and png-info (http/a1111_info_api.cpp).
void add_a1111_info_api(httplib::Server& server, Api& api);

}  // namespace dd::http
