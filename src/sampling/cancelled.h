#pragma once
// Thrown by Sampler::run when the step callback asks to stop (a cancelled job). It is a
// dd::Error so callers that only report errors still show a clear message.
#include "util/error.h"

namespace dd {

struct Cancelled : Error {
  Cancelled() : Error("generation cancelled") {}
};

}  // namespace dd
