// The jobs API (seed 000, API.md section 1): POST /v0/api/images queues a job and answers at
// once; GET /v0/api/jobs/:id shows its status history and output files; characters register a
// LoRA that `<character-id>` in a prompt applies. Extensions: `loras` by name, and `image` /
// `mask` / `strength` for img2img and inpainting (http/jobs_inputs.h).
#include "http/api.h"
#include "http/dialect_fields.h"
#include "http/jobs_inputs.h"
#include "http/jobs_json.h"
#include "http/json_body.h"
#include "io/base64.h"

namespace dd::http {

namespace {

constexpr int kMaxWebhookUrl = 2000;
constexpr int kMaxName = 200;

service::JobSpec jobs_spec(Api& api, const JsonBody& body, const std::string& account,
                           StoredInputs& stored) {
  service::JobSpec spec;
  read_fields(body, jobs_image_fields(), spec);
  auto requested_loras = jobs_loras(body);
  // `<character-id>` references: the character's trigger phrase replaces the reference and its
  // LoRA is applied.
  service::ConditionedPrompt conditioned;
  try {
    conditioned = service::condition_prompt(*spec.params.prompt, api.service.characters(), account);
  } catch (const Error& e) {
    throw bad_parameter("prompt", e.what());  // an unknown character id, named in the message
  }
  spec.conditioned_prompt = conditioned.text;
  // The characters' LoRAs first, then those asked for by name; the service resolves the names.
  spec.loras = conditioned.loras;
  spec.loras.insert(spec.loras.end(), requested_loras.begin(), requested_loras.end());
  read_jobs_image_inputs(api, body, spec, stored);
  return spec;
}

void create_image_job(Api& api, const httplib::Request& request, httplib::Response& response) {
  const JsonBody body(request.body);
  const std::string account = api.account(request);
  service::NewJob job;
  job.account_id = account;
  job.dialect = "jobs";
  StoredInputs stored;  // removed again if the job is refused
  job.spec = jobs_spec(api, body, account, stored);
  job.webhook_url = body.string("webhookUrl", kMaxWebhookUrl).value_or("");
  job.webhook_id = body.string("webhookId", kMaxName).value_or("");
  const auto created = api.service.submit(job);
  stored.keep();
  send_json(response,
            {{"success", true}, {"jobId", created.id}, {"transactionId", created.transaction_id}});
}

service::Job job_of(Api& api, const httplib::Request& request, const std::string& account) {
  auto job = api.service.jobs().get(request.matches[1], account);
  if (!job) throw not_found("job");
  return *job;
}

nlohmann::json character_json(const service::Character& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"class", c.class_name},
          {"triggerWord", c.trigger_word},
          {"created", c.created_ms}};
}

void create_character(Api& api, const httplib::Request& request, httplib::Response& response) {
  const JsonBody body(request.body);
  const std::string account = api.account(request);
  const std::string name = body.required_string("name", kMaxName);
  const std::string class_name = body.required_string("class", kMaxName);
  const std::string trigger = body.required_string("triggerWord", kMaxName);
  std::string lora_bytes;
  try {
    const auto bytes =
        io::base64_decode(body.required_string("lora", api.options.max_body_bytes), "lora");
    lora_bytes.assign(bytes.begin(), bytes.end());
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw bad_parameter("lora", e.what());
  }
  try {
    const auto character =
        api.service.characters().create(account, name, class_name, trigger, lora_bytes);
    send_json(response, {{"success", true}, {"character", character_json(character)}});
  } catch (const InvalidParameter&) {
    throw;
  } catch (const Error& e) {
    throw bad_parameter("lora", e.what());
  }
}

}  // namespace

const Fields& jobs_image_fields() {
  static const Fields fields = [] {
    Fields f = {
        prompt_field("prompt"),
        negative_prompt_field("negativePrompt"),
        side_field("width"),
        side_field("height"),
        samples_field("samples"),
        seed_field("seed"),
        cfg_field("guidanceScale", 1, 20),
        {.name = "webhookUrl",
         .type = FieldType::String,
         .target = {},
         .doc = "Called with the job object when the job ends (signed, retried)",
         .max = kMaxWebhookUrl},
        {.name = "webhookId",
         .type = FieldType::String,
         .target = {},
         .doc = "Sent back with the webhook",
         .max = kMaxName},
        model_field("model"),
        steps_field("steps", 150),
        sampler_field("sampler"),
        clip_skip_field("clipSkip"),
        {.name = "loras",
         .type = FieldType::Array,
         .target = {},
         .doc = "LoRAs to apply: [{\"name\": a name from GET /loras, \"weight\": -10..10, "
                "default 1}], besides those of <character-id> references",
         .max = 0},
        {.name = "image",
         .type = FieldType::String,
         .target = {},
         .doc = "img2img: the starting picture, base64 PNG, JPEG or WebP or a data: URL, 64..1024 "
                "pixels a side, multiples of 8; the job runs at its size",
         .max = -1},
        {.name = "mask",
         .type = FieldType::String,
         .target = {},
         .doc = "Inpainting: base64 mask of the image's size, white = repaint (strength then "
                "defaults to 1); needs image",
         .max = -1},
        strength_field("strength"),
    };
    add_micro_fields(f, FieldCase::Camel);
    add_flux_fields(f, FieldCase::Camel);
    return f;
  }();
  return fields;
}

const Fields& jobs_character_fields() {
  static const Fields fields = {
      {.name = "name",
       .type = FieldType::String,
       .target = {},
       .doc = "Character name",
       .max = kMaxName,
       .required = true},
      {.name = "class",
       .type = FieldType::String,
       .target = {},
       .doc = "Its class, e.g. person",
       .max = kMaxName,
       .required = true},
      {.name = "triggerWord",
       .type = FieldType::String,
       .target = {},
       .doc = "The phrase that replaces <character-id> in prompts",
       .max = kMaxName,
       .required = true},
      {.name = "lora",
       .type = FieldType::String,
       .target = {},
       .doc = "The LoRA, a base64 .safetensors file",
       .max = -1,
       .required = true},
  };
  return fields;
}

void add_jobs_api(httplib::Server& http, Api& api) {
  Routes server(http, api);
  server.Post("/v0/api/images",
              guarded([&api](const auto& req, auto& res) { create_image_job(api, req, res); }));
  server.Get(R"(/v0/api/jobs/([^/]+))", guarded([&api](const auto& req, auto& res) {
               const auto account = api.account(req);
               const auto job = job_of(api, req, account);
               send_json(res, {{"success", true},
                               {"job", jobs_api_job(job, api.base_url(req),
                                                    api.service.events().progress(job.id))}});
             }));
  server.Post(
      R"(/v0/api/jobs/([^/]+)/cancel)", guarded([&api](const auto& req, auto& res) {
        const auto account = api.account(req);
        const auto job = job_of(api, req, account);
        if (service::is_final(job.status))
          throw ApiError(
              409, "conflict",
              std::string("the job has already ended (") + service::status_name(job.status) + ")");
        api.service.jobs().cancel(job.id, account);
        send_json(res, {{"success", true},
                        {"job", jobs_api_job(job_of(api, req, account), api.base_url(req))}});
      }));
  server.Post("/v0/api/characters",
              guarded([&api](const auto& req, auto& res) { create_character(api, req, res); }));
  server.Get("/v0/api/characters", guarded([&api](const auto& req, auto& res) {
               nlohmann::json list = nlohmann::json::array();
               for (const auto& c : api.service.characters().list(api.account(req)))
                 list.push_back(character_json(c));
               send_json(res, {{"success", true}, {"characters", list}});
             }));
  server.Get(R"(/v0/api/characters/([^/]+))", guarded([&api](const auto& req, auto& res) {
               auto c = api.service.characters().get(req.matches[1], api.account(req));
               if (!c) throw not_found("character");
               send_json(res, {{"success", true}, {"character", character_json(*c)}});
             }));
  server.Delete(R"(/v0/api/characters/([^/]+))", guarded([&api](const auto& req, auto& res) {
                  if (!api.service.characters().remove(req.matches[1], api.account(req)))
                    throw not_found("character");
                  send_json(res, {{"success", true}});
                }));
}

}  // namespace dd::http
