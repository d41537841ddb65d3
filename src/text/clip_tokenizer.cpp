#include "text/clip_tokenizer.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "text/fix_text.h"
#include "text/unicode.h"
#include "util/error.h"

namespace dd::text {

namespace {

const char* const kStartOfText = "<|startoftext|>";
const char* const kEndOfText = "<|endoftext|>";

bool starts_with_at(const std::u32string& text, size_t at, const std::u32string& prefix) {
  return text.compare(at, prefix.size(), prefix) == 0;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at `at`, or 0.
size_t contraction_length(const std::u32string& text, size_t at) {
  static const std::u32string contractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  for (const auto& contraction : contractions)
    if (starts_with_at(text, at, contraction)) return contraction.size();
  return 0;
}

// CLIP's word regex, applied to cleaned text (see clip_tokenizer.h); whitespace separates.
std::vector<std::string> split_words(const std::u32string& text) {
  static const std::u32string specials[] = {U"<|startoftext|>", U"<|endoftext|>"};
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    for (const auto& special : specials)
      if (end == i && starts_with_at(text, i, special)) end = i + special.size();
    if (end == i) end = i + contraction_length(text, i);
    if (end == i && is_letter(text[i])) {
      while (end < text.size() && is_letter(text[end])) ++end;
    } else if (end == i && is_number(text[i])) {
      end = i + 1;
    } else if (end == i && !is_unicode_space(text[i])) {
      while (end < text.size() && !is_unicode_space(text[end]) && !is_letter(text[end]) &&
             !is_number(text[end]))
        ++end;
    }
    if (end == i) {  // whitespace between words
      ++i;
      continue;
    }
    words.push_back(utf32_to_utf8(text.substr(i, end - i)));
    i = end;
  }
  return words;
}

}  // namespace

// Per-word BPE results; bounded so that a stream of unique prompts cannot grow it forever.
class ClipTokenizer::WordCache {
 public:
  static constexpr size_t kMaxWords = 100000;

  bool lookup(const std::string& word, std::vector<int>& ids) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = words_.find(word);
    if (it == words_.end()) return false;
    ids = it->second;
    return true;
  }
  void store(const std::string& word, const std::vector<int>& ids) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (words_.size() >= kMaxWords) words_.clear();
    words_.emplace(word, ids);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<int>> words_;
};

ClipTokenizer::ClipTokenizer(std::shared_ptr<const BpeModel> bpe, std::shared_ptr<WordCache> cache)
    : bpe_(std::move(bpe)), cache_(std::move(cache)) {
  bos_id_ = token_id(kStartOfText);
  eos_id_ = token_id(kEndOfText);
  special_tokens_ = {{kStartOfText, bos_id_}, {kEndOfText, eos_id_}};
}

ClipTokenizer ClipTokenizer::from_files(const std::string& vocab_json,
                                        const std::string& merges_txt) {
  auto bpe = std::make_shared<const BpeModel>(BpeModel::load(vocab_json, merges_txt));
  if (!bpe->find(kStartOfText) || !bpe->find(kEndOfText))
    throw Error("tokenizer: " + vocab_json + ": missing " + kStartOfText + " or " + kEndOfText);
  return ClipTokenizer(std::move(bpe), std::make_shared<WordCache>());
}

ClipTokenizer ClipTokenizer::from_dir(const std::string& dir) {
  return from_files(dir + "/vocab.json", dir + "/merges.txt");
}

ClipTokenizer ClipTokenizer::with_special_token(const std::string& literal) const {
  if (literal.empty()) throw Error("tokenizer: a special token must not be empty");
  ClipTokenizer copy = *this;
  copy.special_tokens_.emplace_back(literal, token_id(literal));
  return copy;
}

int ClipTokenizer::token_id(const std::string& token) const {
  const auto id = bpe_->find(token);
  if (!id) throw Error("tokenizer: '" + token + "' is not in the vocabulary");
  return *id;
}

std::vector<int> ClipTokenizer::encode(const std::string& text) const {
  utf8_to_utf32(text, "tokenizer: prompt");  // validates before any splitting
  std::vector<int> ids;
  size_t piece_start = 0;
  size_t i = 0;
  // Split at the special literals first, as transformers does on the raw text; at one
  // position the longest literal wins.
  while (i < text.size()) {
    const std::pair<std::string, int>* match = nullptr;
    for (const auto& special : special_tokens_)
      if (text.compare(i, special.first.size(), special.first) == 0 &&
          (!match || special.first.size() > match->first.size()))
        match = &special;
    if (!match) {
      ++i;
      continue;
    }
    encode_piece(text.substr(piece_start, i - piece_start), ids);
    ids.push_back(match->second);
    i += match->first.size();
    piece_start = i;
  }
  encode_piece(text.substr(piece_start), ids);
  return ids;
}

void ClipTokenizer::encode_piece(const std::string& piece, std::vector<int>& ids) const {
  if (piece.empty()) return;
  const std::u32string cleaned = normalize_for_clip(utf8_to_utf32(piece, "tokenizer: prompt"));
  for (const std::string& word : split_words(cleaned)) {
    // Cleaning can produce the special strings (e.g. from "&lt;|endoftext|&gt;"); CLIP's BPE
    // cache maps them to their ids.
    if (word == kStartOfText) {
      ids.push_back(bos_id_);
    } else if (word == kEndOfText) {
      ids.push_back(eos_id_);
    } else {
      const std::vector<int> word_ids = encode_word(word);
      ids.insert(ids.end(), word_ids.begin(), word_ids.end());
    }
  }
}

std::vector<int> ClipTokenizer::encode_word(const std::string& word) const {
  std::vector<int> ids;
  if (cache_->lookup(word, ids)) return ids;
  ids = bpe_->encode_word(word);
  cache_->store(word, ids);
  return ids;
}

std::vector<int64_t> ClipTokenizer::encode_padded(const std::string& text, int pad_id,
                                                  int length) const {
  return frame(encode(text), pad_id, length);
}

std::vector<int64_t> ClipTokenizer::frame(const std::vector<int>& ids, int pad_id,
                                          int length) const {
  if (length < 2)
    throw Error("tokenizer: padded length must be at least 2, got " + std::to_string(length));
  if (pad_id < 0 || static_cast<size_t>(pad_id) >= vocab_size())
    throw Error("tokenizer: pad id " + std::to_string(pad_id) + " is outside the vocabulary");
  std::vector<int64_t> framed;
  framed.reserve(length);
  framed.push_back(bos_id_);
  const size_t kept = std::min(ids.size(), static_cast<size_t>(length - 2));
  framed.insert(framed.end(), ids.begin(), ids.begin() + kept);
  framed.push_back(eos_id_);
  framed.resize(length, pad_id);
  return framed;
}

}  // namespace dd::text
