#include "text/t5_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "text/unicode.h"
#include "util/error.h"

namespace dd::text {
namespace {

namespace fs = std::filesystem;

// One entry of transformers' added-token table (AddedToken): a literal split out of the raw
// prompt before SentencePiece, and how it treats the whitespace around it.
struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false;       // eats the whitespace before it
  bool rstrip = false;       // eats the whitespace after it
  bool single_word = false;  // only matches as a whole word
};

// A prompt cut at the added tokens, as transformers' Trie.split: the text between matches and
// the matches themselves, no empty strings.
using Segments = std::vector<std::u32string>;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("T5 tokenizer: " + path.string() + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error("T5 tokenizer: " + path.string() + ": read error");
  return bytes;
}

std::optional<nlohmann::json> read_config(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  try {
    nlohmann::json config = nlohmann::json::parse(read_file(path));
    if (!config.is_object()) throw Error("T5 tokenizer: " + path.string() + ": not a JSON object");
    return config;
  } catch (const nlohmann::json::exception& e) {
    throw Error("T5 tokenizer: " + path.string() + ": " + e.what());
  }
}

// A special token of the config: a string, or an AddedToken object with "content".
std::string token_content(const nlohmann::json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const nlohmann::json& v = config[key];
  return v.is_object() ? v.at("content").get<std::string>() : v.get<std::string>();
}

}  // namespace

struct T5Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
  std::vector<AddedToken> added;
  std::map<std::u32string, const AddedToken*> by_content;  // into `added`, filled once
  std::u32string first_chars;                              // what an added token starts with
  int vocab_size = 0;
  int pad_id = 0;
  int eos_id = 0;
  int unk_id = 0;

  void load_model(const fs::path& file);
  void load_added_tokens(const nlohmann::json& config, const fs::path& config_file);
  void add_piece_token(const std::string& content, const fs::path& config_file);
  void index_added_tokens(const fs::path& config_file);
  int special_id(const std::string& content, const fs::path& config_file) const;

  Segments split(const std::u32string& text) const;
  void strip_around_tokens(Segments& segments) const;
  void append_ids(const std::u32string& segment, std::vector<int64_t>& ids) const;
  const AddedToken* find(const std::u32string& content) const {
    auto it = by_content.find(content);
    return it == by_content.end() ? nullptr : it->second;
  }
};

void T5Tokenizer::Impl::load_model(const fs::path& file) {
  if (!fs::exists(file)) throw Error("T5 tokenizer: " + file.string() + ": no such file");
  // Loading from bytes keeps the message ours for unreadable files (Load() says "No such file").
  const std::string bytes = read_file(file);
  const auto status = sp.LoadFromSerializedProto(bytes);
  if (!status.ok())
    throw Error("T5 tokenizer: " + file.string() +
                ": not a SentencePiece model: " + std::string(status.message()));
  if (sp.GetPieceSize() <= 0)
    throw Error("T5 tokenizer: " + file.string() + ": SentencePiece model has no pieces");
}

// transformers loads the table from tokenizer_config.json's added_tokens_decoder when there is
// one; T5Tokenizer.__init__ otherwise builds the same layout: <pad> </s> <unk> at their piece
// ids (no stripping), then `extra_ids` sentinels counted down after the pieces, stripping.
void T5Tokenizer::Impl::load_added_tokens(const nlohmann::json& config,
                                          const fs::path& config_file) {
  try {
    if (config.contains("legacy") && config["legacy"].is_boolean() && !config["legacy"].get<bool>())
      throw Error("T5 tokenizer: " + config_file.string() +
                  ": legacy=false (non-legacy T5 tokenization) is not supported");
    if (config.contains("added_tokens_decoder")) {
      for (const auto& [key, v] : config.at("added_tokens_decoder").items())
        added.push_back({v.at("content").get<std::string>(), std::stoll(key),
                         v.value("lstrip", false), v.value("rstrip", false),
                         v.value("single_word", false)});
      return;
    }
    const int extra_ids = config.value("extra_ids", 100);
    if (extra_ids < 0)
      throw Error("T5 tokenizer: " + config_file.string() + ": negative extra_ids");
    for (const char* key : {"pad_token", "eos_token", "unk_token"}) {
      static const std::map<std::string, const char*> fallback = {
          {"pad_token", "<pad>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
      add_piece_token(token_content(config, key, fallback.at(key)), config_file);
    }
    const int64_t pieces = sp.GetPieceSize();
    for (int n = 0; n < extra_ids; ++n)
      added.push_back(
          {"<extra_id_" + std::to_string(n) + ">", pieces + extra_ids - 1 - n, true, true, false});
  } catch (const nlohmann::json::exception& e) {
    throw Error("T5 tokenizer: " + config_file.string() + ": " + e.what());
  } catch (const std::logic_error& e) {  // std::stoll on a key that is not a number
    throw Error("T5 tokenizer: " + config_file.string() + ": bad added token id: " + e.what());
  }
}

// A special token that must be a piece of the model (transformers would append it as a new
// id otherwise, which no T5 checkpoint expects).
void T5Tokenizer::Impl::add_piece_token(const std::string& content, const fs::path& config_file) {
  const int id = sp.PieceToId(content);
  if (id == sp.unk_id() && content != sp.IdToPiece(id))
    throw Error("T5 tokenizer: " + config_file.string() + ": special token \"" + content +
                "\" is not a piece of the SentencePiece model");
  added.push_back({content, id});
}

void T5Tokenizer::Impl::index_added_tokens(const fs::path& config_file) {
  int64_t max_id = sp.GetPieceSize() - 1;
  for (const AddedToken& token : added) {
    if (token.content.empty() || token.id < 0)
      throw Error("T5 tokenizer: " + config_file.string() + ": bad added token \"" + token.content +
                  "\" (id " + std::to_string(token.id) + ")");
    const std::u32string content = utf8_to_utf32(token.content, "T5 added token");
    by_content[content] = &token;
    if (first_chars.find(content[0]) == std::u32string::npos) first_chars += content[0];
    max_id = std::max(max_id, token.id);
  }
  vocab_size = static_cast<int>(max_id + 1);
}

int T5Tokenizer::Impl::special_id(const std::string& content, const fs::path& config_file) const {
  if (const AddedToken* token = find(utf8_to_utf32(content, "T5 special token")))
    return static_cast<int>(token->id);
  const int id = sp.PieceToId(content);
  if (id == sp.unk_id() && content != sp.IdToPiece(id))
    throw Error("T5 tokenizer: " + config_file.string() + ": special token \"" + content +
                "\" is neither an added token nor a piece of spiece.model");
  return id;
}

// Leftmost match, the longest one where several start at the same character. (The T5 tokens
// all start with '<' and end with '>', so two matches never overlap.)
Segments T5Tokenizer::Impl::split(const std::u32string& text) const {
  Segments segments;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    if (first_chars.find(text[i]) == std::u32string::npos) {
      ++i;
      continue;
    }
    const AddedToken* hit = nullptr;
    std::u32string content;
    for (const auto& [c, token] : by_content) {
      if (c.size() > content.size() && text.compare(i, c.size(), c) == 0) {
        hit = token;
        content = c;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > start) segments.push_back(text.substr(start, i - start));
    segments.push_back(content);
    i += content.size();
    start = i;
  }
  if (start < text.size()) segments.push_back(text.substr(start));
  return segments;
}

// transformers' PreTrainedTokenizer.tokenize, in the same order and with the same tests: a
// token with rstrip left-strips the segment after it, one with lstrip right-strips the one
// before it (Python's str.strip whitespace); single_word tokens glued to a word join it.
void T5Tokenizer::Impl::strip_around_tokens(Segments& segments) const {
  for (size_t i = 0; i < segments.size(); ++i) {
    const AddedToken* token = find(segments[i]);
    if (!token) continue;
    std::u32string* left = i > 0 ? &segments[i - 1] : nullptr;
    std::u32string* right = i + 1 < segments.size() ? &segments[i + 1] : nullptr;
    if (token->rstrip && right && !right->empty()) {
      size_t n = 0;
      while (n < right->size() && is_python_space((*right)[n])) ++n;
      right->erase(0, n);
    }
    if (token->lstrip && left && !left->empty()) {
      while (!left->empty() && is_python_space(left->back())) left->pop_back();
    }
    if (token->single_word && left && !left->empty() && left->back() != U' ') {
      *left += segments[i];
      segments[i].clear();
    } else if (token->single_word && right && !right->empty() && right->front() != U' ') {
      segments[i] += *right;
      right->clear();
    }
  }
}

// A segment that is an added token is its id; any other goes through SentencePiece, whose
// pieces are looked up as transformers' convert_tokens_to_ids does (added tokens first).
void T5Tokenizer::Impl::append_ids(const std::u32string& segment, std::vector<int64_t>& ids) const {
  if (segment.empty()) return;
  if (const AddedToken* token = find(segment)) {
    ids.push_back(token->id);
    return;
  }
  for (const std::string& piece : sp.EncodeAsPieces(utf32_to_utf8(segment))) {
    auto it = by_content.find(utf8_to_utf32(piece, "T5 piece"));
    ids.push_back(it != by_content.end() ? it->second->id : sp.PieceToId(piece));
  }
}

T5Tokenizer::T5Tokenizer(const std::string& dir_or_spiece_model) {
  auto impl = std::make_shared<Impl>();
  const fs::path arg(dir_or_spiece_model);
  const fs::path model = fs::is_directory(arg) ? arg / "spiece.model" : arg;
  const fs::path config_file = model.parent_path() / "tokenizer_config.json";
  impl->load_model(model);
  const nlohmann::json config = read_config(config_file).value_or(nlohmann::json::object());
  impl->load_added_tokens(config, config_file);
  impl->index_added_tokens(config_file);
  impl->pad_id = impl->special_id(token_content(config, "pad_token", "<pad>"), config_file);
  impl->eos_id = impl->special_id(token_content(config, "eos_token", "</s>"), config_file);
  impl->unk_id = impl->special_id(token_content(config, "unk_token", "<unk>"), config_file);
  impl_ = std::move(impl);
}

std::vector<int64_t> T5Tokenizer::pieces(const std::string& text) const {
  Segments segments = impl_->split(utf8_to_utf32(text, "T5 prompt"));
  impl_->strip_around_tokens(segments);
  std::vector<int64_t> ids;
  for (const std::u32string& segment : segments) impl_->append_ids(segment, ids);
  return ids;
}

// transformers' _add_eos_if_not_present: a prompt ending in a literal "</s>" gets no second EOS.
std::vector<int64_t> T5Tokenizer::with_eos(std::vector<int64_t> ids) const {
  if (ids.empty() || ids.back() != impl_->eos_id) ids.push_back(impl_->eos_id);
  return ids;
}

std::vector<int64_t> T5Tokenizer::encode(const std::string& text) const {
  return with_eos(pieces(text));
}

std::vector<int64_t> T5Tokenizer::encode_padded(const std::string& text, int max_length) const {
  if (max_length < 1)
    throw Error("T5 tokenizer: max_length must be at least 1 (got " + std::to_string(max_length) +
                ")");
  std::vector<int64_t> ids = pieces(text);
  // Truncation leaves room for the one special token build_inputs_with_special_tokens adds.
  if (ids.size() > static_cast<size_t>(max_length - 1)) ids.resize(max_length - 1);
  ids = with_eos(std::move(ids));
  ids.resize(max_length, impl_->pad_id);
  return ids;
}

int T5Tokenizer::vocab_size() const { return impl_->vocab_size; }
int T5Tokenizer::pad_id() const { return impl_->pad_id; }
int T5Tokenizer::eos_id() const { return impl_->eos_id; }
int T5Tokenizer::unk_id() const { return impl_->unk_id; }

}  // namespace dd::text
