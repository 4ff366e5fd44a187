// mls-dpi: the golden model behind plain DPI-C functions (mls_dpi.h). Each
// function converts the SystemVerilog-side types to the golden model's and
// back, and calls one public function of reference/ (include/mls/): parse_format,
// quantize_element, dynamic_tensor_scale, select_group_scale, GroupLayout,
// quantize, gemm. No arithmetic happens here.
#include "mls_dpi.h"

#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls/format.hpp"
#include "mls/tensor.hpp"

#ifndef MLS_SPEC_VERSION
#define MLS_SPEC_VERSION "?"
#endif

namespace {

thread_local std::string g_error;
thread_local std::string g_exact;
thread_local const char* g_rule = "";

struct Failure {
  int status;
  std::string message;
};
[[noreturn]] void fail(int status, std::string m) { throw Failure{status, std::move(m)}; }
[[noreturn]] void bad(std::string m) { fail(MLS_DPI_ERR_INPUT, std::move(m)); }

template <class Fn>
int guarded(Fn&& fn) noexcept {
  try {
    g_error.clear();
    fn();
    return MLS_DPI_OK;
  } catch (const Failure& f) {
    g_error = f.message;
    return f.status;
  } catch (const mls::Error& e) {
    g_error = e.what();
    return MLS_DPI_ERR_INPUT;
  } catch (const std::bad_alloc&) {
    g_error = "out of memory";
    return MLS_DPI_ERR_INTERNAL;
  } catch (const std::exception& e) {
    try {
      g_error = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    return MLS_DPI_ERR_INTERNAL;
  } catch (...) {
    return MLS_DPI_ERR_INTERNAL;
  }
}

// Formats are parsed and validated once per text and thread (a testbench calls
// with the same few strings millions of times).
const mls::Format& format_of(const char* text, const char* what) {
  if (!text) bad(std::string(what) + " is NULL");
  thread_local std::unordered_map<std::string, mls::Format> cache;
  thread_local const std::pair<const std::string, mls::Format>* last = nullptr;  // the usual case: the same text again
  if (last && std::strcmp(last->first.c_str(), text) == 0) return last->second;
  auto it = cache.find(text);
  if (it != cache.end()) {
    last = &*it;
    return it->second;
  }
  mls::Format f;
  try {
    f = mls::parse_format(text);
    f.validate();
  } catch (const mls::Error& e) {
    bad(std::string(what) + ": " + e.what());
  }
  if (cache.size() > 4096) cache.clear();
  last = &*cache.emplace(text, std::move(f)).first;
  return last->second;
}

mls::Rounding rounding_of(int mode, int sr_bits) {
  if (mode < MLS_DPI_RNE || mode > MLS_DPI_SR) bad("mode = " + std::to_string(mode) + " is outside 0..6 (rne..sr)");
  static const mls::RoundingMode modes[] = {mls::RoundingMode::rne, mls::RoundingMode::rna, mls::RoundingMode::rtz,
                                            mls::RoundingMode::rup, mls::RoundingMode::rdn, mls::RoundingMode::rto,
                                            mls::RoundingMode::sr};
  mls::Rounding r;
  r.mode = modes[mode];
  r.sr_bits = mode == MLS_DPI_SR ? sr_bits : 8;
  r.validate();
  return r;
}

void need(const void* p, const char* what) {
  if (!p) bad(std::string(what) + " is NULL");
}

// A one-dimensional open array of 32- or 64-bit integers, read and written
// through the standard accessors (contiguous storage where the simulator
// gives it, element by element otherwise).
template <class T>
class Open {
 public:
  Open(svOpenArrayHandle h, const char* what) : h_(h), what_(what) {
    need(h, what);
    if (svDimensions(h) != 1) bad(std::string(what) + " must be a one-dimensional unpacked array");
    n_ = svSize(h, 1);
    low_ = svLow(h, 1);
    data_ = static_cast<T*>(svGetArrayPtr(h));
    if (n_ < 0) bad(std::string(what) + " has no size");
  }
  int64_t size() const { return n_; }
  T get(int64_t i) const { return data_ ? data_[i] : *static_cast<T*>(elem(i)); }
  void set(int64_t i, T v) const {
    if (data_) data_[i] = v;
    else *static_cast<T*>(elem(i)) = v;
  }
  std::vector<T> all() const {
    if (data_) return std::vector<T>(data_, data_ + n_);
    std::vector<T> v(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) v[static_cast<size_t>(i)] = get(i);
    return v;
  }

 private:
  void* elem(int64_t i) const {
    void* p = svGetArrElemPtr1(h_, low_ + static_cast<int>(i));
    if (!p) fail(MLS_DPI_ERR_INTERNAL, std::string(what_) + "[" + std::to_string(i) + "]: no element pointer");
    return p;
  }
  svOpenArrayHandle h_;
  const char* what_;
  int64_t n_ = 0;
  int low_ = 0;
  T* data_ = nullptr;
};

mls::Dyadic fp32_value(uint32_t bits, const char* what) {
  if ((bits & 0x7f800000u) == 0x7f800000u) bad(std::string(what) + " = " + mls::hex32(bits) + " is not finite");
  return mls::Dyadic::from_float(mls::bits_float(bits));
}

mls::Dyadic tensor_scale_value(uint32_t bits, const char* what) {
  if ((bits >> 31) || bits == 0 || (bits & 0x7f800000u) == 0x7f800000u)
    bad(std::string(what) + " = " + mls::hex32(bits) + " is not a positive finite fp32");
  return mls::Dyadic::from_float(mls::bits_float(bits));
}

// Static names of the decision rules (mls::to_string returns a new string).
// The rule's name from its table (a string literal: static storage, NUL-terminated).
const char* rule_name(mls::Rule r) { return mls::enum_entry(r).name.data(); }

mls::Shape shape_of(svOpenArrayHandle h) {
  const std::vector<int64_t> s = Open<int64_t>(h, "shape").all();
  if (s.empty()) bad("shape is empty (rank >= 1 needed)");
  return s;
}

}  // namespace

extern "C" {

const char* mls_dpi_version(void) { return "mls-dpi 0.1 (spec " MLS_SPEC_VERSION ")"; }

const char* mls_dpi_last_error(void) { return g_error.c_str(); }

const char* mls_dpi_last_exact(void) { return g_exact.c_str(); }

const char* mls_dpi_last_rule(void) { return g_rule; }

int mls_dpi_round_element(const char* format, uint32_t x, uint32_t tensor_scale, uint32_t group_scale, int mode,
                          int sr_bits, uint32_t word, uint32_t* code, svBit* saturated) {
  g_rule = "";
  return guarded([&] {
    const mls::Format& f = format_of(format, "format");
    need(code, "code");
    need(saturated, "saturated");
    const mls::Rounding r = rounding_of(mode, sr_bits);
    if ((x & 0x7f800000u) == 0x7f800000u)
      bad("x = " + mls::hex32(x) + " is " + ((x & 0x7fffffu) ? "NaN" : "Inf") +
          ": MLS quantization needs finite input (4.1)");
    if (!f.group_scale.is_valid_code(group_scale))
      bad("group_scale = " + std::to_string(group_scale) + " is not a valid code of " + f.group_scale.name());
    const mls::Dyadic scale = tensor_scale_value(tensor_scale, "tensor_scale") * f.group_scale.decode(group_scale);
    const mls::RoundResult res = mls::quantize_element(f, x, scale, r, word);
    *code = static_cast<uint32_t>(res.code);
    *saturated = res.rule == mls::Rule::saturated ? 1 : 0;
    g_rule = rule_name(res.rule);
  });
}

int mls_dpi_tensor_scale(const char* format, uint32_t amax, uint32_t* tensor_scale) {
  return guarded([&] {
    const mls::Format& f = format_of(format, "format");
    need(tensor_scale, "tensor_scale");
    fp32_value(amax, "amax");
    *tensor_scale = mls::dynamic_tensor_scale(f, mls::bits_float(amax & 0x7fffffffu));
  });
}

int mls_dpi_group_scale(const char* format, uint32_t tensor_scale, uint32_t group_amax, uint32_t* code) {
  return guarded([&] {
    const mls::Format& f = format_of(format, "format");
    need(code, "code");
    fp32_value(group_amax, "group_amax");
    const mls::Dyadic st = tensor_scale_value(tensor_scale, "tensor_scale");
    *code = static_cast<uint32_t>(mls::select_group_scale(f, st, mls::bits_float(group_amax & 0x7fffffffu)).code);
  });
}

int mls_dpi_group_count(const char* format, const svOpenArrayHandle shape, int64_t* count) {
  return guarded([&] {
    const mls::Format& f = format_of(format, "format");
    need(count, "count");
    const mls::Shape s = shape_of(shape);
    mls::element_count(s);
    *count = mls::GroupLayout(f, s).group_count;
  });
}

int mls_dpi_quantize(const char* format, const svOpenArrayHandle shape, const svOpenArrayHandle x, int mode,
                     int sr_bits, const svOpenArrayHandle words, uint32_t static_tensor_scale, uint32_t* tensor_scale,
                     const svOpenArrayHandle group_scales, const svOpenArrayHandle elements) {
  return guarded([&] {
    const mls::Format& f = format_of(format, "format");
    need(tensor_scale, "tensor_scale");
    const mls::Rounding r = rounding_of(mode, sr_bits);
    const mls::Shape s = shape_of(shape);
    const int64_t n = mls::element_count(s);
    const Open<uint32_t> xs(x, "x"), gs(group_scales, "group_scales"), el(elements, "elements");
    if (xs.size() != n)
      bad("x has " + std::to_string(xs.size()) + " values but shape " + mls::shape_string(s) + " has " +
          std::to_string(n) + " elements");
    std::vector<float> xf(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) xf[static_cast<size_t>(i)] = mls::bits_float(xs.get(i));
    std::vector<uint32_t> rand;
    if (r.mode == mls::RoundingMode::sr) rand = Open<uint32_t>(words, "words").all();
    std::optional<uint32_t> st;
    if (static_tensor_scale != 0) st = static_tensor_scale;
    const mls::MlsTensor t = mls::quantize(f, s, xf, r, rand, st);
    if (gs.size() < static_cast<int64_t>(t.group_scales.size()))
      fail(MLS_DPI_ERR_BUFFER, "group_scales holds " + std::to_string(gs.size()) + " codes; the layout has " +
                                   std::to_string(t.group_scales.size()) + " groups");
    if (el.size() != n)
      fail(MLS_DPI_ERR_BUFFER, "elements holds " + std::to_string(el.size()) + " codes; the tensor has " +
                                   std::to_string(n) + " elements");
    *tensor_scale = t.tensor_scale;
    for (size_t g = 0; g < t.group_scales.size(); ++g) gs.set(static_cast<int64_t>(g), t.group_scales[g]);
    for (int64_t i = 0; i < n; ++i) el.set(i, t.elements[static_cast<size_t>(i)]);
  });
}

int mls_dpi_dot(const char* a_format, const char* b_format, const char* arith, uint32_t a_tensor_scale,
                const svOpenArrayHandle a_elements, const svOpenArrayHandle a_group_scales, uint32_t b_tensor_scale,
                const svOpenArrayHandle b_elements, const svOpenArrayHandle b_group_scales, uint32_t* y) {
  return guarded([&] {
    g_exact.clear();
    need(y, "y");
    mls::MlsTensor a, b;
    a.format = format_of(a_format, "a_format");
    b.format = format_of(b_format, "b_format");
    const mls::ArithProfile prof = mls::parse_arith(arith ? arith : "");
    a.elements = Open<uint32_t>(a_elements, "a_elements").all();
    b.elements = Open<uint32_t>(b_elements, "b_elements").all();
    a.group_scales = Open<uint32_t>(a_group_scales, "a_group_scales").all();
    b.group_scales = Open<uint32_t>(b_group_scales, "b_group_scales").all();
    const int64_t K = static_cast<int64_t>(a.elements.size());
    if (K < 1) bad("a_elements is empty (K >= 1 needed)");
    if (static_cast<int64_t>(b.elements.size()) != K)
      bad("b_elements has " + std::to_string(b.elements.size()) + " codes but a_elements has " + std::to_string(K));
    a.shape = {1, K};
    b.shape = {K, 1};
    a.tensor_scale = a_tensor_scale;
    b.tensor_scale = b_tensor_scale;
    const mls::ReductionResult res = mls::gemm(a, b, prof);  // validates both tensors; errors name a. / b.
    *y = res.y.at(0);
    g_exact = res.exact.at(0).normalized().to_string();
  });
}

}  // extern "C"
