#include "bench/standin_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "text/unicode.h"
#include "util/error.h"

namespace dd::bench {

namespace {

constexpr int kVocabSize = 49408;
constexpr int kStartOfText = 49406;
constexpr int kEndOfText = 49407;

// GPT-2/CLIP's byte symbols in CLIP's vocabulary order: the printable bytes as themselves, then
// the other bytes as code points 256, 257, ... (see text/bpe_model.cpp).
std::vector<std::string> byte_symbols_in_vocab_order() {
  std::vector<std::string> printable, others;
  char32_t next_extra = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool is_printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
                              (byte >= 0xAE && byte <= 0xFF);
    if (is_printable)
      printable.push_back(text::utf32_to_utf8(static_cast<char32_t>(byte)));
    else
      others.push_back(text::utf32_to_utf8(next_extra++));
  }
  printable.insert(printable.end(), others.begin(), others.end());
  return printable;
}

void write_text(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw Error(path.string() + ": cannot write");
}

}  // namespace

void write_standin_tokenizer(const std::string& dir) {
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  const auto symbols = byte_symbols_in_vocab_order();
  for (const auto& symbol : symbols) vocab[symbol] = id++;
  for (const auto& symbol : symbols) vocab[symbol + "</w>"] = id++;
  // The tokenizer wants at least one merge; this one is never needed for speed.
  vocab["th</w>"] = id;
  ++id;
  // Unused fillers keep the special tokens at CLIP's ids (the encoders' pad and EOS ids).
  for (; id < kStartOfText; ++id) vocab["<|standin_" + std::to_string(id) + "|>"] = id;
  vocab["<|startoftext|>"] = kStartOfText;
  vocab["<|endoftext|>"] = kEndOfText;
  static_assert(kEndOfText + 1 == kVocabSize);

  std::filesystem::create_directories(dir);
  write_text(std::filesystem::path(dir) / "vocab.json", vocab.dump());
  write_text(std::filesystem::path(dir) / "merges.txt", "#version: 0.2\nt h</w>\n");
}

}  // namespace dd::bench
