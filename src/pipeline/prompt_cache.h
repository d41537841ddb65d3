#pragma once
// Recently encoded prompts of one model, so a repeated prompt (the same negative prompt on every
// request, a client retrying, several images of one prompt in separate jobs) skips the text
// encoders. Keys carry everything the encoding depends on, including which LoRAs have changed the
// text encoders' weights. Thread-safe; least recently used entries go first.
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "pipeline/conditioning.h"

namespace dd::pipeline {

class PromptCache {
 public:
  explicit PromptCache(size_t capacity = 64) : capacity_(capacity) {}

  std::optional<Conditioning> find(const std::string& key);
  void insert(const std::string& key, const Conditioning& value);
  size_t hits() const;
  size_t misses() const;

 private:
  using Entry = std::pair<std::string, Conditioning>;
  mutable std::mutex mutex_;
  size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t hits_ = 0, misses_ = 0;
};

}  // namespace dd::pipeline
