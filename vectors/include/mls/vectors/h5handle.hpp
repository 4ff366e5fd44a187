// The one RAII owner of an HDF5 C-API identifier (file, group, dataset,
// dataspace, datatype, attribute, property list) in mls. Every reader and
// writer of HDF5 (vectors/src/io.cpp, tools/io.cpp, tools/cmd_inspect.cpp)
// holds its identifiers in this type; there is no second wrapper.
//
// mls uses the HDF5 C API only (not the C++ API, hdf5_cpp): the readers need
// the C error stack for their messages (H5Ewalk2) and run inside the crash-
// proof child of safe_read.hpp, where the C++ API's exceptions add nothing.
#pragma once
#include <hdf5.h>

#include <utility>

namespace mls::vectors {

class H5Handle {
 public:
  H5Handle() = default;
  // Owns `id` (if valid, >= 0) and closes it with `close` (H5Fclose, H5Dclose, ...).
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H5Handle& operator=(H5Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  ~H5Handle() {
    if (id_ >= 0 && close_) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

}  // namespace mls::vectors
