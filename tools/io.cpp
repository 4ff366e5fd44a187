#include "io.hpp"

#include <hdf5.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/vectors/h5handle.hpp"
#include "mls/vectors/safe_read.hpp"

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

// A strict reader of the .npy header: the Python dict literal numpy writes,
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, with exactly
// these three keys. Hand-written (no regex: a long hostile header must not
// exhaust the stack), every error names the file and what is wrong.
class NpyHeader {
 public:
  NpyHeader(const std::string& h, const std::string& name) : h_(h), name_(name) {}

  Npy parse() {
    Npy n;
    bool have_descr = false, have_order = false, have_shape = false;
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') break;
      const std::string key = quoted("a key");
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        if (have_descr) fail("key 'descr' appears twice");
        n.descr = quoted("'descr'");
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) fail("key 'fortran_order' appears twice");
        if (word("True")) fail("fortran_order arrays are not supported (save with C order)");
        if (!word("False")) fail("'fortran_order' is not True or False");
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) fail("key 'shape' appears twice");
        n.shape = tuple();
        have_shape = true;
      } else {
        fail("unknown key '" + printable(key) + "' (a .npy header has descr, fortran_order, shape)");
      }
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      ws();
      if (peek() != '}') fail("expected ',' or '}' at header byte " + std::to_string(pos_));
    }
    expect('}');
    ws();
    if (pos_ != h_.size()) fail("unexpected text after the header dict at byte " + std::to_string(pos_));
    if (!have_descr) fail("the header has no 'descr'");
    if (!have_order) fail("the header has no 'fortran_order'");
    if (!have_shape) fail("the header has no 'shape'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": .npy header: " + what); }
  static std::string printable(const std::string& s) {
    std::string o;
    for (char c : s.substr(0, 40)) o += (c >= 32 && c < 127) ? c : '?';
    return o;
  }
  char peek() const { return pos_ < h_.size() ? h_[pos_] : '\0'; }
  void ws() {
    while (pos_ < h_.size() && (h_[pos_] == ' ' || h_[pos_] == '\t' || h_[pos_] == '\n' || h_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "' at header byte " + std::to_string(pos_));
    ++pos_;
  }
  bool word(const char* w) {
    const size_t n = std::strlen(w);
    if (h_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  std::string quoted(const std::string& what) {
    const char q = peek();
    if (q != '\'' && q != '"') fail(what + " is not a quoted string (header byte " + std::to_string(pos_) + ")");
    const size_t end = h_.find(q, pos_ + 1);
    if (end == std::string::npos) fail(what + ": unterminated string");
    std::string v = h_.substr(pos_ + 1, end - pos_ - 1);
    if (v.find('\\') != std::string::npos) fail(what + ": escapes are not supported");
    pos_ = end + 1;
    return v;
  }
  Shape tuple() {
    expect('(');
    Shape s;
    bool comma_after_last = false;
    for (;;) {
      ws();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("'shape' entry " + std::to_string(s.size()) + " is not a non-negative integer");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (int64_t(1) << 50)) fail("'shape' entry " + std::to_string(s.size()) + " is too large");
        v = v * 10 + (h_[pos_++] - '0');
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix, as old numpy wrote it
      s.push_back(v);
      ws();
      comma_after_last = false;
      if (peek() == ',') {
        ++pos_;
        comma_after_last = true;
        continue;
      }
      if (peek() != ')') fail("'shape' is not a tuple of integers");
    }
    expect(')');
    if (s.size() == 1 && !comma_after_last) fail("'shape' (" + std::to_string(s[0]) + ") is not a tuple (a 1-tuple is written (n,))");
    if (s.size() > 32) fail("'shape' has " + std::to_string(s.size()) + " dimensions (at most 32)");
    return s;
  }

  const std::string& h_;
  const std::string& name_;
  size_t pos_ = 0;
};

Npy parse_npy_bytes(const std::string& raw, const std::string& path) {
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
  if (raw.size() - hstart < hlen) throw Error(path + ": truncated .npy header");
  const std::string h = raw.substr(hstart, hlen);
  Npy n = NpyHeader(h, path).parse();
  if (n.shape.empty()) n.shape.push_back(1);  // 0-d array: one value
  n.payload = raw.substr(hstart + hlen);
  return n;
}

// The payload holds exactly `count` items of `width` bytes (7.1: a short or a
// long file is an error, not a guess).
void check_payload(const Npy& n, int64_t count, size_t width, const std::string& path) {
  const size_t want = size_t(count) * width;
  if (n.payload.size() < want)
    throw Error(path + ": truncated .npy data: shape " + shape_string(n.shape) + " needs " + std::to_string(want) +
                " bytes, the file has " + std::to_string(n.payload.size()));
  if (n.payload.size() > want)
    throw Error(path + ": .npy data has " + std::to_string(n.payload.size() - want) + " bytes after the " +
                std::to_string(count) + " values of shape " + shape_string(n.shape));
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

using mls::vectors::H5Handle;  // the one HDF5 identifier owner

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

FloatTensor float_tensor_from_npy(const std::string& bytes, const std::string& name) {
  const Npy n = parse_npy_bytes(bytes, name);
  FloatTensor t;
  t.shape = n.shape;
  const int64_t count = element_count(t.shape, name + " shape");
  if (n.descr == "<f4") {
    check_payload(n, count, 4, name);
    t.data.resize(count);
    std::memcpy(t.data.data(), n.payload.data(), count * 4);
  } else if (n.descr == "<f8") {
    check_payload(n, count, 8, name);
    t.data.resize(count);
    for (int64_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, n.payload.data() + 8 * i, 8);
      const float f = static_cast<float>(d);
      if (!(std::isnan(d) || static_cast<double>(f) == d))
        throw Error(name + ": element " + std::to_string(i) + " of the float64 array is not exactly an fp32 value; convert to float32 first");
      t.data[i] = f;
    }
  } else {
    std::string d;
    for (char c : n.descr.substr(0, 40)) d += (c >= 32 && c < 127) ? c : '?';
    throw Error(name + ": dtype " + d + " is not float32 ('<f4')");
  }
  return t;
}

std::vector<uint32_t> u32_from_npy(const std::string& bytes, const std::string& name) {
  const Npy n = parse_npy_bytes(bytes, name);
  if (n.descr != "<u4") {
    std::string d;
    for (char c : n.descr.substr(0, 40)) d += (c >= 32 && c < 127) ? c : '?';
    throw Error(name + ": dtype " + d + " is not uint32 ('<u4')");
  }
  const int64_t count = element_count(n.shape, name + " shape");
  check_payload(n, count, 4, name);
  std::vector<uint32_t> out(count);
  std::memcpy(out.data(), n.payload.data(), count * 4);
  return out;
}

namespace {

// A 32-bit float dataset of an HDF5 file, read in this process: only ever
// called inside vectors::run_isolated (the file is untrusted, 7.8).
FloatTensor read_h5_float_direct(const std::string& file, const std::string& dset) {
  FloatTensor t;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  vectors::note_reading("/ (superblock)");
  H5Handle f{H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  if (f.get() < 0) throw Error(file + ": cannot open as HDF5");
  vectors::note_reading(dset);
  if (H5Lexists(f.get(), dset.c_str(), H5P_DEFAULT) <= 0) throw Error(file + ": dataset " + dset + " does not exist");
  H5Handle d{H5Dopen2(f.get(), dset.c_str(), H5P_DEFAULT), H5Dclose};
  if (d.get() < 0) throw Error(file + ":" + dset + " is not a dataset");
  H5Handle ty{H5Dget_type(d.get()), H5Tclose};
  if (H5Tget_class(ty.get()) != H5T_FLOAT || H5Tget_size(ty.get()) != 4)
    throw Error(file + ":" + dset + " is not a 32-bit float dataset");
  H5Handle sp{H5Dget_space(d.get()), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(sp.get());
  if (rank < 0 || rank > 32) throw Error(file + ":" + dset + " has an unreadable dataspace (rank " + std::to_string(rank) + ")");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(sp.get(), dims.data(), nullptr);
  for (hsize_t v : dims) {
    if (v > (hsize_t(1) << 40)) throw Error(file + ":" + dset + " has a dimension of " + std::to_string(v));
    t.shape.push_back(static_cast<int64_t>(v));
  }
  if (t.shape.empty()) t.shape.push_back(1);
  t.data.resize(element_count(t.shape, file + ":" + dset + " shape"));
  if (H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()) < 0)
    throw Error(file + ":" + dset + ": read failed (corrupt or truncated file?)");
  return t;
}

}  // namespace

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
    if (!vectors::has_hdf5_signature(file)) {
      std::ifstream probe(file, std::ios::binary);
      if (!probe) throw Error(file + ": cannot open: " + std::strerror(errno));
      throw Error(file + ": not an HDF5 file (no HDF5 signature)");
    }
    // Crash-proof (spec 7.8): HDF5 reads the untrusted file in a child process.
    const std::string bytes = vectors::run_isolated(file, [&] {
      const FloatTensor r = read_h5_float_direct(file, dset);
      vectors::ByteWriter w;
      w.u64(r.shape.size());
      for (int64_t v : r.shape) w.u64(static_cast<uint64_t>(v));
      w.u64(r.data.size());
      w.raw(r.data.data(), r.data.size() * sizeof(float));
      return w.take();
    });
    vectors::ByteReader r(bytes);
    t.shape.resize(r.count(8));
    for (auto& v : t.shape) v = static_cast<int64_t>(r.u64());
    t.data.resize(r.count(4));
    r.raw(t.data.data(), t.data.size() * sizeof(float));
    r.end();
    if (element_count(t.shape, file + ":" + dset + " shape") != static_cast<int64_t>(t.data.size())) vectors::ByteReader::bad();
  } else {
    t = float_tensor_from_npy(slurp(source), source);
  }
  if (!shape.empty() && element_count(shape) != static_cast<int64_t>(t.data.size()))
    throw Error("--shape " + shape_string(shape) + " does not match the " + std::to_string(t.data.size()) + " values of " + source);
  if (!shape.empty()) t.shape = shape;
  return t;
}

std::vector<uint32_t> read_uint32_list(const std::string& source) {
  std::vector<uint32_t> out;
  if (source.size() > 4 && source.substr(source.size() - 4) == ".npy") return u32_from_npy(slurp(source), source);
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
  // A name unique to this process and call, removed on failure and should a
  // second signal end the process at once (mls/interrupt.hpp).
  const std::string tmp = interrupt::temp_name(path);
  const interrupt::TempFile guard(tmp);
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("cannot write " + tmp + ": " + std::strerror(errno));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) {
      std::remove(tmp.c_str());
      throw Error("write to " + tmp + " failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path);
  }
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
  H5Handle sp{dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  H5Handle d{H5Dcreate2(file, name, H5T_STD_U32LE, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
  if (d.get() < 0 || H5Dwrite(d.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw Error(std::string("HDF5 write of ") + name + " failed");
}
void h5_attr_str(hid_t obj, const char* name, const std::string& value) {
  H5Handle ty{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(ty.get(), value.size() + 1);
  H5Handle sp{H5Screate(H5S_SCALAR), H5Sclose};
  H5Handle a{H5Acreate2(obj, name, ty.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.get() < 0 || H5Awrite(a.get(), ty.get(), value.c_str()) < 0) throw Error(std::string("HDF5 attribute ") + name + " failed");
}
std::vector<uint32_t> h5_read_u32(hid_t file, const std::string& path, const std::string& name, Shape* shape) {
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0) throw Error(path + ": dataset /" + name + " is missing");
  H5Handle d{H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose};
  H5Handle sp{H5Dget_space(d.get()), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(sp.get());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  H5Sget_simple_extent_dims(sp.get(), dims.data(), nullptr);
  if (d.get() < 0 || rank < 0) throw Error(path + ": /" + name + " is not a readable dataset");
  size_t n = 1;
  for (hsize_t v : dims) {
    if (v != 0 && n > (size_t(1) << 40) / v) throw Error(path + ": /" + name + " has more than 2^40 elements");
    n *= v;
  }
  if (shape) shape->assign(dims.begin(), dims.end());
  std::vector<uint32_t> v(n);
  if (H5Dread(d.get(), H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw Error(path + ": /" + name + " could not be read (corrupt or truncated file?)");
  return v;
}
std::string h5_read_attr_str(hid_t obj, const std::string& path, const char* name) {
  if (H5Aexists(obj, name) <= 0) throw Error(path + ": attribute " + name + " is missing");
  H5Handle a{H5Aopen(obj, name, H5P_DEFAULT), H5Aclose};
  H5Handle ty{H5Aget_type(a.get()), H5Tclose};
  std::string s(H5Tget_size(ty.get()), '\0');
  H5Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(mem.get(), s.size());
  if (H5Aread(a.get(), mem.get(), s.data()) < 0) throw Error(path + ": attribute " + name + " could not be read");
  s.resize(std::strlen(s.c_str()));
  return s;
}
}  // namespace

void write_quantized_h5(const std::string& path, const MlsTensor& t, const std::string& rounding) {
  const std::string tmp = interrupt::temp_name(path);
  const interrupt::TempFile guard(tmp);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  try {
    H5Handle f{H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    if (f.get() < 0) throw Error("cannot create " + tmp);
    h5_write_u32(f.get(), "tensor_scale", {}, {t.tensor_scale});
    h5_write_u32(f.get(), "group_scales", {static_cast<int64_t>(t.group_scales.size())}, t.group_scales);
    h5_write_u32(f.get(), "elements", t.shape, t.elements);
    std::vector<uint32_t> deq;
    for (float v : dequantize_fp32(t)) deq.push_back(float_bits(v));
    h5_write_u32(f.get(), "dequantized_fp32", t.shape, deq);
    h5_attr_str(f.get(), "format", t.format.to_json().dump());
    h5_attr_str(f.get(), "format_name", t.format.short_name());
    h5_attr_str(f.get(), "rounding", rounding);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path);
  }
}

MlsTensor read_quantized(const std::string& source) {
  if (source.size() > 3 && (source.substr(source.size() - 3) == ".h5" || source.substr(source.size() - 5) == ".hdf5")) {
    if (!vectors::has_hdf5_signature(source)) throw Error(source + ": cannot open as HDF5 (missing, truncated or corrupt)");
    // Crash-proof (spec 7.8): HDF5 reads the untrusted file in a child process, which hands back the tensor's JSON.
    const std::string text = vectors::run_isolated(source, [&] {
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      vectors::note_reading("/ (superblock)");
      H5Handle f{H5Fopen(source.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
      if (f.get() < 0) throw Error(source + ": cannot open as HDF5 (missing, truncated or corrupt)");
      MlsTensor t;
      vectors::note_reading("/ attribute format");
      try {
        t.format = format_from_json(nlohmann::json::parse(h5_read_attr_str(f.get(), source, "format")));
      } catch (const nlohmann::json::exception& e) {
        throw Error(source + ": attribute format is not JSON");
      }
      vectors::note_reading("/tensor_scale");
      const std::vector<uint32_t> ts = h5_read_u32(f.get(), source, "tensor_scale", nullptr);
      if (ts.size() != 1) throw Error(source + ": /tensor_scale holds " + std::to_string(ts.size()) + " values, not 1");
      t.tensor_scale = ts[0];
      vectors::note_reading("/group_scales");
      t.group_scales = h5_read_u32(f.get(), source, "group_scales", nullptr);
      vectors::note_reading("/elements");
      t.elements = h5_read_u32(f.get(), source, "elements", &t.shape);
      t.validate();
      return t.to_json().dump();
    });
    try {
      return MlsTensor::from_json(nlohmann::json::parse(text));
    } catch (const nlohmann::json::exception&) {
      vectors::ByteReader::bad();
    } catch (const Error& e) {
      throw Error(source + ": " + e.what());
    }
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(slurp(source));
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  // `mls quantize` adds what a person or a script may want beside the tensor
  // (quantize_result_extras); they are derived from it, so they are dropped here.
  if (j.is_object())
    for (const char* k : quantize_result_extras()) j.erase(k);
  try {
    return MlsTensor::from_json(j);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
}

const std::vector<const char*>& quantize_result_extras() {
  static const std::vector<const char*> v{"format_name", "rounding", "tensor_scale_value", "dequantized_fp32", "dequantized"};
  return v;
}

}  // namespace mls::io
