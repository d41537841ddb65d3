#pragma once
// The message of the dd::Error a call throws: what tests of input checking compare.
#include <string>

#include "util/error.h"

namespace dd::test {

// The message of the dd::Error that f() throws, or "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace dd::test
