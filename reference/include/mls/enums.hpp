// One table per enumeration (spec/README.md, "Enumerations"). Every policy,
// mode and kind of the family is an enum class with exactly one table of
// entries: the enumerator, its name in JSON, short names and reports, its
// numeric code (the C ABI value of conformance/include/mls_backend.h, and the
// code stored in vector files), and a one-line description. Every list of
// names, every parser and every printer derives from that table; nothing
// else spells the names or the numbers.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mls/error.hpp"

namespace mls {

template <class E>
struct EnumEntry {
  E value;
  std::string_view name;
  int32_t code;  // C ABI value == vector-file code (explicit, never a position)
  std::string_view help;
};

// Specialised next to each enum: `static constexpr std::array<EnumEntry<E>, N> entries`
// and `static constexpr std::string_view what` (for messages).
template <class E>
struct EnumTable;

template <class E>
concept Tabulated = requires { EnumTable<E>::entries; };

template <Tabulated E>
constexpr const EnumEntry<E>& enum_entry(E v) {
  for (const auto& e : EnumTable<E>::entries)
    if (e.value == v) return e;
  throw Error(std::string(EnumTable<E>::what) + ": enumerator missing from its table");
}

template <Tabulated E>
constexpr int32_t enum_code(E v) {
  return enum_entry(v).code;
}

template <Tabulated E>
std::string to_string(E v) {
  for (const auto& e : EnumTable<E>::entries)
    if (e.value == v) return std::string(e.name);
  return "?";
}

// "a, b, c" in table order.
template <Tabulated E>
std::string enum_names_text() {
  std::string s;
  for (const auto& e : EnumTable<E>::entries) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

template <Tabulated E>
std::vector<std::string> enum_names() {
  std::vector<std::string> v;
  for (const auto& e : EnumTable<E>::entries) v.emplace_back(e.name);
  return v;
}

template <Tabulated E>
std::vector<E> enum_values() {
  std::vector<E> v;
  for (const auto& e : EnumTable<E>::entries) v.push_back(e.value);
  return v;
}

// Parses a name; the error names `field`, the value and the allowed names.
template <Tabulated E>
E enum_from_name(std::string_view s, const std::string& field) {
  for (const auto& e : EnumTable<E>::entries)
    if (e.name == s) return e.value;
  throw Error(field + " = \"" + std::string(s) + "\" is not one of " + enum_names_text<E>());
}

template <Tabulated E>
bool enum_has_name(std::string_view s) {
  for (const auto& e : EnumTable<E>::entries)
    if (e.name == s) return true;
  return false;
}

// Decodes a numeric code (a C ABI field, a vector-file attribute).
template <Tabulated E>
E enum_from_code(int64_t c, const std::string& field) {
  for (const auto& e : EnumTable<E>::entries)
    if (e.code == c) return e.value;
  std::string allowed;
  for (const auto& e : EnumTable<E>::entries)
    allowed += (allowed.empty() ? "" : ", ") + std::to_string(e.code) + " (" + std::string(e.name) + ")";
  throw Error(field + " = " + std::to_string(c) + " is not a code of " + std::string(EnumTable<E>::what) + ": " +
              allowed);
}

template <Tabulated E>
std::string_view enum_help(E v) {
  return enum_entry(v).help;
}

}  // namespace mls
