#pragma once
// The jobs API's extension inputs (POST /v0/api/images): `loras` by name and weight, and an
// init `image`, `mask` and `strength` for img2img and inpainting. The rows that declare them are
// in jobs_image_fields(); this reads their values into a JobSpec.
#include <string>
#include <vector>

#include "http/api.h"
#include "http/json_body.h"

namespace dd::http {

// `loras`: [{"name": NAME from GET /loras, "weight": -10..10 (default 1)}, ...], at most
// pipeline::limits::kMaxLoras. Names stay unresolved: the service resolves them as it does for
// every dialect (an unknown name is a 400 naming `loras`).
std::vector<service::LoraRef> jobs_loras(const JsonBody& body);

// The picture files a request stored under DATA_DIR/inputs. They are removed again when the
// request fails before its job is queued, so a refused request leaves nothing behind; keep()
// once the job owns them.
class StoredInputs {
 public:
  StoredInputs() = default;
  StoredInputs(const StoredInputs&) = delete;
  StoredInputs& operator=(const StoredInputs&) = delete;
  ~StoredInputs();
  void add(const std::string& path) { paths_.push_back(path); }
  void keep() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

// `image` (base64 PNG, JPEG or WebP, or a data: URL), `mask` (the same, white = repaint, the
// image's size) and `strength`: stored and set in `spec` (init_image_path, mask_path; strength
// defaults to 1 with a mask). The job runs at the image's size: a `width` or `height` that differs
// from it is refused, as is a side over the jobs API's 1024. Each problem is a 400 naming its
// field.
void read_jobs_image_inputs(Api& api, const JsonBody& body, service::JobSpec& spec,
                            StoredInputs& stored);

}  // namespace dd::http
