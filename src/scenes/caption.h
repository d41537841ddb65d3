#pragma once
// Captions: the text a scene is paired with for training ("a small red circle at the top on a
// blue background"). A few templates and synonyms, picked by a seed, so the model learns the
// words rather than one fixed sentence.
#include <cstdint>
#include <string>
#include <vector>

#include "scenes/scene.h"

namespace dd::scenes {

// Every template names shape, colour, size, count and position; all but one name the
// background. The choice and the synonyms depend only on (scene, seed).
std::string caption(const Scene& scene, uint64_t seed);
// The canonical caption naming every attribute: the prompt to grade a model with.
std::string full_caption(const Scene& scene);
// Every word any caption can contain, sorted and unique (for a later word-level/BPE
// tokenizer). Captions are lower case, words separated by single spaces, no punctuation.
std::vector<std::string> caption_vocabulary();

}  // namespace dd::scenes
