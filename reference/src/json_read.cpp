#include "mls/json_read.hpp"

namespace mls::json_read {

nlohmann::json parse(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + " JSON does not parse: " + e.what());
  }
}

void check_object(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) throw Error(path + " must be a JSON object");
}

void check_keys(const nlohmann::json& j, const std::string& path, std::initializer_list<const char*> allowed) {
  check_object(j, path);
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) throw Error(path + "." + it.key() + " is not a known field");
  }
}

int64_t integer_in(const nlohmann::json& v, const std::string& field, int64_t lo, int64_t hi) {
  bool ok = false;
  int64_t out = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) && static_cast<int64_t>(u) <= hi &&
         static_cast<int64_t>(u) >= lo;
    out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
    ok = out >= lo && out <= hi;
  }
  if (!ok)
    throw Error(field + " is not an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ": " +
                v.dump().substr(0, 40));
  return out;
}

uint64_t unsigned_in(const nlohmann::json& v, const std::string& field, uint64_t hi) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > hi)
    throw Error(field + " is not an integer in 0.." + std::to_string(hi) + ": " + v.dump().substr(0, 40));
  return v.get<uint64_t>();
}

const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::string& path) {
  check_object(j, path);
  if (!j.contains(key)) throw Error(path + "." + key + " is missing");
  return j.at(key);
}

std::string string(const nlohmann::json& j, const char* key, const std::string& path) {
  const auto& v = member(j, key, path);
  if (!v.is_string()) throw Error(path + "." + key + " must be a string");
  return v.get<std::string>();
}

bool boolean(const nlohmann::json& j, const char* key, const std::string& path) {
  const auto& v = member(j, key, path);
  if (!v.is_boolean()) throw Error(path + "." + key + " must be true or false");
  return v.get<bool>();
}

std::vector<uint32_t> u32_array(const nlohmann::json& a, const std::string& field) {
  if (!a.is_array()) throw Error(field + " must be an array");
  std::vector<uint32_t> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& v = a[i];
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xffffffffull)
      throw Error(field + "[" + std::to_string(i) + "] is not an integer in 0..4294967295: " + v.dump().substr(0, 40));
    out.push_back(static_cast<uint32_t>(v.get<uint64_t>()));
  }
  return out;
}

std::vector<int64_t> i64_array(const nlohmann::json& a, const std::string& field) {
  if (!a.is_array()) throw Error(field + " must be an array");
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    out.push_back(integer_in(a[i], field + "[" + std::to_string(i) + "]", std::numeric_limits<int64_t>::min(),
                             std::numeric_limits<int64_t>::max()));
  return out;
}

}  // namespace mls::json_read
