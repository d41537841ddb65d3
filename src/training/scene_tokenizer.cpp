#include "training/scene_tokenizer.h"

#include <cstdint>
#include <map>
#include <sstream>

#include "scenes/caption.h"
#include "scenes/scene.h"
#include "text/bpe_training.h"

namespace dd::training {

namespace {

// Enough captions that word frequencies (and so the merge order) follow the training data.
constexpr int kCorpusCaptions = 4000;

std::map<std::string, int64_t> caption_word_counts() {
  std::map<std::string, int64_t> counts;
  for (const auto& word : scenes::caption_vocabulary()) counts[word] = 1;
  for (int i = 0; i < kCorpusCaptions; ++i) {
    std::istringstream words(scenes::caption(scenes::sample_scene(i), i));
    for (std::string word; words >> word;) ++counts[word];
  }
  return counts;
}

}  // namespace

void build_scene_tokenizer(const std::string& dir) {
  text::write_clip_tokenizer_files(text::train_bpe(caption_word_counts()), dir);
}

SceneModelTokens scene_model_tokens(const text::ClipTokenizer& tokenizer) {
  SceneModelTokens tokens;
  tokens.vocab_size = static_cast<int>(tokenizer.vocab_size());
  tokens.bos_id = tokenizer.bos_id();
  tokens.eos_id = tokenizer.eos_id();
  return tokens;
}

}  // namespace dd::training
