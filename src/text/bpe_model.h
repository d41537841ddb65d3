#pragma once
// Byte-level BPE as used by CLIP: a vocabulary (vocab.json, token -> id) and ranked merges
// (merges.txt). A word's UTF-8 bytes become byte symbols (GPT-2's byte-to-unicode table), the
// last one carrying the end-of-word marker `</w>`; then the adjacent pair with the lowest merge
// rank is merged, everywhere in the word, until no ranked pair is left.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace dd::text {

// Marks the last symbol of a word (`a</w>`).
inline constexpr char kEndOfWord[] = "</w>";

// GPT-2's reversible byte -> printable character table (UTF-8 strings, indexed by byte).
std::array<std::string, 256> byte_symbols();

class BpeModel {
 public:
  // Throws dd::Error naming the file (and line) for anything missing or malformed.
  static BpeModel load(const std::string& vocab_json, const std::string& merges_txt);

  // Ids of one pre-tokenized word given as its raw UTF-8 bytes (non-empty).
  std::vector<int> encode_word(const std::string& word) const;
  std::optional<int> find(const std::string& token) const;
  size_t vocab_size() const { return vocab_.size(); }

 private:
  struct Merge {
    int rank;
    int merged_id;
  };
  static uint64_t pair_key(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void read_vocab(const std::string& path);
  void read_merges(const std::string& path);

  std::unordered_map<std::string, int> vocab_;
  std::array<int, 256> byte_ids_{};      // byte symbol inside a word
  std::array<int, 256> byte_end_ids_{};  // byte symbol + "</w>" at the end of a word
  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace dd::text
