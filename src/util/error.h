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

// A request field that is wrong: the HTTP layer answers 400 naming `param`.
class InvalidParameter : public Error {
 public:
  InvalidParameter(std::string param, const std::string& message)
      : Error(message), param_(std::move(param)) {}
  const std::string& param() const { return param_; }

 private:
  std::string param_;
};

}  // namespace dd
