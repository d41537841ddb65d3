#pragma once
// Training a byte-level BPE vocabulary in CLIP's format, so a small text encoder can have its
// own vocabulary (e.g. over the scene captions) instead of CLIP's 49408 tokens. Words start as
// byte symbols (bpe_model.h), the last one carrying `</w>`; the most frequent adjacent pair is
// merged everywhere, again and again, until every word is a single token. The written folder
// loads with ClipTokenizer::from_dir and with transformers' CLIPTokenizer.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dd::text {

struct BpeVocabulary {
  // Id order, as CLIP's: the 256 byte symbols, the same with `</w>`, the merged tokens in the
  // order they were made, then `<|startoftext|>` and `<|endoftext|>`.
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
};

// `word_counts`: word -> how often it occurs in the corpus. Words are raw UTF-8 as ClipTokenizer
// splits cleaned text (lower case; letters, a digit or punctuation runs), e.g. the words of a
// caption. Equally frequent pairs are taken in lexicographic (left, right) order, so the result
// depends only on the counts. Each merge rescans every word: meant for thousands of distinct
// words, not for a web-scale corpus. Throws dd::Error for an empty word, a count below 1, or
// when nothing is left to merge (no word of two or more bytes: CLIP's files need a merge).
BpeVocabulary train_bpe(const std::map<std::string, int64_t>& word_counts);

// Writes a diffusers tokenizer/ folder into `dir` (created when missing): vocab.json,
// merges.txt, special_tokens_map.json and tokenizer_config.json (pad = `<|endoftext|>`, 77
// tokens). Each file is written beside its final name and renamed into place, so a reader never
// sees half a file. Throws dd::Error naming the file on failure, or when the vocabulary repeats
// a token or lacks `<|startoftext|>` / `<|endoftext|>`.
void write_clip_tokenizer_files(const BpeVocabulary& vocabulary, const std::string& dir);

}  // namespace dd::text
