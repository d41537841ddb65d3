#pragma once
// The T5 tokenizer of FLUX.1's second text encoder (diffusers' tokenizer_2), matching
// transformers' slow T5Tokenizer with `legacy: true` id for id:
//   1. the raw prompt is split at the literal added tokens (`<pad>`, `</s>`, `<unk>`,
//      `<extra_id_N>`), each becoming its id; a token flagged lstrip / rstrip (the sentinels)
//      also eats the whitespace before / after it;
//   2. every other piece is encoded on its own by SentencePiece (spiece.model: its normaliser,
//      dummy prefix and whitespace folding are in the model file), unknown runs -> `<unk>`;
//   3. EOS (`</s>`) is appended unless the ids already end with it (transformers'
//      _add_eos_if_not_present).
// The sentinels `<extra_id_N>` follow the SentencePiece pieces counted down: id =
// (pieces + extra_ids - 1) - N (32099 - N for the real T5 vocabulary).
// Instances are immutable after construction and safe to use from several threads; copies
// share the loaded model.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dd::text {

class T5Tokenizer {
 public:
  // A tokenizer folder (spiece.model, and tokenizer_config.json when present) or the
  // spiece.model file itself (a tokenizer_config.json beside it is read too). Without
  // tokenizer_config.json: T5's defaults (`extra_ids` 100, sentinels that strip whitespace).
  // Throws dd::Error naming the file when spiece.model is missing, unreadable or corrupt, when
  // tokenizer_config.json does not parse, or when it asks for `legacy: false`.
  explicit T5Tokenizer(const std::string& dir_or_spiece_model);

  // Ids of a prompt (valid UTF-8, else dd::Error) with EOS, neither truncated nor padded; its
  // size is the untruncated token count.
  std::vector<int64_t> encode(const std::string& text) const;
  // Exactly `max_length` ids (>= 1, else dd::Error): the pieces truncated to max_length - 1,
  // then EOS (unless they already end with it), then pad_id() up to max_length. This is
  // diffusers' `tokenizer_2(prompt, padding="max_length", max_length=L, truncation=True)`.
  std::vector<int64_t> encode_padded(const std::string& text, int max_length) const;

  // Ids the tokenizer can produce: SentencePiece pieces + sentinels (356 for the tiny
  // fixture model, 32100 for FLUX's T5). The text encoder's embedding may be larger (32128).
  int vocab_size() const;
  int pad_id() const;
  int eos_id() const;
  int unk_id() const;

 private:
  struct Impl;  // SentencePiece stays behind the .cpp
  std::vector<int64_t> pieces(const std::string& text) const;  // without EOS
  std::vector<int64_t> with_eos(std::vector<int64_t> ids) const;

  std::shared_ptr<const Impl> impl_;
};

}  // namespace dd::text
