#include "text/bpe_training.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "text/bpe_model.h"
#include "util/error.h"

namespace dd::text {
namespace {

const char* const kStartOfText = "<|startoftext|>";
const char* const kEndOfText = "<|endoftext|>";

// The vocabulary while it grows: tokens by id and ids by token. Two different merges can spell
// the same token ("ab" + "c</w>", "a" + "bc</w>"); it keeps one id, as BpeModel looks tokens
// up by their text.
class TokenTable {
 public:
  int add(const std::string& token) {
    auto [it, inserted] = ids_.emplace(token, static_cast<int>(tokens_.size()));
    if (inserted) tokens_.push_back(token);
    return it->second;
  }
  const std::string& token(int id) const { return tokens_[id]; }
  std::vector<std::string> release() { return std::move(tokens_); }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> ids_;
};

// CLIP's first 512 ids: the byte symbols in the order of GPT-2's bytes_to_unicode dict, which
// is code point order (printable bytes as themselves, the rest from 256 up); UTF-8 strings sort
// in code point order. Then the same symbols with `</w>`.
void add_byte_symbols(TokenTable& table) {
  const auto by_byte = byte_symbols();
  std::vector<std::string> symbols(by_byte.begin(), by_byte.end());
  std::sort(symbols.begin(), symbols.end());
  for (const auto& symbol : symbols) table.add(symbol);
  for (const auto& symbol : symbols) table.add(symbol + kEndOfWord);
}

struct Word {
  std::vector<int> symbols;  // token ids
  int64_t count;
};

Word byte_word(const std::string& text, int64_t count, TokenTable& table) {
  const auto symbols = byte_symbols();
  Word word{{}, count};
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string& symbol = symbols[static_cast<uint8_t>(text[i])];
    word.symbols.push_back(table.add(i + 1 == text.size() ? symbol + kEndOfWord : symbol));
  }
  return word;
}

using Pair = std::pair<int, int>;

// The most frequent adjacent pair over all words (each weighted by its count), ties to the
// lexicographically smallest (left, right) text; nullopt when every word is one token.
std::optional<Pair> best_pair(const std::vector<Word>& words, const TokenTable& table) {
  std::map<Pair, int64_t> counts;
  for (const Word& word : words)
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i)
      counts[{word.symbols[i], word.symbols[i + 1]}] += word.count;
  std::optional<Pair> best;
  int64_t best_count = 0;
  for (const auto& [pair, count] : counts) {
    if (best &&
        (count < best_count ||
         (count == best_count && std::tie(table.token(best->first), table.token(best->second)) <
                                     std::tie(table.token(pair.first), table.token(pair.second)))))
      continue;
    best = pair;
    best_count = count;
  }
  return best;
}

// Left to right without overlaps, as BpeModel::encode_word applies a merge, so encoding a
// training word retraces its training.
void merge_in(std::vector<int>& symbols, Pair pair, int merged) {
  std::vector<int> out;
  out.reserve(symbols.size());
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i + 1 < symbols.size() && symbols[i] == pair.first && symbols[i + 1] == pair.second) {
      out.push_back(merged);
      ++i;
    } else {
      out.push_back(symbols[i]);
    }
  }
  symbols = std::move(out);
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  const std::string final_path = path.string();
  const std::string staged = final_path + ".tmp";
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("tokenizer: " + staged + ": cannot write");
    out << content;
    if (!out.flush()) {
      std::remove(staged.c_str());
      throw Error("tokenizer: " + staged + ": write failed");
    }
  }
  if (std::rename(staged.c_str(), final_path.c_str()) != 0) {
    std::remove(staged.c_str());
    throw Error("tokenizer: " + final_path + ": cannot rename the finished file into place");
  }
}

// The fields transformers writes for an AddedToken in special_tokens_map.json.
nlohmann::ordered_json added_token(const std::string& content) {
  return {{"content", content},
          {"lstrip", false},
          {"normalized", true},
          {"rstrip", false},
          {"single_word", false}};
}

}  // namespace

BpeVocabulary train_bpe(const std::map<std::string, int64_t>& word_counts) {
  TokenTable table;
  add_byte_symbols(table);
  std::vector<Word> words;
  for (const auto& [text, count] : word_counts) {
    if (text.empty()) throw Error("BPE training: empty word");
    if (count < 1)
      throw Error("BPE training: word '" + text + "' has count " + std::to_string(count));
    words.push_back(byte_word(text, count, table));
  }
  BpeVocabulary vocabulary;
  while (const auto pair = best_pair(words, table)) {
    const std::string& left = table.token(pair->first);
    const std::string& right = table.token(pair->second);
    vocabulary.merges.emplace_back(left, right);
    const int merged = table.add(left + right);
    for (Word& word : words) merge_in(word.symbols, *pair, merged);
  }
  if (vocabulary.merges.empty())
    throw Error("BPE training: no word has two or more bytes, so there is nothing to merge");
  table.add(kStartOfText);
  table.add(kEndOfText);
  vocabulary.tokens = table.release();
  return vocabulary;
}

void write_clip_tokenizer_files(const BpeVocabulary& vocabulary, const std::string& dir) {
  // In id order, as CLIP's own vocab.json (ordered_json keeps insertion order).
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    const std::string& token = vocabulary.tokens[id];
    if (vocab.contains(token))
      throw Error("tokenizer: " + dir + ": token '" + token + "' appears twice in the vocabulary");
    vocab[token] = id;
  }
  for (const char* special : {kStartOfText, kEndOfText})
    if (!vocab.contains(special))
      throw Error("tokenizer: " + dir + ": the vocabulary lacks " + special);

  std::string merges = "#version: 0.2\n";
  for (const auto& [left, right] : vocabulary.merges) merges += left + " " + right + "\n";

  nlohmann::ordered_json special_tokens_map = {{"bos_token", added_token(kStartOfText)},
                                               {"eos_token", added_token(kEndOfText)},
                                               {"pad_token", kEndOfText},
                                               {"unk_token", added_token(kEndOfText)}};
  // As diffusers' SD 1.x tokenizer/ folders have it, minus what transformers derives itself.
  nlohmann::ordered_json config = {
      {"bos_token", kStartOfText}, {"eos_token", kEndOfText}, {"errors", "replace"},
      {"model_max_length", 77},    {"pad_token", kEndOfText}, {"tokenizer_class", "CLIPTokenizer"},
      {"unk_token", kEndOfText}};

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    throw Error("tokenizer: " + dir + ": cannot create the folder (" + error.message() + ")");
  const std::filesystem::path folder(dir);
  try {
    write_file(folder / "vocab.json", vocab.dump() + "\n");
  } catch (const nlohmann::json::exception& e) {  // a token that is not valid UTF-8
    throw Error("tokenizer: " + dir + "/vocab.json: " + e.what());
  }
  write_file(folder / "merges.txt", merges);
  write_file(folder / "special_tokens_map.json", special_tokens_map.dump(2) + "\n");
  write_file(folder / "tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace dd::text
