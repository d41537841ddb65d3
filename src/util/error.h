#pragma once
// The one error type of diffusiond: a message meant for a person, naming what was wrong
// (the file, tensor, parameter or value). Thrown for any bad input; never for bugs.
#include <stdexcept>
#include <string>

namespace dd {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace dd
