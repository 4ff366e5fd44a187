// The Verilated models of one library (the list comes from the generated
// rtl_models.inc) behind the interfaces of rtl_units.hpp: a clock loop that
// streams one element or term per clock and collects results in order.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "mls_backend.h"

#include "rtl_models.inc"  // #includes the model headers, defines MLS_RTL_QUANT_LIST / MLS_RTL_DOT_LIST
#include "rtl_units.hpp"
#include "verilated.h"

// Verilator's runtime wants this symbol when a model calls $time; the units do not.
double sc_time_stamp() { return 0; }

namespace mlsrtl {
namespace {

constexpr uint64_t kStall = 4096;  // clocks without progress before the harness gives up

template <class V>
class QuantImpl final : public QuantUnit {
 public:
  QuantImpl(const char* n, int e, int m, int b, int z, int eg, int mg, int sp, int bg, int gsp) {
    name = n;
    E = e, M = m, bias = b, zero_only = z, Eg = eg, Mg = mg, specials = sp, biasg = bg, gspecials = gsp;
    ctx_ = std::make_unique<VerilatedContext>();
    model_ = std::make_unique<V>(ctx_.get(), n);
    model_->clk = 0;
    model_->in_valid = 0;
    model_->eval();
    for (int i = 0; i < 256; ++i) tick();  // drain: every valid bit 0
    st_.cycles = 0;
  }
  void run(const QuantIn* in, size_t n, QuantOut* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    size_t sent = 0, got = 0;
    uint64_t idle = 0, first_in = 0;
    while (got < n) {
      V& m = *model_;
      if (sent < n) {
        const QuantIn& q = in[sent];
        m.in_valid = 1;
        m.in_x = q.x;
        m.in_st = q.st & 0x7fffffffu;
        m.in_gs = q.gs;
        m.in_mode = q.mode;
        m.in_rbits = q.rbits & 63u;
        m.in_word = q.word;
        m.in_poszero = q.poszero;
        if (sent == 0) first_in = st_.cycles;
        ++sent;
      } else {
        m.in_valid = 0;
      }
      tick();
      if (m.out_valid) {
        if (got == 0 && st_.latency == 0) st_.latency = static_cast<int>(st_.cycles - first_in);
        out[got].code = m.out_code;
        out[got].ovf = m.out_ovf;
        ++got;
        idle = 0;
      } else if (++idle > kStall) {
        throw std::runtime_error("RTL quantizer " + name + ": no output for " + std::to_string(kStall) + " clocks");
      }
    }
    st_.elements += n;
  }
  QuantStats stats() override {
    std::lock_guard<std::mutex> lock(mu_);
    return st_;
  }

 private:
  void tick() {
    model_->clk = 1;
    model_->eval();
    model_->clk = 0;
    model_->eval();
    ++st_.cycles;
  }
  std::mutex mu_;
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<V> model_;
  QuantStats st_;
};

template <class V>
class DotImpl final : public DotUnit {
 public:
  DotImpl(const char* n, int e, int m, int eg, int mg, int f, int w, int ovf, int ex) {
    name = n;
    E = e, M = m, Eg = eg, Mg = mg, F = f, W = w, ovf_policy = ovf, exact = ex != 0;
    FG = F + 2 * (((1 << Eg) - 1) + Mg);
    ctx_ = std::make_unique<VerilatedContext>();
    model_ = std::make_unique<V>(ctx_.get(), n);
    model_->clk = 0;
    model_->in_valid = 0;
    model_->eval();
    for (int i = 0; i < 16; ++i) tick();
    st_.cycles = 0;
  }
  void run(const DotTerm* t, size_t n, uint32_t sta, uint32_t stb, uint32_t align, uint32_t final_mode,
           std::vector<DotOut>& out) override {
    std::lock_guard<std::mutex> lock(mu_);
    size_t want = 0;
    for (size_t i = 0; i < n; ++i) want += t[i].last ? 1 : 0;
    out.assign(want, DotOut{});
    size_t sent = 0, got = 0;
    uint64_t idle = 0, last_in = 0;
    V& m = *model_;
    m.in_sta = sta & 0x7fffffffu;
    m.in_stb = stb & 0x7fffffffu;
    m.in_align = align;
    m.in_final = final_mode;
    while (got < want) {
      if (sent < n) {
        const DotTerm& d = t[sent];
        m.in_valid = 1;
        m.in_a = d.a;
        m.in_b = d.b;
        m.in_ga = d.ga;
        m.in_gb = d.gb;
        m.in_seg_end = d.seg_end;
        m.in_last = d.last;
        if (d.last && got == 0) last_in = st_.cycles;
        ++sent;
      } else {
        m.in_valid = 0;
      }
      tick();
      if (m.out_valid) {
        if (got == 0 && st_.latency == 0) st_.latency = static_cast<int>(st_.cycles - last_in);
        DotOut& o = out[got++];
        for (int k = 0; k < 4; ++k) o.acc[k] = m.out_acc[k];
        o.y = m.out_y;
        o.ovf = m.out_ovf;
        idle = 0;
      } else if (++idle > kStall) {
        throw std::runtime_error("RTL dot unit " + name + ": no output for " + std::to_string(kStall) + " clocks");
      }
    }
    st_.terms += n;
    st_.outputs += want;
  }
  DotStats stats() override {
    std::lock_guard<std::mutex> lock(mu_);
    return st_;
  }

 private:
  void tick() {
    model_->clk = 1;
    model_->eval();
    model_->clk = 0;
    model_->eval();
    ++st_.cycles;
  }
  std::mutex mu_;
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<V> model_;
  DotStats st_;
};

}  // namespace

const std::vector<QuantUnit*>& quant_units() {
  static const std::vector<QuantUnit*> units = [] {
    std::vector<QuantUnit*> u;
#define MLS_RTL_Q(V, NAME, E, M, B, Z, EG, MG, SP, BG, GSP) \
  u.push_back(new QuantImpl<V>(NAME, E, M, B, Z, EG, MG, SP, BG, GSP));
    MLS_RTL_QUANT_LIST(MLS_RTL_Q)
#undef MLS_RTL_Q
    return u;
  }();
  return units;
}

const std::vector<DotUnit*>& dot_units() {
  static const std::vector<DotUnit*> units = [] {
    std::vector<DotUnit*> u;
#define MLS_RTL_D(V, NAME, E, M, EG, MG, F, W, OVF, EX) u.push_back(new DotImpl<V>(NAME, E, M, EG, MG, F, W, OVF, EX));
    MLS_RTL_DOT_LIST(MLS_RTL_D)
#undef MLS_RTL_D
    return u;
  }();
  return units;
}

}  // namespace mlsrtl

// Figures for mls_rtl_bench: per unit, clocks simulated, elements or terms
// streamed, and the measured latency. Writes text into buf (NUL-terminated);
// returns the length it needed.
extern "C" MLS_BACKEND_EXPORT int mls_rtl_stats(char* buf, uint64_t n) {
  std::string s;
  for (auto* u : mlsrtl::quant_units()) {
    const auto st = u->stats();
    s += "quantizer " + u->name + ": latency " + std::to_string(st.latency) + " clocks, " +
         std::to_string(st.elements) + " elements in " + std::to_string(st.cycles) + " clocks (" +
         (st.cycles ? std::to_string(double(st.elements) / double(st.cycles)) : std::string("-")) +
         " elements/clock)\n";
  }
  for (auto* u : mlsrtl::dot_units()) {
    const auto st = u->stats();
    s += "dot " + u->name + ": latency " + std::to_string(st.latency) + " clocks after the last term, " +
         std::to_string(st.terms) + " terms, " + std::to_string(st.outputs) + " outputs in " +
         std::to_string(st.cycles) + " clocks (" +
         (st.cycles ? std::to_string(double(st.terms) / double(st.cycles)) : std::string("-")) + " terms/clock)\n";
  }
  if (buf && n) {
    const size_t k = std::min<size_t>(s.size(), n - 1);
    std::memcpy(buf, s.data(), k);
    buf[k] = 0;
  }
  return static_cast<int>(s.size());
}

// Counters of one unit by name ("e2m1.g4m1", "e2m1.g4m1/exact"), for
// mls_rtl_bench's clocks per output: c[0] clocks simulated, c[1] elements
// or terms streamed, c[2] outputs (dot units; elements for quantizers).
// Returns 0, or -1 when the library has no such unit.
extern "C" MLS_BACKEND_EXPORT int mls_rtl_counters(const char* unit, uint64_t* c) {
  if (!unit || !c) return -1;
  for (auto* u : mlsrtl::quant_units())
    if (u->name == unit) {
      const auto st = u->stats();
      c[0] = st.cycles, c[1] = st.elements, c[2] = st.elements;
      return 0;
    }
  for (auto* u : mlsrtl::dot_units())
    if (u->name == unit) {
      const auto st = u->stats();
      c[0] = st.cycles, c[1] = st.terms, c[2] = st.outputs;
      return 0;
    }
  return -1;
}
