#include "models/build_dtype.h"

#include <malloc.h>

namespace dd::models {

namespace {
thread_local torch::ScalarType current_build_dtype = torch::kFloat32;
}

BuildDtypeScope::BuildDtypeScope(torch::ScalarType dtype) : previous_(current_build_dtype) {
  current_build_dtype = dtype;
}

BuildDtypeScope::~BuildDtypeScope() { current_build_dtype = previous_; }

torch::ScalarType build_dtype() { return current_build_dtype; }

void release_freed_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace dd::models
