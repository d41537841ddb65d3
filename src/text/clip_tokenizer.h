#pragma once
// The CLIP BPE tokenizer of Stable Diffusion's text encoders, matching transformers'
// CLIPTokenizer (with ftfy installed) id for id:
//   1. the raw prompt is split at the literal special tokens (`<|startoftext|>`,
//      `<|endoftext|>`, plus any added with with_special_token), each becoming its id;
//   2. every other piece is cleaned (normalize_for_clip in fix_text.h: ftfy fixes, whitespace
//      runs to one space, lowercase) and split into words by CLIP's regex
//      `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`;
//   3. each word is byte-level BPE encoded (bpe_model.h).
// Instances are immutable after construction and safe to use from several threads.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/bpe_model.h"

namespace dd::text {

class ClipTokenizer {
 public:
  // CLIP's context: BOS + 75 tokens + EOS.
  static constexpr int kContextLength = 77;

  // Throws dd::Error naming the file, e.g. "tokenizer: DIR/vocab.json: cannot open".
  static ClipTokenizer from_files(const std::string& vocab_json, const std::string& merges_txt);
  // DIR/vocab.json + DIR/merges.txt (a diffusers tokenizer/ folder or shared/tokenizers/clip).
  static ClipTokenizer from_dir(const std::string& dir);

  // A copy that also splits `literal` out of raw prompts as a special token (its vocabulary
  // id, no normalisation, no BPE). SDXL's tokenizer_2 in diffusers registers its pad token
  // "!" this way, so `gogh!!!` gives `gogh</w>` 0 0 0 there instead of `gogh</w>` `!!!</w>`:
  //   auto tokenizer_2 = ClipTokenizer::from_dir(dir).with_special_token("!");
  // Throws dd::Error when the literal is empty or not in the vocabulary.
  ClipTokenizer with_special_token(const std::string& literal) const;

  // BPE ids of a prompt (valid UTF-8, else dd::Error), without BOS/EOS, not truncated.
  std::vector<int> encode(const std::string& text) const;
  // [BOS] + encode(text)[:length-2] + [EOS], then pad_id up to `length` (49407 for SD1.x and
  // SDXL's first tokenizer, 0 for SDXL's tokenizer_2).
  std::vector<int64_t> encode_padded(const std::string& text, int pad_id,
                                     int length = kContextLength) const;
  // The same framing for ids already encoded (used for weighted prompts).
  std::vector<int64_t> frame(const std::vector<int>& ids, int pad_id,
                             int length = kContextLength) const;

  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  size_t vocab_size() const { return bpe_->vocab_size(); }
  // Id of a vocabulary entry such as "!" or "<|endoftext|>"; dd::Error when absent.
  int token_id(const std::string& token) const;

 private:
  class WordCache;
  ClipTokenizer(std::shared_ptr<const BpeModel> bpe, std::shared_ptr<WordCache> cache);
  void encode_piece(const std::string& piece, std::vector<int>& ids) const;
  std::vector<int> encode_word(const std::string& word) const;

  std::shared_ptr<const BpeModel> bpe_;
  std::shared_ptr<WordCache> cache_;  // word -> ids, shared by copies (same BPE model)
  std::vector<std::pair<std::string, int>> special_tokens_;  // literal -> id
  int bos_id_ = 0;
  int eos_id_ = 0;
};

}  // namespace dd::text
