// Error policy (spec/07-errors.md): every invalid input is an mls::Error whose
// message names the offending field or index. Nothing is guessed or clamped
// silently.
#pragma once
#include <stdexcept>
#include <string>

namespace mls {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mls
