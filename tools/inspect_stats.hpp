// `mls inspect`: quantization-error statistics of fp32 tensors under MLS
// formats, computed from the golden model's exact quantization (spec 4) and
// fp64 dequantization (4.7). No HDF5 and no CLI here, so the tests compile it
// directly (tests/CMakeLists.txt); tools/cmd_inspect.cpp reads the inputs and
// writes the files.
//
// Definitions (x_i the fp32 input, q_i the fp64 dequantized value, e_i = q_i - x_i,
// all sums in double over the n elements; for sr pooled over the seeds, i.e. over
// seeds * n samples):
//   mse            = sum e_i^2 / n
//   sqnr_db        = 10 log10(sum x_i^2 / sum e_i^2); +inf ("exact") when every e_i = 0
//                    (the text and CSV print "inf", the JSON null with "exact": true)
//   max_abs_error  = max |e_i|;  max_rel_error = max |e_i| / |x_i| over x_i != 0 (0 if none)
//   mean_error     = sum e_i / n (the bias)
//   frac_flushed_to_zero = #{x_i != 0, q_i = 0} / n
//   frac_at_qmax   = #{element magnitude code = the largest one (|elem| = q_max)} / n
//   frac_subnormal = #{element code in the e = 0 row with f != 0 (1.3)} / n; for E = 0
//                    (fixed point) every non-zero code lies in that row
//   bits_per_element = 1+E+M + (Eg+Mg) * groups / n + 32 / n   (2.11, |G| = n / groups; Format::bits_per_element:
//                    no 32 / n for a format without a tensor scale, e.g. OCP MX)
//   histograms     = counts per code (element codes with the sign bit; group-scale codes)
//   error_hist     = e_i binned over [-max_abs_error, max_abs_error] for the elements with
//                    x_i != 0 (a zero input is always exact); `exact` counts those with e_i = 0
// sr: `seeds` quantizations with Philox seeds seed, seed+1, ... (spec 5); `averaging`
// gives, for k = 1, 2, 4, ..., seeds, the error of the mean of the first k dequantized
// tensors: its mean (bias) and rms shrink as k grows when the rounding is unbiased.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/progress.hpp"
#include "mls/tensor.hpp"

namespace mls::inspect {

struct Case {
  Format format;
  Rounding rounding;
  std::string label() const;  // "e2m1.g4m1 rne"
};

struct AveragePoint {
  int k = 0;
  double mean_error = 0, rms_error = 0, sqnr_db = 0;
  bool exact = false;
};

struct ErrorHistogram {
  double lo = 0, hi = 0;          // bin edges span [lo, hi], equal widths
  std::vector<uint64_t> counts;   // errors of the x != 0 elements
  uint64_t exact = 0;             // of those, how many have error 0
  uint64_t samples = 0;           // x != 0 samples binned
};

struct Stats {
  int64_t count = 0;   // elements in the tensor
  int seeds = 1;       // quantizations pooled (1 unless sr)
  int64_t groups = 0;
  double bits_per_element = 0;
  double signal_energy = 0, error_energy = 0;  // pooled sums of x^2 and e^2
  double mse = 0, sqnr_db = 0;
  bool exact = false;  // every error is 0 (sqnr_db = +inf)
  double max_abs_error = 0, max_rel_error = 0, mean_error = 0;
  double frac_flushed_to_zero = 0, frac_at_qmax = 0, frac_subnormal = 0;
  std::map<uint32_t, uint64_t> element_hist, group_scale_hist;
  ErrorHistogram error_hist;
  std::vector<double> seed_mean_errors;  // sr: the bias of each seed's quantization
  std::vector<AveragePoint> averaging;   // sr: k = 1, 2, 4, ..., seeds
};

struct Options {
  int seeds = 8;             // quantizations per sr case
  uint64_t seed = 0;         // first Philox seed
  uint32_t stream = 0;       // Philox stream (5: 0 activation, 1 weight, 2 error)
  int bins = 64;             // error-histogram bins
  double target_db = 20.0;   // for the format choice
  int threads = 0;           // 0 = hardware concurrency
  progress::Meter* progress = nullptr;  // live progress: one unit per tensor x case; null = none
};

// Checks one input tensor: non-empty, shape matches, every value finite; errors name
// the tensor and the first bad index (flat and multi-dimensional).
void check_tensor(const std::string& name, const Shape& shape, const std::vector<float>& x);

// Statistics of one case. Throws mls::Error when the format cannot apply to the
// tensor (group shape rank, tensor-scale overflow, element overflow with ovf_error).
Stats inspect_tensor(const Shape& shape, const std::vector<float>& x, const Case& c, const Options& o);

// The statistics of a fixed quantization (no rounding run here): the pure
// computation inspect_tensor pools over seeds, exposed for the tests.
Stats stats_of(const std::vector<float>& x, const MlsTensor& q, int bins);

// Sweep: explicit formats plus the product elements x group_scales x group_shapes x
// scale_policies, each crossed with every mode. Empty lists take the defaults
// (group scale g4m1, the default group shape, ceil, rne; no explicit format and no
// element gives the profile mls-e2m1). Duplicates are dropped, order kept.
struct SweepSpec {
  std::vector<std::string> formats;         // profile, short name or JSON
  bool sweep_elements = false;              // E 0..4 x M 0..7 (E + M >= 1): 39 elements
  std::vector<std::string> elements;        // "e2m1", "e3m2b5z", ...
  std::vector<std::string> group_scales;    // "g4m1", ...
  std::vector<std::string> group_shapes;    // "default" or "1x16x0x0", ...
  std::vector<std::string> scale_policies;  // ceil nearest floor
  std::vector<std::string> modes;           // rne sr8 ...
};
std::vector<std::string> sweep_elements();  // "e0m1", "e0m2", ..., "e4m7" (E-major)
std::vector<Case> build_cases(const SweepSpec& s);

struct TensorInfo {
  std::string name;  // as given, or FILE:/dataset
  Shape shape;
  std::string role, layer, phase;  // from HDF5 attributes, when present
  std::vector<float> data;
};

struct Row {
  size_t tensor = 0;
  size_t case_index = 0;
  Stats stats;
};

struct Report {
  std::vector<TensorInfo> tensors;  // data kept for the summaries
  std::vector<Case> cases;
  std::vector<Row> rows;            // tensor-major, then case order
  Options options;
};

// Every tensor x every case, on `threads` threads; the first error (in row order) is
// rethrown as mls::Error naming the tensor and the case. After SIGINT/SIGTERM
// (mls/interrupt.hpp) the workers stop and interrupt::Interrupted is thrown.
Report run(std::vector<TensorInfo> tensors, std::vector<Case> cases, const Options& o);

// The cheapest format (fewest bits per element, then highest SQNR) with SQNR >= the
// target, per tensor (index into rows; -1 if none) and per role (a case every tensor of
// the role meets; -1 if none).
std::vector<long> choice_per_tensor(const Report& r);
std::map<std::string, long> choice_per_role(const Report& r);  // role -> case index

nlohmann::json to_json(const Report& r);
std::string to_csv(const Report& r);
std::string to_text(const Report& r);

}  // namespace mls::inspect
