#pragma once
// A byte-level stand-in for CLIP's tokenizer files, for running a model when the real
// vocab.json and merges.txt are not at hand (the benchmark): every prompt becomes one token per
// byte, which costs the text encoders exactly what real tokens cost (they always see 77
// positions). Ids follow CLIP's vocabulary where it matters: byte symbols first ("!" is 0, the
// pad token of OpenCLIP encoders), <|startoftext|> 49406, <|endoftext|> 49407, 49408 entries.
#include <string>

namespace dd::bench {

// Writes DIR/vocab.json and DIR/merges.txt (creating DIR) for text::ClipTokenizer::from_dir.
void write_standin_tokenizer(const std::string& dir);

}  // namespace dd::bench
