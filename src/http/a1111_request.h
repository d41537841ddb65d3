#pragma once
// From an AUTOMATIC1111 txt2img / img2img body to a job: the field table's values, the sampler
// and scheduler as A1111 names them, `<lora:...>` prompt tags, override_settings, the caller's
// default model, and for img2img the picture and mask as A1111 prepares them.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/json_body.h"

namespace dd::http {

struct A1111Request {
  service::NewJob job;
  nlohmann::json parameters;  // A1111's `parameters` answer
  bool send_images = true;
};

A1111Request a1111_request(Api& api, const httplib::Request& request, const JsonBody& body,
                           bool img2img);

// The engine's sampler for A1111's sampler_name (or, without it, sampler_index) and scheduler;
// nullopt when neither names one (the model's default). A 400 listing the choices otherwise.
std::optional<std::string> a1111_sampler(const JsonBody& body);

// The schedulers A1111 clients may name (GET /sdapi/v1/schedulers).
nlohmann::json a1111_schedulers();

}  // namespace dd::http
