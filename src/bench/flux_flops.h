#pragma once
// FLOPs of one FLUX transformer forward, counted analytically from its config and sequence
// lengths: every weight matrix applied to its tokens (`linear`) and the joint attention's two
// products (`matmul`), 2 per multiply-add as bench/flop_counter.h counts them. Counting by
// running the model would double the cost of a measurement that takes minutes per step on a
// CPU; a test checks the count against the FlopCounter on a narrow model.
#include <cstdint>

#include "bench/flop_counter.h"
#include "models/flux_config.h"
#include "models/t5_config.h"

namespace dd::bench {

// One forward of `batch` rows of `image_tokens` latent patches and `text_tokens` T5 tokens.
FlopCount flux_step_flops(const models::FluxConfig& config, int64_t image_tokens,
                          int64_t text_tokens, int64_t batch = 1);

// The joint attention alone, one layer: 4 * batch * S^2 * heads * head_dim.
double flux_attention_flops(const models::FluxConfig& config, int64_t tokens, int64_t batch = 1);

// One T5 encoder forward of `tokens` tokens: q, k, v, o and the gated feed-forward per layer,
// and attention's two products.
FlopCount t5_encode_flops(const models::T5Config& config, int64_t tokens, int64_t batch = 1);

}  // namespace dd::bench
