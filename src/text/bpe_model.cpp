#include "text/bpe_model.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "text/unicode.h"
#include "util/error.h"

namespace dd::text {

// GPT-2's reversible byte -> printable character table: printable Latin-1 bytes stand for
// themselves, the other 68 bytes take the code points 256, 257, ... in byte order.
std::array<std::string, 256> byte_symbols() {
  std::array<std::string, 256> symbols;
  int next_extra = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
                           (byte >= 0xAE && byte <= 0xFF);
    symbols[byte] = utf32_to_utf8(static_cast<char32_t>(printable ? byte : next_extra++));
  }
  return symbols;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer: " + path + ": cannot open");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw Error("tokenizer: " + path + ": read error");
  return content.str();
}

}  // namespace

BpeModel BpeModel::load(const std::string& vocab_json, const std::string& merges_txt) {
  BpeModel model;
  model.read_vocab(vocab_json);
  model.read_merges(merges_txt);
  return model;
}

void BpeModel::read_vocab(const std::string& path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error("tokenizer: " + path + ": invalid JSON (" + e.what() + ")");
  }
  if (!json.is_object() || json.empty())
    throw Error("tokenizer: " + path + ": expected a JSON object mapping tokens to ids");
  for (const auto& [token, id] : json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > std::numeric_limits<int>::max())
      throw Error("tokenizer: " + path + ": token '" + token + "' has an invalid id " + id.dump());
    vocab_[token] = id.get<int>();
  }
  const auto symbols = byte_symbols();
  for (int byte = 0; byte < 256; ++byte) {
    for (const bool at_end : {false, true}) {
      const std::string symbol = symbols[byte] + (at_end ? kEndOfWord : "");
      auto it = vocab_.find(symbol);
      if (it == vocab_.end())
        throw Error("tokenizer: " + path + ": byte symbol '" + symbol + "' is missing");
      (at_end ? byte_end_ids_ : byte_ids_)[byte] = it->second;
    }
  }
}

void BpeModel::read_merges(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::string line;
  int line_number = 0;
  int rank = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
    const std::string where = "tokenizer: " + path + ": line " + std::to_string(line_number);
    const size_t space = line.find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos)
      throw Error(where + ": expected two symbols separated by one space");
    const std::string left = line.substr(0, space);
    const std::string right = line.substr(space + 1);
    const auto left_id = find(left);
    const auto right_id = find(right);
    const auto merged_id = find(left + right);
    if (!left_id || !right_id || !merged_id)
      throw Error(where + ": '" +
                  (!left_id    ? left
                   : !right_id ? right
                               : left + right) +
                  "' is not in the vocabulary");
    // A repeated pair takes its later rank, as Python's dict(zip(merges, ranks)) does.
    merges_[pair_key(*left_id, *right_id)] = Merge{rank++, *merged_id};
  }
  if (merges_.empty()) throw Error("tokenizer: " + path + ": no merges");
}

std::optional<int> BpeModel::find(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::vector<int> BpeModel::encode_word(const std::string& word) const {
  std::vector<int> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const auto byte = static_cast<uint8_t>(word[i]);
    symbols.push_back(i + 1 == word.size() ? byte_end_ids_[byte] : byte_ids_[byte]);
  }
  while (symbols.size() > 1) {
    const Merge* best = nullptr;
    uint64_t best_key = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const uint64_t key = pair_key(symbols[i], symbols[i + 1]);
      auto it = merges_.find(key);
      if (it != merges_.end() && (!best || it->second.rank < best->rank)) {
        best = &it->second;
        best_key = key;
      }
    }
    if (!best) break;
    // Merge every occurrence of the best pair, left to right without overlaps.
    std::vector<int> merged;
    merged.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && pair_key(symbols[i], symbols[i + 1]) == best_key) {
        merged.push_back(best->merged_id);
        ++i;
      } else {
        merged.push_back(symbols[i]);
      }
    }
    symbols = std::move(merged);
  }
  return symbols;
}

}  // namespace dd::text
