// Verilator harness for the RTL units (README.md). Each Verilated model is a
// compile-time instance of its Verilog parameters (E, M, EG, MG, ...); a
// library holds one model per supported format, listed in the generated
// header rtl_models.inc, and reaches them through this interface.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mlsrtl {

// ---- element quantizer (rtl/mls_quantizer.sv) ----------------------------------
struct QuantIn {
  uint32_t x = 0;      // fp32 bits
  uint32_t st = 0;     // fp32 bits of S_t (positive)
  uint32_t gs = 0;     // group-scale code
  uint32_t mode = 0;   // MLS_RNE .. MLS_SR
  uint32_t rbits = 8;  // R (sr)
  uint32_t word = 0;   // random word (sr)
  bool poszero = false;
};
struct QuantOut {
  uint32_t code = 0;
  bool ovf = false;  // |v| > q_max (the code is saturated)
};

struct QuantStats {
  uint64_t cycles = 0;    // clocks simulated, in total
  uint64_t elements = 0;  // elements streamed, in total
  int latency = 0;        // clocks from an element's input to its code (measured)
};

class QuantUnit {
 public:
  virtual ~QuantUnit() = default;
  // Streams n elements, one per clock, and collects the n codes in order.
  // Serialised by a mutex (a Verilated model is single-threaded).
  virtual void run(const QuantIn* in, size_t n, QuantOut* out) = 0;
  virtual QuantStats stats() = 0;
  int E = 0, M = 0, bias = 0, zero_only = 0, Eg = 0, Mg = 0;
  int specials = 0;   // element specials: 0 none, 1 IEEE, 2 NaN at the all-ones magnitude (MLS_SPECIALS_*)
  int biasg = 0;      // group-scale bias (2^Eg - 1 for MLS, 127 for E8M0)
  int gspecials = 0;  // group-scale specials (E8M0: 2, its code 0xff is NaN)
  std::string name;   // "e2m1.g4m1", "e4m3.e8m0"
};

// ---- dot-product unit (rtl/mls_dot.sv) -------------------------------------------
// A stream of terms: pairs of element codes with their segment's two
// group-scale codes; seg_end marks the last term of a segment (6.6), last the
// last term of an output.
struct DotTerm {
  uint32_t a = 0, b = 0;    // element codes
  uint32_t ga = 0, gb = 0;  // group-scale codes of the segment
  bool seg_end = false, last = false;
};
struct DotOut {
  uint32_t acc[4] = {0, 0, 0, 0};  // exact sum V = acc * 2^-FG, 128-bit two's complement, little-endian words
  uint32_t y = 0;                  // fp32 bits of round_fp32(S_t^a S_t^b V)
  bool ovf = false;                // a register overflow under policy error
};
struct DotStats {
  uint64_t cycles = 0, terms = 0, outputs = 0;
  int latency = 0;  // clocks from an output's last term in to its result out (measured)
};

class DotUnit {
 public:
  virtual ~DotUnit() = default;
  // Streams n terms, one per clock, and collects one result per `last` term.
  virtual void run(const DotTerm* t, size_t n, uint32_t sta, uint32_t stb, uint32_t align, uint32_t final_mode,
                   std::vector<DotOut>& out) = 0;
  virtual DotStats stats() = 0;
  int E = 0, M = 0, Eg = 0, Mg = 0;
  int F = 0, W = 0, ovf_policy = 0;  // register parameters (6.9): ovf 0 saturate 1 wrap 2 error
  bool exact = false;                // the model serves the exact profile (6.8)
  int FG = 0;                        // the accumulator's LSB is 2^-FG
  std::string name;
};

const std::vector<QuantUnit*>& quant_units();
const std::vector<DotUnit*>& dot_units();

}  // namespace mlsrtl
