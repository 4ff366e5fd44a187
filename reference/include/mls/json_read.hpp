// The one strict JSON reader (spec/07-errors.md 7.1, spec/09-protocol.md
// 9.2.1): integers are JSON integers within their range (never a fraction,
// a boolean, a string or a wrapped value), objects have only known members,
// and every error names the field. Every JSON form of the project -- formats,
// roundings, tensors, protocol requests and replies, saved cases -- is read
// through these functions.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/error.hpp"

namespace mls::json_read {

// Parses text; the error names `what` and keeps the parser's position message.
nlohmann::json parse(const std::string& text, const std::string& what);

// `path` must be an object whose members are all in `allowed`.
void check_keys(const nlohmann::json& j, const std::string& path, std::initializer_list<const char*> allowed);
// `path` must be an object.
void check_object(const nlohmann::json& j, const std::string& path);

// An integer JSON number within [lo, hi], else an error naming `field`.
int64_t integer_in(const nlohmann::json& v, const std::string& field, int64_t lo, int64_t hi);
uint64_t unsigned_in(const nlohmann::json& v, const std::string& field, uint64_t hi);

template <class T>
T integer_value(const nlohmann::json& v, const std::string& field) {
  if constexpr (std::is_unsigned_v<T>) {
    return static_cast<T>(unsigned_in(v, field, std::numeric_limits<T>::max()));
  } else {
    return static_cast<T>(integer_in(v, field, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
  }
}

// Member `key` of object `j` (at `path`): present and of the type, else an
// error "path.key is missing or has the wrong type" / naming the range.
const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::string& path);
template <class T>
T integer(const nlohmann::json& j, const char* key, const std::string& path) {
  return integer_value<T>(member(j, key, path), path + "." + key);
}
std::string string(const nlohmann::json& j, const char* key, const std::string& path);
bool boolean(const nlohmann::json& j, const char* key, const std::string& path);

// Arrays of integers; `field` names the array, errors name the element ("x[3]").
std::vector<uint32_t> u32_array(const nlohmann::json& a, const std::string& field);
std::vector<int64_t> i64_array(const nlohmann::json& a, const std::string& field);
template <class T>
std::vector<T> array_member(const nlohmann::json& j, const char* key, const std::string& path);
template <>
inline std::vector<uint32_t> array_member(const nlohmann::json& j, const char* key, const std::string& path) {
  return u32_array(member(j, key, path), std::string(key));
}
template <>
inline std::vector<int64_t> array_member(const nlohmann::json& j, const char* key, const std::string& path) {
  return i64_array(member(j, key, path), std::string(key));
}

}  // namespace mls::json_read
