#include "io.hpp"

#include <hdf5.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>
#include <sstream>

#include "mls/error.hpp"

namespace mls::io {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Npy {
  std::string descr;
  Shape shape;
  std::string payload;
};

Npy parse_npy(const std::string& path) {
  const std::string raw = slurp(path);
  if (raw.size() < 10 || raw.compare(0, 6, "\x93NUMPY") != 0) throw Error(path + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(raw[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = static_cast<unsigned char>(raw[8]) | (static_cast<unsigned char>(raw[9]) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (raw.size() < 12) throw Error(path + ": truncated .npy header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= size_t(static_cast<unsigned char>(raw[8 + i])) << (8 * i);
    hstart = 12;
  } else {
    throw Error(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (raw.size() < hstart + hlen) throw Error(path + ": truncated .npy header");
  const std::string h = raw.substr(hstart, hlen);
  std::smatch m;
  Npy n;
  if (!std::regex_search(h, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) throw Error(path + ": .npy header has no descr");
  n.descr = m[1];
  if (!std::regex_search(h, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")) || m[1] == "True")
    throw Error(path + ": fortran_order arrays are not supported (save with C order)");
  if (!std::regex_search(h, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) throw Error(path + ": .npy header has no shape");
  const std::string dims = m[1];
  std::regex num(R"(\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    n.shape.push_back(std::stoll(it->str()));
  if (n.shape.empty()) n.shape.push_back(1);  // 0-d array: one value
  n.payload = raw.substr(hstart + hlen);
  return n;
}

std::string npy_header(const std::string& descr, const Shape& shape) {
  std::string s = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  s += "), }";
  const size_t total = 10 + s.size() + 1;
  s.append((64 - total % 64) % 64, ' ');
  s += "\n";
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(s.size() & 0xff);
  out += char(s.size() >> 8);
  return out + s;
}

template <class T>
void write_npy(const std::string& path, const std::string& descr, const Shape& shape, const std::vector<T>& data) {
  std::string out = npy_header(descr, shape);
  out.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T));
  write_text_atomic(path, out);
}

std::vector<std::string> tokens(std::istream& in) {
  std::vector<std::string> t;
  std::string line;
  while (std::getline(in, line)) {
    for (char& c : line)
      if (c == ',' || c == '[' || c == ']' || c == ';') c = ' ';
    std::istringstream ls(line);
    std::string w;
    while (ls >> w) t.push_back(w);
  }
  return t;
}

float parse_float_token(const std::string& w, size_t i) {
  errno = 0;
  char* end = nullptr;
  const float f = std::strtof(w.c_str(), &end);  // correctly rounded decimal -> fp32 (glibc)
  if (end == w.c_str() || *end != '\0') throw Error("input value " + std::to_string(i) + " (\"" + w + "\") is not a number");
  return f;
}

struct H5Closer {
  hid_t id;
  herr_t (*fn)(hid_t);
  ~H5Closer() {
    if (id >= 0) fn(id);
  }
};

}  // namespace

uint32_t parse_fp32(const std::string& text, const std::string& field) {
  if (text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0) {
    if (text.find_first_of("pP.") == std::string::npos) {
      if (text.size() > 10 || text.size() < 3 || text.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos)
        throw Error(field + " = \"" + text + "\" is not an fp32 bit pattern like 0x3f800000");
      return static_cast<uint32_t>(std::stoul(text, nullptr, 16));
    }
  }
  return float_bits(parse_float_token(text, 0));
}

FloatTensor read_float_tensor(const std::string& source, const Shape& shape) {
  FloatTensor t;
  if (source == "-") {
    const auto toks = tokens(std::cin);
    for (size_t i = 0; i < toks.size(); ++i) t.data.push_back(parse_float_token(toks[i], i));
    if (t.data.empty()) throw Error("stdin: no numbers read (empty tensor)");
    t.shape = shape.empty() ? Shape{static_cast<int64_t>(t.data.size())} : shape;
  } else if (const size_t colon = source.find(".h5:"); colon != std::string::npos || source.find(".hdf5:") != std::string::npos) {
    const size_t c = source.find(':', source.find(".h"));
    const std::string file = source.substr(0, c), dset = source.substr(c + 1);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5Closer f{H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
    if (f.id < 0) throw Error(file + ": cannot open as HDF5");
    if (H5Lexists(f.id, dset.c_str(), H5P_DEFAULT) <= 0) throw Error(file + ": dataset " + dset + " does not exist");
    H5Closer d{H5Dopen2(f.id, dset.c_str(), H5P_DEFAULT), H5Dclose};
    if (d.id < 0) throw Error(file + ":" + dset + " is not a dataset");
    H5Closer ty{H5Dget_type(d.id), H5Tclose};
    if (H5Tget_class(ty.id) != H5T_FLOAT || H5Tget_size(ty.id) != 4)
      throw Error(file + ":" + dset + " is not a 32-bit float dataset");
    H5Closer sp{H5Dget_space(d.id), H5Sclose};
    const int rank = H5Sget_simple_extent_ndims(sp.id);
    std::vector<hsize_t> dims(rank > 0 ? rank : 0);
    H5Sget_simple_extent_dims(sp.id, dims.data(), nullptr);
    for (hsize_t v : dims) t.shape.push_back(static_cast<int64_t>(v));
    if (t.shape.empty()) t.shape.push_back(1);
    t.data.resize(element_count(t.shape, file + ":" + dset + " shape"));
    if (H5Dread(d.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()) < 0)
      throw Error(file + ":" + dset + ": read failed (corrupt or truncated file?)");
  } else {
    const Npy n = parse_npy(source);
    t.shape = n.shape;
    const int64_t count = element_count(t.shape, source + " shape");
    if (n.descr == "<f4") {
      if (n.payload.size() < size_t(count) * 4) throw Error(source + ": truncated .npy data");
      t.data.resize(count);
      std::memcpy(t.data.data(), n.payload.data(), count * 4);
    } else if (n.descr == "<f8") {
      if (n.payload.size() < size_t(count) * 8) throw Error(source + ": truncated .npy data");
      t.data.resize(count);
      for (int64_t i = 0; i < count; ++i) {
        double d;
        std::memcpy(&d, n.payload.data() + 8 * i, 8);
        const float f = static_cast<float>(d);
        if (!(std::isnan(d) || static_cast<double>(f) == d))
          throw Error(source + ": element " + std::to_string(i) + " of the float64 array is not exactly an fp32 value; convert to float32 first");
        t.data[i] = f;
      }
    } else {
      throw Error(source + ": dtype " + n.descr + " is not float32 ('<f4')");
    }
  }
  if (!shape.empty() && element_count(shape) != static_cast<int64_t>(t.data.size()))
    throw Error("--shape " + shape_string(shape) + " does not match the " + std::to_string(t.data.size()) + " values of " + source);
  if (!shape.empty()) t.shape = shape;
  return t;
}

std::vector<uint32_t> read_uint32_list(const std::string& source) {
  std::vector<uint32_t> out;
  if (source.size() > 4 && source.substr(source.size() - 4) == ".npy") {
    const Npy n = parse_npy(source);
    if (n.descr != "<u4") throw Error(source + ": dtype " + n.descr + " is not uint32 ('<u4')");
    const int64_t count = element_count(n.shape, source + " shape");
    if (n.payload.size() < size_t(count) * 4) throw Error(source + ": truncated .npy data");
    out.resize(count);
    std::memcpy(out.data(), n.payload.data(), count * 4);
    return out;
  }
  std::ifstream f;
  std::istream* in = &std::cin;
  if (source != "-") {
    f.open(source);
    if (!f) throw Error("cannot open " + source);
    in = &f;
  }
  const auto toks = tokens(*in);
  for (size_t i = 0; i < toks.size(); ++i) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(toks[i].c_str(), &end, 0);
    if (*end != '\0' || errno || v > 0xffffffffull) throw Error(source + ": word " + std::to_string(i) + " (\"" + toks[i] + "\") is not a 32-bit unsigned integer");
    out.push_back(static_cast<uint32_t>(v));
  }
  return out;
}

void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("cannot write " + tmp + ": " + std::strerror(errno));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) throw Error("write to " + tmp + " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path);
}

void write_npy_f32(const std::string& path, const Shape& shape, const std::vector<float>& data) {
  write_npy(path, "<f4", shape, data);
}
void write_npy_u32(const std::string& path, const Shape& shape, const std::vector<uint32_t>& data) {
  write_npy(path, "<u4", shape, data);
}

namespace {
void h5_write_u32(hid_t file, const char* name, const Shape& shape, const std::vector<uint32_t>& v) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Closer sp{dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  H5Closer d{H5Dcreate2(file, name, H5T_STD_U32LE, sp.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
  if (d.id < 0 || H5Dwrite(d.id, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw Error(std::string("HDF5 write of ") + name + " failed");
}
void h5_attr_str(hid_t obj, const char* name, const std::string& value) {
  H5Closer ty{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(ty.id, value.size() + 1);
  H5Closer sp{H5Screate(H5S_SCALAR), H5Sclose};
  H5Closer a{H5Acreate2(obj, name, ty.id, sp.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, ty.id, value.c_str()) < 0) throw Error(std::string("HDF5 attribute ") + name + " failed");
}
std::vector<uint32_t> h5_read_u32(hid_t file, const std::string& path, const std::string& name, Shape* shape) {
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0) throw Error(path + ": dataset /" + name + " is missing");
  H5Closer d{H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose};
  H5Closer sp{H5Dget_space(d.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(sp.id);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  H5Sget_simple_extent_dims(sp.id, dims.data(), nullptr);
  size_t n = 1;
  for (hsize_t v : dims) n *= v;
  if (shape) shape->assign(dims.begin(), dims.end());
  std::vector<uint32_t> v(n);
  if (H5Dread(d.id, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw Error(path + ": /" + name + " could not be read (corrupt or truncated file?)");
  return v;
}
std::string h5_read_attr_str(hid_t obj, const std::string& path, const char* name) {
  if (H5Aexists(obj, name) <= 0) throw Error(path + ": attribute " + name + " is missing");
  H5Closer a{H5Aopen(obj, name, H5P_DEFAULT), H5Aclose};
  H5Closer ty{H5Aget_type(a.id), H5Tclose};
  std::string s(H5Tget_size(ty.id), '\0');
  H5Closer mem{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(mem.id, s.size());
  if (H5Aread(a.id, mem.id, s.data()) < 0) throw Error(path + ": attribute " + name + " could not be read");
  s.resize(std::strlen(s.c_str()));
  return s;
}
}  // namespace

void write_quantized_h5(const std::string& path, const MlsTensor& t, const std::string& rounding) {
  const std::string tmp = path + ".tmp";
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  {
    H5Closer f{H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    if (f.id < 0) throw Error("cannot create " + tmp);
    h5_write_u32(f.id, "tensor_scale", {}, {t.tensor_scale});
    h5_write_u32(f.id, "group_scales", {static_cast<int64_t>(t.group_scales.size())}, t.group_scales);
    h5_write_u32(f.id, "elements", t.shape, t.elements);
    std::vector<uint32_t> deq;
    for (float v : dequantize_fp32(t)) deq.push_back(float_bits(v));
    h5_write_u32(f.id, "dequantized_fp32", t.shape, deq);
    h5_attr_str(f.id, "format", t.format.to_json().dump());
    h5_attr_str(f.id, "format_name", t.format.short_name());
    h5_attr_str(f.id, "rounding", rounding);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path);
}

MlsTensor read_quantized(const std::string& source) {
  if (source.size() > 3 && (source.substr(source.size() - 3) == ".h5" || source.substr(source.size() - 5) == ".hdf5")) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5Closer f{H5Fopen(source.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
    if (f.id < 0) throw Error(source + ": cannot open as HDF5 (missing, truncated or corrupt)");
    MlsTensor t;
    try {
      t.format = format_from_json(nlohmann::json::parse(h5_read_attr_str(f.id, source, "format")));
    } catch (const nlohmann::json::exception& e) {
      throw Error(source + ": attribute format is not JSON");
    }
    t.tensor_scale = h5_read_u32(f.id, source, "tensor_scale", nullptr).at(0);
    t.group_scales = h5_read_u32(f.id, source, "group_scales", nullptr);
    t.elements = h5_read_u32(f.id, source, "elements", &t.shape);
    t.validate();
    return t;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(slurp(source));
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  try {
    return MlsTensor::from_json(j);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
}

}  // namespace mls::io
