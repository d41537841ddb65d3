#include "http/a1111_request.h"

#include <algorithm>
#include <cctype>

#include "http/a1111_fields.h"
#include "http/a1111_inpaint.h"
#include "http/a1111_lora_tags.h"
#include "http/a1111_options.h"
#include "http/dialect_fields.h"
#include "pipeline/sampler_names.h"

namespace dd::http {

namespace {

constexpr size_t kMaxSamplerText = 100;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A1111's schedulers that this server has: the sampler's own sigmas, or Karras sigmas where the
// sampler has a Karras form.
struct Scheduler {
  const char* name;
  const char* label;
  double default_rho;
};
constexpr Scheduler kSchedulers[] = {{"automatic", "Automatic", -1}, {"karras", "Karras", 7}};

std::string scheduler_names() {
  std::string names;
  for (const auto& scheduler : kSchedulers)
    names += (names.empty() ? "" : ", ") + std::string(scheduler.name);
  return names;
}

// The Karras form of a sampler: the catalogue row "<display name> Karras", or the row itself.
const sampling::SamplerEntry* karras_form(const sampling::SamplerEntry& row) {
  if (row.karras == sampling::KarrasOption::On) return &row;
  return sampling::find_sampler(row.display_name + " Karras");
}

void check_samples(const JsonBody& body, service::JobSpec& spec) {
  const auto batch = body.integer("batch_size", 1, pipeline::limits::kMaxSamples).value_or(1);
  const auto iterations = body.integer("n_iter", 1, pipeline::limits::kMaxSamples).value_or(1);
  if (batch * iterations > pipeline::limits::kMaxSamples)
    throw bad_parameter("batch_size", "batch_size x n_iter must be at most " +
                                          std::to_string(pipeline::limits::kMaxSamples));
  spec.params.samples = static_cast<int>(batch * iterations);
}

}  // namespace

std::optional<std::string> a1111_sampler(const JsonBody& body) {
  std::string param = "sampler_name";
  auto name = body.string(param, kMaxSamplerText);
  if (!name || name->empty()) {
    param = "sampler_index";
    name = body.string(param, kMaxSamplerText);
  }
  const std::string scheduler = lower(body.string("scheduler", kMaxSamplerText).value_or(""));
  const bool karras = scheduler == "karras";
  if (!scheduler.empty() && scheduler != "automatic" && !karras)
    throw bad_parameter("scheduler", "unknown or unsupported scheduler '" + scheduler +
                                         "' (choose from " + scheduler_names() + ")");
  if (!name || name->empty()) {
    if (karras)
      throw bad_parameter("scheduler", "scheduler karras needs a sampler_name (DPM++ 2M)");
    return std::nullopt;
  }
  const auto* row = sampling::find_sampler(*name);
  if (!row)
    throw bad_parameter(param, "unknown sampler '" + *name + "' (choose from " +
                                   pipeline::sampler_choices_text() + ")");
  if (!karras) return row->name;
  const auto* karras_row = karras_form(*row);
  if (!karras_row)
    throw bad_parameter("scheduler", "scheduler karras is not available with sampler '" +
                                         row->display_name + "' (use DPM++ 2M, or automatic)");
  return karras_row->name;
}

nlohmann::json a1111_schedulers() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& scheduler : kSchedulers)
    list.push_back({{"name", scheduler.name},
                    {"label", scheduler.label},
                    {"aliases", nullptr},
                    {"default_rho", scheduler.default_rho},
                    {"need_inner_model", false}});
  return list;
}

A1111Request a1111_request(Api& api, const httplib::Request& request, const JsonBody& body,
                           bool img2img) {
  const auto& rows = img2img ? a1111_img2img_rows() : a1111_txt2img_rows();
  A1111Request out;
  auto& job = out.job;
  auto& spec = job.spec;
  job.account_id = api.account(request);
  job.dialect = "a1111";
  read_fields(body, img2img ? a1111_img2img_fields() : a1111_txt2img_fields(), spec);
  refuse_unsupported(body, rows);
  check_samples(body, spec);
  spec.params.sampler = a1111_sampler(body);

  const auto overrides = read_overrides(api, body.object("override_settings"));
  if (overrides.model)
    spec.model = *overrides.model;
  else if (api.service.accounts().default_model(job.account_id))
    spec.model = a1111_checkpoint(api, job.account_id);
  if (overrides.clip_skip) spec.params.clip_skip = overrides.clip_skip;
  if (overrides.format) spec.format = *overrides.format;

  auto tagged = take_lora_tags(spec.params.prompt.value_or(""),
                               !body.boolean("disable_extra_networks").value_or(false), "prompt");
  spec.params.prompt = std::move(tagged.prompt);
  spec.loras = std::move(tagged.loras);

  if (img2img) {
    const auto inputs = a1111_img2img_inputs(api, body, spec.params.width, spec.params.height);
    spec.params.width = inputs.width;
    spec.params.height = inputs.height;
    spec.init_image_path = inputs.image_path;
    spec.mask_path = inputs.mask_path;
  }
  out.parameters = a1111_parameters(body, rows);
  if (img2img) {  // A1111 leaves the pictures out of its answer (include_init_images is off)
    out.parameters["init_images"] = nullptr;
    out.parameters["mask"] = nullptr;
  }
  out.send_images = body.boolean("send_images").value_or(true);
  return out;
}

}  // namespace dd::http
