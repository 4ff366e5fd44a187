// HDF5 reading and writing (C API) of spec/08-vectors.md. Determinism (8.7):
// object modification times are not tracked, attributes and links are
// written in sorted order, datasets are contiguous without filters, strings
// are fixed-length, and the file format is bounded to the 1.8 format.
#include "mls/vectors/io.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/vectors/h5handle.hpp"
#include "mls/vectors/safe_read.hpp"
#include "mls/vectors/schema.hpp"
#include "mls/vectors/sha256.hpp"

namespace mls::vectors {

namespace {

// ---- HDF5 plumbing ----

// Silences HDF5's own printing once; errors are collected from its stack.
void quiet_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// The innermost messages of HDF5's error stack, for the error text.
std::string h5_stack() {
  std::vector<std::string> msgs;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto* v = static_cast<std::vector<std::string>*>(data);
        if (e->desc && *e->desc && v->size() < 2) v->push_back(e->desc);
        return 0;
      },
      &msgs);
  H5Eclear2(H5E_DEFAULT);
  std::string s;
  for (const auto& m : msgs) s += (s.empty() ? "" : "; ") + m;
  return s.empty() ? "" : " (HDF5: " + s + ")";
}

using Handle = H5Handle;  // the one HDF5 identifier owner (mls/vectors/h5handle.hpp)

struct Ctx {
  std::string file;  // for messages
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(file + ": " + where + ": " + what + h5_stack());
  }
  Handle check(hid_t id, herr_t (*close)(hid_t), const std::string& where, const std::string& what) const {
    if (id < 0) fail(where, what);
    return Handle(id, close);
  }
  void check(herr_t r, const std::string& where, const std::string& what) const {
    if (r < 0) fail(where, what);
  }
};

// A finished temporary file takes its final name (the one write policy of
// mls gen/merge: nothing half-written ever has the final name).
void rename_into_place(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " to it: " + ec.message());
  }
}

std::string join(const std::string& a, const std::string& b) { return a == "/" ? "/" + b : a + "/" + b; }

hid_t file_type(DType t) {
  switch (t) {
    case DType::u8: return H5T_STD_U8LE;
    case DType::u32: return H5T_STD_U32LE;
    case DType::u64: return H5T_STD_U64LE;
    case DType::i64: return H5T_STD_I64LE;
    case DType::str: break;
  }
  return -1;
}
hid_t mem_type(DType t) {
  switch (t) {
    case DType::u8: return H5T_NATIVE_UINT8;
    case DType::u32: return H5T_NATIVE_UINT32;
    case DType::u64: return H5T_NATIVE_UINT64;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::str: break;
  }
  return -1;
}

size_t str_width(const std::vector<std::string>& v) {
  size_t w = 1;
  for (const auto& s : v) w = std::max(w, s.size());
  return w;
}

Handle fixed_string_type(const Ctx& c, size_t width, const std::string& where) {
  Handle t = c.check(H5Tcopy(H5T_C_S1), H5Tclose, where, "cannot create a string type");
  c.check(H5Tset_size(t, width), where, "cannot size a string type");
  c.check(H5Tset_strpad(t, H5T_STR_NULLPAD), where, "cannot set string padding");
  c.check(H5Tset_cset(t, H5T_CSET_ASCII), where, "cannot set string charset");
  return t;
}

// ---- the file checksum in the user block (8.6) ----

constexpr size_t kUserBlock = 512;
constexpr const char* kStampMagic = "mls-vectors-file ";

// SHA-256 of the bytes after the user block, and the file size.
std::pair<uint64_t, std::string> hash_after_user_block(std::istream& f) {
  f.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(f.tellg());
  f.seekg(kUserBlock);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<size_t>(f.gcount()));
  }
  return {size, h.hex()};
}

// Writes "mls-vectors-file size=<bytes> sha256=<hex>\n" into the user block.
void stamp_file(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw Error(path + ": cannot reopen to write the file checksum");
  const auto [size, hex] = hash_after_user_block(f);
  f.clear();
  std::string line = std::string(kStampMagic) + "size=" + std::to_string(size) + " sha256=" + hex + "\n";
  line.resize(kUserBlock, '\0');
  f.seekp(0);
  f.write(line.data(), static_cast<std::streamsize>(line.size()));
  if (!f) throw Error(path + ": cannot write the file checksum");
}

// Checks the user-block checksum of a file that carries one, before HDF5
// parses anything: a damaged file must not reach the HDF5 parser.
void verify_stamp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string head(kUserBlock, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (static_cast<size_t>(f.gcount()) < std::strlen(kStampMagic) || head.rfind(kStampMagic, 0) != 0) return;
  const std::string line = head.substr(0, head.find('\n'));
  uint64_t want_size = 0;
  char hex[65] = {0};
  if (std::sscanf(line.c_str() + std::strlen(kStampMagic), "size=%" SCNu64 " sha256=%64[0-9a-f]", &want_size, hex) != 2 ||
      std::strlen(hex) != 64)
    throw Error(path + ": the file checksum line in the user block is damaged (8.6)");
  f.clear();
  const auto [size, got] = hash_after_user_block(f);
  if (size != want_size)
    throw Error(path + ": file checksum mismatch: the file has " + std::to_string(size) + " bytes, its checksum line says " +
                std::to_string(want_size) + " (truncated, extended or edited) (8.6)");
  if (got != hex)
    throw Error(path + ": file checksum mismatch: the bytes changed after the file was written (corrupt, or edited "
                       "without rewriting it); sha256 " + got + ", expected " + hex + " (8.6)");
}

// ---- writing ----

Handle no_times_plist(const Ctx& c, hid_t cls, const std::string& where) {
  Handle p = c.check(H5Pcreate(cls), H5Pclose, where, "cannot create a property list");
  c.check(H5Pset_obj_track_times(p, false), where, "cannot switch off time tracking");
  return p;
}

void write_attr(const Ctx& c, hid_t obj, const std::string& where, const std::string& name, const AttrValue& v) {
  const std::string w = where + " attribute \"" + name + "\"";
  auto create = [&](hid_t ftype, hid_t space) {
    return c.check(H5Acreate2(obj, name.c_str(), ftype, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, w, "cannot create");
  };
  if (auto s = std::get_if<std::string>(&v)) {
    const size_t width = std::max<size_t>(1, s->size());
    Handle t = fixed_string_type(c, width, w);
    Handle space = c.check(H5Screate(H5S_SCALAR), H5Sclose, w, "cannot create a dataspace");
    Handle a = create(t, space);
    std::string buf = *s;
    buf.resize(width, '\0');
    c.check(H5Awrite(a, t, buf.data()), w, "cannot write");
  } else if (auto i = std::get_if<int64_t>(&v)) {
    Handle space = c.check(H5Screate(H5S_SCALAR), H5Sclose, w, "cannot create a dataspace");
    Handle a = create(H5T_STD_I64LE, space);
    c.check(H5Awrite(a, H5T_NATIVE_INT64, i), w, "cannot write");
  } else if (auto u = std::get_if<uint64_t>(&v)) {
    Handle space = c.check(H5Screate(H5S_SCALAR), H5Sclose, w, "cannot create a dataspace");
    Handle a = create(H5T_STD_U64LE, space);
    c.check(H5Awrite(a, H5T_NATIVE_UINT64, u), w, "cannot write");
  } else {
    const auto& vec = std::get<std::vector<int64_t>>(v);
    if (vec.empty()) c.fail(w, "an integer array attribute must not be empty");
    const hsize_t n = vec.size();
    Handle space = c.check(H5Screate_simple(1, &n, nullptr), H5Sclose, w, "cannot create a dataspace");
    Handle a = create(H5T_STD_I64LE, space);
    c.check(H5Awrite(a, H5T_NATIVE_INT64, vec.data()), w, "cannot write");
  }
}

void write_dataset(const Ctx& c, hid_t parent, const std::string& where, const std::string& name, const Array& a) {
  const std::string w = join(where, name);
  std::vector<hsize_t> dims(a.dims.begin(), a.dims.end());
  Handle space = c.check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, w,
                         "cannot create a dataspace");
  Handle dcpl = no_times_plist(c, H5P_DATASET_CREATE, w);
  c.check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), w, "cannot set the layout");
  c.check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), w, "cannot set the fill time");
  c.check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE), w, "cannot set the allocation time");
  if (a.dtype == DType::str) {
    const size_t width = str_width(a.strs);
    Handle t = fixed_string_type(c, width, w);
    Handle d = c.check(H5Dcreate2(parent, name.c_str(), t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose, w,
                       "cannot create");
    std::string buf(width * a.strs.size(), '\0');
    for (size_t i = 0; i < a.strs.size(); ++i) std::memcpy(&buf[i * width], a.strs[i].data(), a.strs[i].size());
    c.check(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), w, "cannot write");
    return;
  }
  Handle d = c.check(H5Dcreate2(parent, name.c_str(), file_type(a.dtype), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                     H5Dclose, w, "cannot create");
  if (a.ints.size() != a.size()) c.fail(w, "holds " + std::to_string(a.ints.size()) + " values for its shape's " + std::to_string(a.size()));
  switch (a.dtype) {
    case DType::u8: {
      std::vector<uint8_t> b(a.ints.begin(), a.ints.end());
      c.check(H5Dwrite(d, mem_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data()), w, "cannot write");
      break;
    }
    case DType::u32: {
      std::vector<uint32_t> b(a.ints.begin(), a.ints.end());
      c.check(H5Dwrite(d, mem_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data()), w, "cannot write");
      break;
    }
    default:
      c.check(H5Dwrite(d, mem_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.ints.data()), w, "cannot write");
  }
}

Handle create_group(const Ctx& c, hid_t parent, const std::string& where, const std::string& name) {
  const std::string w = join(where, name);
  Handle gcpl = no_times_plist(c, H5P_GROUP_CREATE, w);
  return c.check(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, w, "cannot create group");
}

void write_file(const Ctx& c, const std::string& tmp, const Suite& s) {
  Handle fcpl = no_times_plist(c, H5P_FILE_CREATE, "/");
  c.check(H5Pset_userblock(fcpl, kUserBlock), "/", "cannot reserve the user block");
  Handle fapl = c.check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "/", "cannot create a property list");
  c.check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18), "/", "cannot bound the file format");
  Handle f = c.check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl, fapl), H5Fclose, "/",
                     "cannot create the file " + tmp);
  {
    Handle root = c.check(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, "/", "cannot open the root group");
    for (const auto& [k, v] : s.attrs) write_attr(c, root, "/", k, v);
    std::map<std::string, std::vector<const CaseGroup*>> by_op;
    for (const auto& g : s.groups) by_op[to_string(g.op)].push_back(&g);
    for (const auto& [op, groups] : by_op) {
      Handle og = create_group(c, root, "/", op);
      for (const CaseGroup* g : groups) {
        const std::string leaf = g->path.substr(op.size() + 2);
        Handle cg = create_group(c, og, "/" + op, leaf);
        for (const auto& [k, v] : g->attrs) write_attr(c, cg, g->path, k, v);
        std::map<std::string, std::vector<std::pair<std::string, const Array*>>> sections;
        for (const auto& [name, a] : g->data) {
          const size_t slash = name.find('/');
          sections[name.substr(0, slash)].push_back({name.substr(slash + 1), &a});
        }
        for (const auto& [sec, items] : sections) {
          Handle sg = create_group(c, cg, g->path, sec);
          for (const auto& [name, a] : items) write_dataset(c, sg, join(g->path, sec), name, *a);
        }
      }
    }
  }
  c.check(H5Fflush(f, H5F_SCOPE_GLOBAL), "/", "cannot flush the file");
}

// ---- reading ----

// Member names in byte-wise (name index) order; plain 1.8 API calls so the
// code builds against HDF5 1.10 and later alike.
std::vector<std::string> list_links(const Ctx& c, hid_t g, const std::string& where) {
  note_reading(where + " (members)");
  H5G_info_t info;
  c.check(H5Gget_info(g, &info), where, "cannot list the members (corrupt file?)");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) c.fail(where, "cannot read a member name (corrupt file?)");
    std::string name(static_cast<size_t>(len) + 1, '\0');
    if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) < 0)
      c.fail(where, "cannot read a member name (corrupt file?)");
    name.resize(static_cast<size_t>(len));
    names.push_back(std::move(name));
  }
  return names;
}

H5I_type_t object_type(const Ctx& c, hid_t parent, const std::string& name, const std::string& where) {
  Handle o = c.check(H5Oopen(parent, name.c_str(), H5P_DEFAULT), H5Oclose, where, "cannot open the object (corrupt file?)");
  return H5Iget_type(o);
}

std::string read_string(const Ctx& c, hid_t obj, hid_t type, bool is_attr, const std::string& where, size_t count,
                        std::vector<std::string>* out) {
  const bool var = H5Tis_variable_str(type) > 0;
  const H5T_cset_t cset = H5Tget_cset(type);  // h5py writes UTF-8; the memory type must match
  if (var) {
    Handle mt = c.check(H5Tcopy(H5T_C_S1), H5Tclose, where, "cannot create a string type");
    c.check(H5Tset_size(mt, H5T_VARIABLE), where, "cannot size a string type");
    c.check(H5Tset_cset(mt, cset), where, "cannot set a string charset");
    std::vector<char*> ptrs(count, nullptr);
    const herr_t r = is_attr ? H5Aread(obj, mt, ptrs.data()) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    c.check(r, where, "cannot read");
    for (size_t i = 0; i < count; ++i) {
      out->push_back(ptrs[i] ? std::string(ptrs[i]) : std::string());
      H5free_memory(ptrs[i]);
    }
    return "";
  }
  const size_t width = H5Tget_size(type);
  if (width == 0) c.fail(where, "has a string type of size 0");
  Handle mt = fixed_string_type(c, width, where);
  c.check(H5Tset_cset(mt, cset), where, "cannot set a string charset");
  std::string buf(width * count, '\0');
  const herr_t r = is_attr ? H5Aread(obj, mt, buf.data()) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  c.check(r, where, "cannot read");
  for (size_t i = 0; i < count; ++i) {
    std::string s = buf.substr(i * width, width);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    if (H5Tget_strpad(type) == H5T_STR_SPACEPAD)
      while (!s.empty() && s.back() == ' ') s.pop_back();
    out->push_back(std::move(s));
  }
  return "";
}

AttrValue read_attr(const Ctx& c, hid_t obj, const std::string& where, const std::string& name) {
  const std::string w = where + " attribute \"" + name + "\"";
  Handle a = c.check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, w, "cannot open");
  Handle t = c.check(H5Aget_type(a), H5Tclose, w, "cannot get the type");
  Handle space = c.check(H5Aget_space(a), H5Sclose, w, "cannot get the dataspace");
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) c.fail(w, "has an unreadable dataspace");
  hsize_t dims[8] = {0};
  if (rank > 1) c.fail(w, "must be a scalar or a 1-D array");
  if (rank == 1) H5Sget_simple_extent_dims(space, dims, nullptr);
  const H5T_class_t cls = H5Tget_class(t);
  if (cls == H5T_STRING) {
    if (rank != 0 && dims[0] != 1) c.fail(w, "must be a single string");
    std::vector<std::string> v;
    read_string(c, a, t, true, w, 1, &v);
    return v.at(0);
  }
  if (cls != H5T_INTEGER) c.fail(w, "must be an integer or a string");
  const bool is_signed = H5Tget_sign(t) == H5T_SGN_2;
  if (rank == 0) {
    if (is_signed) {
      int64_t v = 0;
      c.check(H5Aread(a, H5T_NATIVE_INT64, &v), w, "cannot read");
      return v;
    }
    uint64_t v = 0;
    c.check(H5Aread(a, H5T_NATIVE_UINT64, &v), w, "cannot read");
    return v;
  }
  if (dims[0] == 0 || dims[0] > (1u << 20)) c.fail(w, "has " + std::to_string(dims[0]) + " entries");
  std::vector<int64_t> v(dims[0]);
  if (!is_signed) {
    std::vector<uint64_t> u(dims[0]);
    c.check(H5Aread(a, H5T_NATIVE_UINT64, u.data()), w, "cannot read");
    for (size_t i = 0; i < u.size(); ++i) {
      if (u[i] > uint64_t(INT64_MAX)) c.fail(w, "entry " + std::to_string(i) + " is out of range");
      v[i] = static_cast<int64_t>(u[i]);
    }
  } else {
    c.check(H5Aread(a, H5T_NATIVE_INT64, v.data()), w, "cannot read");
  }
  return v;
}

Attrs read_attrs(const Ctx& c, hid_t obj, const std::string& where) {
  note_reading(where + " (attributes)");
  std::vector<std::string> names;
  hsize_t idx = 0;
  const herr_t r = H5Aiterate2(
      obj, H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names);
  c.check(r, where, "cannot list the attributes (corrupt file?)");
  Attrs a;
  for (const auto& n : names) a[n] = read_attr(c, obj, where, n);
  return a;
}

Array read_dataset(const Ctx& c, hid_t parent, const std::string& where, const std::string& name) {
  const std::string w = join(where, name);
  note_reading(w);
  Handle d = c.check(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose, w, "cannot open the dataset");
  Handle t = c.check(H5Dget_type(d), H5Tclose, w, "cannot get the type");
  Handle space = c.check(H5Dget_space(d), H5Sclose, w, "cannot get the dataspace");
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 1 || rank > 16) c.fail(w, "has rank " + std::to_string(rank) + " (a case dataset has rank 1..16)");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  Array a;
  a.dims.assign(dims.begin(), dims.end());
  uint64_t n = 1;
  for (hsize_t x : dims) {
    if (x != 0 && n > (uint64_t(1) << 34) / x) c.fail(w, "is too large");
    n *= x;
  }
  const H5T_class_t cls = H5Tget_class(t);
  if (cls == H5T_STRING) {
    a.dtype = DType::str;
    read_string(c, d, t, false, w, n, &a.strs);
    return a;
  }
  if (cls != H5T_INTEGER) c.fail(w, "must hold integers or strings (found HDF5 type class " + std::to_string(cls) + ")");
  const size_t size = H5Tget_size(t);
  const bool is_signed = H5Tget_sign(t) == H5T_SGN_2;
  if (!is_signed && size == 1) a.dtype = DType::u8;
  else if (!is_signed && size == 4) a.dtype = DType::u32;
  else if (!is_signed && size == 8) a.dtype = DType::u64;
  else if (is_signed && size == 8) a.dtype = DType::i64;
  else
    c.fail(w, std::string("dtype ") + (is_signed ? "int" : "uint") + std::to_string(8 * size) +
                  " is not one of the schema's uint8, uint32, uint64, int64");
  a.ints.resize(n);
  herr_t r;
  if (a.dtype == DType::u8) {
    std::vector<uint8_t> b(n);
    r = H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data());
    std::copy(b.begin(), b.end(), a.ints.begin());
  } else if (a.dtype == DType::u32) {
    std::vector<uint32_t> b(n);
    r = H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data());
    std::copy(b.begin(), b.end(), a.ints.begin());
  } else {
    r = H5Dread(d, mem_type(a.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.ints.data());
  }
  c.check(r, w, "cannot read the data (truncated or corrupt file?)");
  return a;
}

CaseGroup read_case_group(const Ctx& c, hid_t og, Op op, const std::string& name) {
  CaseGroup g;
  g.op = op;
  g.path = "/" + to_string(op) + "/" + name;
  Handle cg = c.check(H5Gopen2(og, name.c_str(), H5P_DEFAULT), H5Gclose, g.path, "cannot open the group");
  g.attrs = read_attrs(c, cg, g.path);
  for (const auto& sec : list_links(c, cg, g.path)) {
    const std::string sp = join(g.path, sec);
    if (sec != "inputs" && sec != "outputs" && sec != "info")
      c.fail(sp, "is not a section of a case group (inputs, outputs, info)");
    if (object_type(c, cg, sec, sp) != H5I_GROUP) c.fail(sp, "must be a group");
    Handle sg = c.check(H5Gopen2(cg, sec.c_str(), H5P_DEFAULT), H5Gclose, sp, "cannot open the group");
    for (const auto& ds : list_links(c, sg, sp)) {
      if (object_type(c, sg, ds, join(sp, ds)) != H5I_DATASET) c.fail(join(sp, ds), "must be a dataset");
      g.data[sec + "/" + ds] = read_dataset(c, sg, sp, ds);
    }
  }
  return g;
}

Suite read_file(const Ctx& c, const std::string& path, bool verify) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
  if (verify) verify_stamp(path);
  const htri_t is = H5Fis_hdf5(path.c_str());
  if (is <= 0)
    throw Error(path + ": not an HDF5 file (no HDF5 signature: truncated, corrupt or another format)" + h5_stack());
  note_reading("/ (superblock)");
  Handle f = c.check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "/",
                     "cannot open the file (truncated or corrupt?)");
  Handle root = c.check(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, "/", "cannot open the root group");
  Suite s;
  s.attrs = read_attrs(c, root, "/");
  // Schema identity first, so a file of another schema or version fails clearly.
  if (!s.attrs.count("schema")) c.fail("/", "attribute \"schema\" is missing: not an mls-vectors file");
  const std::string schema = attr_str(s.attrs, "schema", "/");
  if (schema != kSchemaName) c.fail("/", "attribute \"schema\" = \"" + schema + "\" is not \"" + kSchemaName + "\"");
  if (!s.attrs.count("schema_version")) c.fail("/", "attribute \"schema_version\" is missing");
  const int64_t ver = attr_int(s.attrs, "schema_version", "/");
  if (ver != kSchemaVersion)
    c.fail("/", "unknown schema_version " + std::to_string(ver) + " (this reader knows version " +
                    std::to_string(kSchemaVersion) + ")");
  const Kind kind = s.kind();
  for (const auto& k : required_root_attrs(kind))
    if (!s.attrs.count(k)) c.fail("/", "attribute \"" + k + "\" is missing");
  for (const auto& opname : list_links(c, root, "/")) {
    const std::string op_path = "/" + opname;
    Op op;
    try {
      op = op_from_string(opname, "group name");
    } catch (const Error& e) {
      c.fail(op_path, e.what());
    }
    if (object_type(c, root, opname, op_path) != H5I_GROUP) c.fail(op_path, "must be a group");
    Handle og = c.check(H5Gopen2(root, opname.c_str(), H5P_DEFAULT), H5Gclose, op_path, "cannot open the group");
    for (const auto& name : list_links(c, og, op_path)) {
      if (object_type(c, og, name, join(op_path, name)) != H5I_GROUP) c.fail(join(op_path, name), "must be a group");
      s.groups.push_back(read_case_group(c, og, op, name));
    }
  }
  std::sort(s.groups.begin(), s.groups.end(), [](const CaseGroup& a, const CaseGroup& b) { return a.path < b.path; });
  return s;
}

// ---- digests (8.6) ----

void put_u32(Sha256& h, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = uint8_t(v >> (8 * i));
  h.update(b, 4);
}
void put_u64(Sha256& h, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(v >> (8 * i));
  h.update(b, 8);
}
void put_head(Sha256& h, char tag, const std::string& name, char type, const std::vector<uint64_t>& dims) {
  h.update(&tag, 1);
  put_u32(h, static_cast<uint32_t>(name.size()));
  h.update(name);
  h.update(&type, 1);
  put_u32(h, static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) put_u64(h, d);
}
void put_strings(Sha256& h, const std::vector<std::string>& v) {
  const size_t w = str_width(v);
  put_u32(h, static_cast<uint32_t>(w));
  std::string buf;
  for (const auto& s : v) {
    buf = s;
    buf.resize(w, '\0');
    h.update(buf);
  }
}
void hash_attrs(Sha256& h, const Attrs& attrs, const std::string& skip) {
  for (const auto& [k, v] : attrs) {
    if (k == skip) continue;
    if (auto s = std::get_if<std::string>(&v)) {
      put_head(h, 'A', k, 's', {});
      put_strings(h, {*s});
    } else if (auto i = std::get_if<int64_t>(&v)) {
      put_head(h, 'A', k, 'q', {});
      put_u64(h, static_cast<uint64_t>(*i));
    } else if (auto u = std::get_if<uint64_t>(&v)) {
      put_head(h, 'A', k, 'Q', {});
      put_u64(h, *u);
    } else {
      const auto& vec = std::get<std::vector<int64_t>>(v);
      put_head(h, 'A', k, 'q', {vec.size()});
      for (int64_t x : vec) put_u64(h, static_cast<uint64_t>(x));
    }
  }
}
std::array<uint8_t, 32> group_digest_raw(const CaseGroup& g) {
  Sha256 h;
  hash_attrs(h, g.attrs, "sha256");
  for (const auto& [name, a] : g.data) {
    const char type = a.dtype == DType::u8 ? 'B' : a.dtype == DType::u32 ? 'I' : a.dtype == DType::u64 ? 'Q'
                      : a.dtype == DType::i64 ? 'q' : 's';
    put_head(h, 'D', name, type, a.dims);
    if (a.dtype == DType::str) {
      put_strings(h, a.strs);
      continue;
    }
    const int width = a.dtype == DType::u8 ? 1 : a.dtype == DType::u32 ? 4 : 8;
    std::vector<uint8_t> buf(a.ints.size() * width);
    for (size_t i = 0; i < a.ints.size(); ++i)
      for (int b = 0; b < width; ++b) buf[i * width + b] = uint8_t(a.ints[i] >> (8 * b));
    h.update(buf.data(), buf.size());
  }
  return h.finish();
}

void check_sorted_unique(const Suite& s) {
  std::set<std::string> seen;
  for (const auto& g : s.groups) {
    if (g.path != "/" + to_string(g.op) + "/" + g.path.substr(to_string(g.op).size() + 2) ||
        g.path.size() <= to_string(g.op).size() + 2 || g.path.find('/', to_string(g.op).size() + 2) != std::string::npos)
      throw Error(g.path + ": a case group's path must be /<op>/<name>");
    if (!seen.insert(g.path).second) throw Error(g.path + ": two case groups have this path");
  }
}

}  // namespace

std::string group_digest(const CaseGroup& g) {
  const auto d = group_digest_raw(g);
  return to_hex(d.data(), d.size());
}

std::string content_digest(const Suite& s) {
  Sha256 h;
  hash_attrs(h, s.attrs, "content_sha256");
  std::vector<const CaseGroup*> order;
  for (const auto& g : s.groups) order.push_back(&g);
  std::sort(order.begin(), order.end(), [](const CaseGroup* a, const CaseGroup* b) { return a->path < b->path; });
  for (const CaseGroup* g : order) {
    put_head(h, 'G', g->path, 'h', {});
    const auto d = group_digest_raw(*g);
    h.update(d.data(), d.size());
  }
  return h.hex();
}

void finalize_suite(Suite& s) {
  std::sort(s.groups.begin(), s.groups.end(), [](const CaseGroup& a, const CaseGroup& b) { return a.path < b.path; });
  check_sorted_unique(s);
  uint64_t total = 0;
  for (auto& g : s.groups) {
    if (g.data.empty()) throw Error(g.path + ": a case group needs datasets");
    const uint64_t n = g.data.begin()->second.rows();
    for (const auto& [name, a] : g.data)
      if (a.rows() != n)
        throw Error(g.path + "/" + name + ": has " + std::to_string(a.rows()) + " cases, " + g.data.begin()->first +
                    " has " + std::to_string(n));
    g.attrs["case_count"] = n;
    g.attrs["op"] = to_string(g.op);
    g.attrs.erase("sha256");
    g.attrs["sha256"] = group_digest(g);
    total += n;
  }
  s.attrs["group_count"] = static_cast<uint64_t>(s.groups.size());
  s.attrs["case_count"] = total;
  s.attrs["content_sha256"] = content_digest(s);
}

void write_suite(const std::string& path, Suite s) {
  quiet_hdf5();
  finalize_suite(s);
  const Kind kind = s.kind();
  if (kind == Kind::vectors)
    for (const auto& k : required_root_attrs(kind))
      if (!s.attrs.count(k)) throw Error(path + ": /: attribute \"" + k + "\" is missing");
  for (const auto& g : s.groups) {
    try {
      validate_group(g, kind, kind == Kind::vectors ? nullptr : &g);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  }
  // A unique temporary name in the target directory, renamed into place at the end
  // (and removed should a second signal end the process at once).
  const std::string tmp = interrupt::temp_name(path);
  const interrupt::TempFile guard(tmp);
  Ctx c{path};
  try {
    std::remove(tmp.c_str());
    write_file(c, tmp, s);
    stamp_file(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  rename_into_place(tmp, path);
}

Suite read_suite(const std::string& path, const ReadOptions& opt) {
  quiet_hdf5();
  Ctx c{path};
  Suite s = read_file(c, path, opt.verify_digests);
  const Kind kind = s.kind();
  for (const auto& g : s.groups) {
    try {
      if (kind == Kind::vectors) validate_group(g, kind);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
    if (opt.verify_digests && (kind == Kind::vectors || g.attrs.count("sha256"))) {
      const std::string stored = attr_str(g.attrs, "sha256", path + ": " + g.path);
      if (stored != group_digest(g))
        throw Error(path + ": " + g.path + ": content digest mismatch (stored sha256 " + stored +
                    ", computed " + group_digest(g) + "): the data are corrupt or were modified");
    }
  }
  if (kind == Kind::vectors) {
    if (attr_uint(s.attrs, "group_count", path + ": /") != s.groups.size())
      throw Error(path + ": /: attribute \"group_count\" = " + std::to_string(attr_uint(s.attrs, "group_count", "/")) +
                  " but the file holds " + std::to_string(s.groups.size()) + " case groups");
    if (attr_uint(s.attrs, "case_count", path + ": /") != s.case_count())
      throw Error(path + ": /: attribute \"case_count\" = " + std::to_string(attr_uint(s.attrs, "case_count", "/")) +
                  " but the case groups hold " + std::to_string(s.case_count()) + " cases");
  }
  if (opt.verify_digests && (kind == Kind::vectors || s.attrs.count("content_sha256"))) {
    const std::string stored = attr_str(s.attrs, "content_sha256", path + ": /");
    const std::string computed = content_digest(s);
    if (stored != computed)
      throw Error(path + ": /: content digest mismatch (stored content_sha256 " + stored + ", computed " + computed +
                  "): the file is corrupt or was modified");
  }
  return s;
}

Suite read_results(const std::string& path, const Suite& vectors, const ReadOptions& opt) {
  Suite r = read_suite(path, opt);
  if (r.kind() != Kind::results) throw Error(path + ": /: attribute \"kind\" is \"vectors\", expected a results file");
  for (auto& g : r.groups) {
    const CaseGroup* v = vectors.find(g.path);
    if (!v) throw Error(path + ": " + g.path + ": the vector file has no such case group");
    if (v->op != g.op) throw Error(path + ": " + g.path + ": op differs from the vector file's");
    try {
      validate_group(g, Kind::results, v);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
    // Attributes a results writer may omit (8.5) are taken from the vector file.
    for (const auto& [k, val] : v->attrs)
      if (k != "sha256" && !g.attrs.count(k)) g.attrs[k] = val;
  }
  return r;
}

Suite make_results(const Suite& vectors, const std::string& implementation) {
  Suite r;
  r.attrs["schema"] = std::string(kSchemaName);
  r.attrs["schema_version"] = kSchemaVersion;
  r.attrs["kind"] = std::string("results");
  r.attrs["generator"] = implementation;
  if (vectors.attrs.count("content_sha256")) r.attrs["vectors_sha256"] = attr_str(vectors.attrs, "content_sha256", "/");
  if (vectors.attrs.count("spec_version")) r.attrs["spec_version"] = attr_str(vectors.attrs, "spec_version", "/");
  for (const auto& v : vectors.groups) {
    CaseGroup g;
    g.path = v.path;
    g.op = v.op;
    g.attrs = v.attrs;
    g.attrs.erase("sha256");
    for (const auto& s : dataset_specs(v.op, v.attrs, v.path)) {
      if (s.name.rfind("outputs/", 0) != 0) continue;
      std::vector<uint64_t> dims = {v.count()};
      for (uint64_t d : case_dims(s, v.attrs, v.path)) dims.push_back(d);
      Array a = Array::make(s.dtypes.front(), dims);
      if (s.name == "outputs/status") std::fill(a.ints.begin(), a.ints.end(), uint64_t(kStatusNotRun));
      g.data[s.name] = std::move(a);
    }
    r.groups.push_back(std::move(g));
  }
  return r;
}

void write_tree(const std::string& path, const Tree& t) {
  quiet_hdf5();
  for (const auto& [name, a] : t.data) {
    const size_t slash = name.find('/');
    if (slash == 0 || slash == std::string::npos || slash + 1 == name.size() || name.find('/', slash + 1) != std::string::npos)
      throw Error(path + ": dataset \"" + name + "\" must be named <group>/<dataset>");
    if (a.dtype != DType::str && a.ints.size() != a.size())
      throw Error(path + ": /" + name + " holds " + std::to_string(a.ints.size()) + " values for its shape's " +
                  std::to_string(a.size()));
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  Ctx c{path};
  try {
    std::remove(tmp.c_str());
    {
      Handle fcpl = no_times_plist(c, H5P_FILE_CREATE, "/");
      c.check(H5Pset_userblock(fcpl, kUserBlock), "/", "cannot reserve the user block");
      Handle fapl = c.check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "/", "cannot create a property list");
      c.check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18), "/", "cannot bound the file format");
      Handle f = c.check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl, fapl), H5Fclose, "/", "cannot create the file " + tmp);
      {
        Handle root = c.check(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, "/", "cannot open the root group");
        for (const auto& [k, v] : t.attrs) write_attr(c, root, "/", k, v);
        std::map<std::string, std::vector<std::pair<std::string, const Array*>>> sections;
        for (const auto& [name, a] : t.data) sections[name.substr(0, name.find('/'))].push_back({name.substr(name.find('/') + 1), &a});
        for (const auto& [sec, items] : sections) {
          Handle sg = create_group(c, root, "/", sec);
          for (const auto& [name, a] : items) write_dataset(c, sg, "/" + sec, name, *a);
        }
      }
      c.check(H5Fflush(f, H5F_SCOPE_GLOBAL), "/", "cannot flush the file");
    }
    stamp_file(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  rename_into_place(tmp, path);
}

Tree read_tree(const std::string& path, bool verify) {
  quiet_hdf5();
  Ctx c{path};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
  if (verify) verify_stamp(path);
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw Error(path + ": not an HDF5 file (no HDF5 signature: truncated, corrupt or another format)" + h5_stack());
  note_reading("/ (superblock)");
  Handle f = c.check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "/",
                     "cannot open the file (truncated or corrupt?)");
  Handle root = c.check(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, "/", "cannot open the root group");
  Tree t;
  t.attrs = read_attrs(c, root, "/");
  for (const auto& sec : list_links(c, root, "/")) {
    const std::string sp = "/" + sec;
    if (object_type(c, root, sec, sp) != H5I_GROUP) c.fail(sp, "must be a group");
    Handle sg = c.check(H5Gopen2(root, sec.c_str(), H5P_DEFAULT), H5Gclose, sp, "cannot open the group");
    for (const auto& ds : list_links(c, sg, sp)) {
      if (object_type(c, sg, ds, join(sp, ds)) != H5I_DATASET) c.fail(join(sp, ds), "must be a dataset");
      t.data[sec + "/" + ds] = read_dataset(c, sg, sp, ds);
    }
  }
  return t;
}

bool has_file_checksum(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string head(std::strlen(kStampMagic), '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  return static_cast<size_t>(f.gcount()) == head.size() && head == kStampMagic;
}

std::string hdf5_version() {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  return std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
}

}  // namespace mls::vectors
