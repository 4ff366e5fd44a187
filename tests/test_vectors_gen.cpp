// Generated vector content (spec/08-vectors.md 8.8): expected outputs checked
// by an independent brute-force rounding written here, the edge cases the
// tables promise, the exhaustive enumerations, the reader's typed accessors,
// and the hex / JSON-lines export.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls/philox.hpp"
#include "mls/vectors/export.hpp"
#include "mls/vectors/generate.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/sha256.hpp"

namespace mv = mls::vectors;
namespace fs = std::filesystem;
using mls::Dyadic;

namespace {

std::string hex(uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

// Element magnitudes decoded by hand from spec 1 (not through Minifloat):
// e = 0 is the subnormal row 2^(1-b) f/2^M; otherwise 2^(e-b) (1 + f/2^M).
struct Grid {
  int E, M, bias;
  bool zero_only;
  std::vector<uint64_t> codes;  // valid magnitude codes, increasing value
  std::vector<Dyadic> values;
  explicit Grid(const mls::Format& f) : E(f.element.exp_bits), M(f.element.man_bits), bias(f.element.bias),
                                        zero_only(f.element.zero == mls::ZeroMode::zero_only) {
    for (uint64_t c = 0; c < (uint64_t(1) << (E + M)); ++c) {
      const uint64_t e = c >> M, fr = c & ((uint64_t(1) << M) - 1);
      if (e == 0 && fr != 0 && zero_only) continue;
      codes.push_back(c);
      values.push_back(e == 0 ? Dyadic(mls::BigInt(fr), 1 - bias - M)
                              : Dyadic(mls::BigInt(fr + (uint64_t(1) << M)), int64_t(e) - bias - M));
    }
  }
  uint64_t sign_bit() const { return uint64_t(1) << (E + M); }
};

Dyadic fp32_value(uint32_t bits) {
  const uint32_t e = (bits >> 23) & 0xff, f = bits & 0x7fffff;
  const Dyadic mag = e == 0 ? Dyadic(mls::BigInt(f), -149) : Dyadic(mls::BigInt(f | 0x800000u), int64_t(e) - 150);
  return (bits >> 31) ? mag.neg() : mag;
}

Dyadic group_scale_value(const mls::Format& f, uint32_t code) {  // 2^(e-b) (1 + f/2^Mg), no zero
  const int Mg = f.group_scale.man_bits;
  const uint64_t e = code >> Mg, fr = code & ((uint64_t(1) << Mg) - 1);
  return Dyadic(mls::BigInt(fr + (uint64_t(1) << Mg)), int64_t(e) - f.group_scale.bias - Mg);
}

struct Expect {
  bool error = false;
  uint64_t code = 0;
};

// Spec 3 and 4.5 by brute force: a linear search for the neighbours, then the
// mode's decision from exact comparisons.
Expect brute_force_round(const mls::Format& f, const mls::Rounding& r, const mv::RoundRow& c) {
  const Grid g(f);
  const bool neg = c.x >> 31;
  const Dyadic num = fp32_value(c.x & 0x7fffffffu);
  const Dyadic den = fp32_value(c.tensor_scale) * group_scale_value(f, c.group_scale);
  auto cmp = [&](const Dyadic& v) { return mls::compare(num, den * v); };  // sign(|q| - v)
  size_t lo = 0;
  while (lo + 1 < g.values.size() && cmp(g.values[lo + 1]) >= 0) ++lo;
  uint64_t mag;
  if (cmp(g.values.back()) > 0) {  // beyond q_max (3.5)
    if (f.overflow == mls::OverflowPolicy::error) return {true, 0};
    mag = g.codes.back();
  } else if (cmp(g.values[lo]) == 0) {
    mag = g.codes[lo];
  } else {
    const Dyadic A = num - den * g.values[lo], G = den * (g.values[lo + 1] - g.values[lo]);
    const int half = mls::compare(ldexp(A, 1), G);
    const uint64_t cl = g.codes[lo], ch = g.codes[lo + 1];
    bool away = false;
    switch (r.mode) {
      case mls::RoundingMode::rne: away = half > 0 || (half == 0 && (cl & 1) && !(ch & 1)); break;
      case mls::RoundingMode::rna: away = half >= 0; break;
      case mls::RoundingMode::rtz: away = false; break;
      case mls::RoundingMode::rup: away = !neg; break;
      case mls::RoundingMode::rdn: away = neg; break;
      case mls::RoundingMode::rto: away = !(cl & 1); break;
      case mls::RoundingMode::sr: {
        const uint64_t rr = r.sr_bits == 32 ? c.rand : c.rand >> (32 - r.sr_bits);
        away = mls::compare(ldexp(A, r.sr_bits) + G * Dyadic(mls::BigInt(rr), 0), ldexp(G, r.sr_bits)) >= 0;
        break;
      }
    }
    mag = away ? ch : cl;
  }
  const bool sign = neg && !(mag == 0 && f.signed_zero == mls::SignedZero::positive);
  return {false, mag | (sign ? g.sign_bit() : 0)};
}

const mv::Suite& level1_e2m1() {
  static const mv::Suite s = [] {
    mv::GenOptions o;
    o.formats = {"mls-e2m1", "e2m1z.g4m1", "e2m1.g4m1:ovf_error", "e2m1b2.g4m1:poszero"};
    o.ops = {mv::Op::round, mv::Op::quantize, mv::Op::dequantize};
    o.seed = 3;
    return mv::generate(o);
  }();
  return s;
}

std::string tmp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path d = fs::path(MLS_BINARY_DIR) / "test-vectors-tmp" / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

}  // namespace

TEST(VectorsGenerate, RoundExpectedCodesMatchBruteForce) {
  size_t checked = 0, errors = 0;
  for (const auto& g : level1_e2m1().groups) {
    if (g.op != mv::Op::round) continue;
    const mls::Format f = g.format();
    const mls::Rounding r = g.rounding();
    for (uint64_t k = 0; k < g.count(); ++k) {
      const mv::RoundRow c = mv::round_case(g, k);
      const mv::RoundOutput out = mv::round_output(g, k);
      const Expect e = brute_force_round(f, r, c);
      SCOPED_TRACE(g.label() + " case " + std::to_string(k) + ": x " + hex(c.x) + " tensor_scale " + hex(c.tensor_scale) +
                   " group_scale " + hex(c.group_scale) + " word " + hex(c.rand));
      ASSERT_EQ(out.status, e.error ? mv::kStatusError : mv::kStatusOk);
      if (!e.error) {
        ASSERT_EQ(out.code, e.code);
      }
      if (r.mode != mls::RoundingMode::sr) {
        ASSERT_EQ(c.rand, 0u);  // words only where they matter
      }
      ++checked;
      errors += e.error;
    }
  }
  EXPECT_GT(checked, 20000u);
  EXPECT_GT(errors, 100u);  // the ovf_error format's overflow cases
}

TEST(VectorsGenerate, RoundTablesHoldTheEdgeCases) {
  for (const auto& g : level1_e2m1().groups) {
    if (g.op != mv::Op::round) continue;
    SCOPED_TRACE(g.label());
    const mls::Format f = g.format();
    const mls::Rounding r = g.rounding();
    const Grid grid(f);
    size_t ties = 0, beyond = 0, neg_zero = 0, subnormal = 0, sr_at = 0, sr_below = 0, zero_gap_tie = 0;
    for (uint64_t k = 0; k < g.count(); ++k) {
      const mv::RoundRow c = mv::round_case(g, k);
      neg_zero += c.x == 0x80000000u;
      subnormal += (c.x & 0x7f800000u) == 0 && (c.x & 0x7fffffu) != 0;
      const Dyadic num = fp32_value(c.x & 0x7fffffffu);
      const Dyadic den = fp32_value(c.tensor_scale) * group_scale_value(f, c.group_scale);
      if (mls::compare(num, den * grid.values.back()) > 0) {
        ++beyond;
        continue;
      }
      size_t lo = 0;
      while (lo + 1 < grid.values.size() && mls::compare(num, den * grid.values[lo + 1]) >= 0) ++lo;
      if (lo + 1 >= grid.values.size()) continue;
      const Dyadic A = num - den * grid.values[lo], G = den * (grid.values[lo + 1] - grid.values[lo]);
      if (A.is_zero()) continue;
      if (mls::compare(ldexp(A, 1), G) == 0) {
        ++ties;
        zero_gap_tie += lo == 0;
      }
      if (r.mode == mls::RoundingMode::sr) {
        const uint64_t rr = c.rand >> (32 - r.sr_bits);
        // t + r/2^R == 1 exactly: the word sits on the threshold; one below: r + 1 reaches it.
        const Dyadic lhs = ldexp(A, r.sr_bits) + G * Dyadic(mls::BigInt(rr), 0), rhs = ldexp(G, r.sr_bits);
        sr_at += mls::compare(lhs, rhs) >= 0 && mls::compare(lhs - G, rhs) < 0;
        sr_below += mls::compare(lhs, rhs) < 0 && mls::compare(lhs + G, rhs) >= 0;
      }
    }
    EXPECT_GT(ties, 20u);
    EXPECT_GT(beyond, 20u);
    EXPECT_GT(neg_zero, 0u);
    EXPECT_GT(subnormal, 10u);
    EXPECT_GT(zero_gap_tie, 0u);  // the zero / smallest-value gap (zero_only: the smallest normal)
    if (r.mode == mls::RoundingMode::sr) {
      EXPECT_GT(sr_at, 50u);
      EXPECT_GT(sr_below, 50u);
    }
  }
}

TEST(VectorsGenerate, TensorSuitesCoverGroupEdges) {
  bool underflow_to_gmin = false, equal_group = false, partial_tiles = false, one_element = false, all_pairs = false;
  for (const auto& g : level1_e2m1().groups) {
    if (g.op == mv::Op::quantize) {
      const mls::Shape shape = g.shape(), tile = g.shape("tile");
      for (size_t i = 0; i < shape.size(); ++i) partial_tiles |= shape[i] % tile[i] != 0;
      one_element |= mv::attr_int(g.attrs, "group_count", g.path) == mls::element_count(shape) && shape.size() > 1;
      const mls::Format f = g.format();
      const mls::GroupLayout L(f, shape);
      for (uint64_t k = 0; k < g.count(); ++k) {
        const mv::QuantizeRow c = mv::quantize_case(g, k);
        const mv::QuantizeOutput o = mv::quantize_output(g, k);
        std::vector<std::vector<uint32_t>> members(L.group_count);
        for (size_t i = 0; i < c.x.size(); ++i) members[L.group_of(static_cast<int64_t>(i))].push_back(c.x[i] & 0x7fffffffu);
        for (int64_t gi = 0; gi < L.group_count; ++gi) {
          const auto& m = members[gi];
          const bool nonzero = std::any_of(m.begin(), m.end(), [](uint32_t v) { return v != 0; });
          underflow_to_gmin |= o.group_scales[gi] == 0 && nonzero;
          equal_group |= m.size() > 1 && nonzero && std::all_of(m.begin(), m.end(), [&](uint32_t v) { return v == m[0]; });
        }
      }
    }
    if (g.op == mv::Op::dequantize && g.label().find("all-pairs") != std::string::npos) {
      const mls::Format f = g.format();
      const mv::Array& el = g.at("inputs/elements");
      const int64_t rows = g.shape()[0], cols = g.shape()[1];
      EXPECT_EQ(static_cast<uint64_t>(rows), f.group_scale.code_count());
      std::set<uint64_t> codes(el.ints.begin(), el.ints.begin() + cols);
      EXPECT_EQ(codes.size(), Grid(f).codes.size() * 2);  // every valid code, both signs
      for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(g.at("inputs/group_scales").ints[r], static_cast<uint64_t>(r));
      all_pairs = true;
    }
  }
  EXPECT_TRUE(underflow_to_gmin);
  EXPECT_TRUE(equal_group);
  EXPECT_TRUE(partial_tiles);
  EXPECT_TRUE(one_element);
  EXPECT_TRUE(all_pairs);
}

TEST(VectorsGenerate, BinadeEnumerationListsEveryFp32) {
  mv::GenOptions o;
  o.ops = {mv::Op::round};
  o.formats = {"mls-e2m1"};
  o.roundings = {"rne"};
  o.binades = {{-1, 0}};
  const uint64_t total = mv::plan_suite(o).at(0).total;
  const uint64_t enum_n = uint64_t(2) << 24, first = total - enum_n;
  const mls::Format f = mls::parse_format("mls-e2m1");
  const mls::Rounding r = mls::parse_rounding("rne");
  for (int shard : {2048, 3000, 4095}) {  // the first, a middle and the last part of the enumeration
    o.shard_index = shard;
    o.shard_count = 4096;
    const mv::Suite s = mv::generate(o);
    const mv::CaseGroup& g = s.groups.at(0);
    const uint64_t off = mv::attr_uint(g.attrs, "case_offset", g.path);
    for (uint64_t row = 0; row < g.count(); ++row) {
      const uint64_t k = off + row;
      if (k < first) continue;
      const uint64_t j = k - first;
      const uint32_t want = static_cast<uint32_t>((j & 1) << 31 | ((126 + (j >> 24)) << 23) | ((j >> 1) & 0x7fffff));
      const mv::RoundRow c = mv::round_case(g, row);
      ASSERT_EQ(c.x, want) << "case " << k;
      ASSERT_EQ(c.tensor_scale, 0x3f800000u);
      const Expect e = brute_force_round(f, r, c);
      ASSERT_EQ(mv::round_output(g, row).code, e.code) << "x " << hex(c.x);
    }
    if (shard == 4095) {
      EXPECT_EQ(mv::round_case(g, g.count() - 1).x, 0xbfffffffu);  // the last value of binade 0
    }
  }
}

TEST(VectorsGenerate, ExhaustiveGemmHoldsEveryElementCodePair) {
  mv::GenOptions o;
  o.ops = {mv::Op::gemm};
  o.formats = {"mls-e2m1", "e2m1z.g4m1"};
  o.ariths = {"exact"};
  o.exhaustive = true;
  const mv::Suite s = mv::generate(o);
  int found = 0;
  for (const auto& g : s.groups) {
    if (g.label().find("all-pairs") == std::string::npos) continue;
    ++found;
    const mls::Format f = g.format("a_");
    const Grid grid(f);
    const mv::ReductionRow c = mv::reduction_case(g, 0);
    const mv::ReductionOutput out = mv::reduction_output(g, 0);
    const size_t n = grid.codes.size() * 2;
    ASSERT_EQ(c.a.elements.size(), n);
    ASSERT_EQ(c.b.elements.size(), n);
    auto value = [&](uint32_t code) {
      const uint64_t mag = code & (grid.sign_bit() - 1);
      const size_t i = std::find(grid.codes.begin(), grid.codes.end(), mag) - grid.codes.begin();
      return (code & grid.sign_bit()) ? grid.values.at(i).neg() : grid.values.at(i);
    };
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) {
        // e2m1 products have at most 4 significant bits: exact in fp32.
        const Dyadic p = value(c.a.elements[i]) * value(c.b.elements[j]);
        const float want = static_cast<float>(*p.to_double_exact());
        uint32_t wb;
        std::memcpy(&wb, &want, 4);
        if (p.is_zero()) wb = 0;  // an exact zero sum is +0 (6.8)
        ASSERT_EQ(out.y[i * n + j], wb) << g.label() << " a " << hex(c.a.elements[i]) << " b " << hex(c.b.elements[j]);
      }
  }
  EXPECT_EQ(found, 2);
}

TEST(VectorsReader, TypedCasesReproduceTheStoredOutputs) {
  mv::GenOptions o;
  o.formats = {"mls-e2m4"};
  o.roundings = {"rtz", "sr4"};
  o.ariths = {"exact", "acc24"};
  o.seed = 11;
  const std::string p = tmp_dir() + "/v.h5";
  mv::write_suite(p, mv::generate(o));
  const mv::Suite s = mv::read_suite(p);
  for (const auto& g : s.groups) {
    for (uint64_t k = 0; k < std::min<uint64_t>(g.count(), 8); ++k) {
      SCOPED_TRACE(g.path + " case " + std::to_string(k));
      switch (g.op) {
        case mv::Op::round: {
          const mv::RoundRow c = mv::round_case(g, k);
          const mls::Dyadic S = fp32_value(c.tensor_scale) * group_scale_value(g.format(), c.group_scale);
          EXPECT_EQ(mls::quantize_element(g.format(), c.x, S, g.rounding(), c.rand).code,
                    mv::round_output(g, k).code);
          break;
        }
        case mv::Op::quantize: {
          const mv::QuantizeRow c = mv::quantize_case(g, k);
          const mls::MlsTensor t = mls::quantize(g.format(), c.shape, c.x_float(), g.rounding(), c.rand);
          const mv::QuantizeOutput out = mv::quantize_output(g, k);
          EXPECT_EQ(t.tensor_scale, out.tensor_scale);
          EXPECT_EQ(t.group_scales, out.group_scales);
          EXPECT_EQ(t.elements, out.elements);
          break;
        }
        case mv::Op::dequantize: {
          const mls::MlsTensor t = mv::dequantize_case(g, k);
          const mv::DequantizeOutput out = mv::dequantize_output(g, k);
          const auto f32 = mls::dequantize_fp32(t);
          const auto f64 = mls::dequantize_fp64(t);
          for (size_t i = 0; i < f32.size(); ++i) {
            EXPECT_EQ(mls::float_bits(f32[i]), out.fp32[i]);
            uint64_t b;
            std::memcpy(&b, &f64[i], 8);
            EXPECT_EQ(b, out.fp64[i]);
          }
          break;
        }
        case mv::Op::philox: {
          const mv::PhiloxRow c = mv::philox_case(g, k);
          const mv::PhiloxOutput out = mv::philox_output(g, k);
          if (mv::philox_is_block(g)) EXPECT_EQ(mls::philox4x32_10(c.counter, c.key), out.block);
          else EXPECT_EQ(mls::random_word(c.seed, c.stream, c.index), out.word);
          break;
        }
        case mv::Op::conv:
        case mv::Op::gemm: {
          const mv::ReductionRow c = mv::reduction_case(g, k);
          const mv::ReductionOutput out = mv::reduction_output(g, k);
          if (out.status != mv::kStatusOk) break;
          const mls::ReductionResult r =
              g.op == mv::Op::conv ? mls::conv2d(c.a, c.b, c.params, c.arith) : mls::gemm(c.a, c.b, c.arith);
          EXPECT_EQ(r.y, out.y);
          EXPECT_EQ(r.exact, mv::reduction_exact(g, k));
          break;
        }
      }
    }
  }
}

TEST(VectorsExport, HexLinesPackTheDocumentedFields) {
  mv::GenOptions o;
  o.formats = {"mls-e2m1"};
  o.roundings = {"sr8"};
  o.ops = {mv::Op::round, mv::Op::quantize, mv::Op::philox};
  const mv::Suite s = mv::generate(o);
  const std::string d = tmp_dir();
  mv::ExportOptions eo;
  eo.dir = d;
  const auto files = mv::export_suite(s, "s.h5", eo);
  ASSERT_EQ(files.size(), s.groups.size());
  for (size_t gi = 0; gi < files.size(); ++gi) {
    const mv::CaseGroup& g = s.groups[gi];
    SCOPED_TRACE(files[gi].path);
    std::ifstream in(files[gi].path);
    std::string line, body;
    uint64_t cases = 0, width = 0;
    std::string sha;
    struct Field {
      std::string name;
      uint64_t msb, lsb, count, bits;
    };
    std::vector<Field> fields;
    std::vector<std::string> data;
    while (std::getline(in, line)) {
      if (line.rfind("//", 0) != 0) {
        data.push_back(line);
        body += line + "\n";
        continue;
      }
      std::istringstream ls(line.substr(3));
      std::string key;
      ls >> key;
      if (key == "cases:") ls >> cases;
      if (key == "width_bits:") ls >> width;
      if (key == "sha256:") ls >> sha;
      if (key == "field") {
        Field f;
        std::string range, dtype;
        ls >> f.name >> range >> dtype;
        std::sscanf(range.c_str(), "[%lu:%lu]", &f.msb, &f.lsb);
        f.bits = dtype == "uint8" ? 8 : dtype == "uint32" ? 32 : 64;
        f.count = (f.msb - f.lsb + 1) / f.bits;
        fields.push_back(f);
      }
    }
    ASSERT_EQ(cases, g.count());
    ASSERT_EQ(data.size(), cases);
    EXPECT_EQ(sha, mv::sha256_hex(body));
    ASSERT_FALSE(fields.empty());
    EXPECT_EQ(fields.front().msb + 1, width);
    EXPECT_EQ(fields.back().lsb, 0u);
    if (g.op == mv::Op::round) {
      EXPECT_EQ(fields.front().name, "control/mode");
      EXPECT_TRUE(std::any_of(fields.begin(), fields.end(), [](const Field& f) { return f.name == "inputs/rand"; }));
    }
    for (uint64_t k = 0; k < cases; ++k) {
      ASSERT_EQ(data[k].size(), width / 4);
      for (const Field& f : fields)
        for (uint64_t i = 0; i < f.count; ++i) {
          // Element i of a field sits at bits [msb - i*bits, msb - (i+1)*bits + 1].
          const uint64_t top = f.msb - i * f.bits;
          const size_t pos = (width - 1 - top) / 4;
          const uint64_t v = std::stoull(data[k].substr(pos, f.bits / 4), nullptr, 16);
          uint64_t want;
          if (f.name == "control/mode") want = 6;  // sr
          else if (f.name == "control/bits") want = 8;
          else want = g.at(f.name).ints[k * f.count + i];
          ASSERT_EQ(v, want) << f.name << " case " << k << " element " << i;
        }
    }
  }
  eo.format = mv::ExportFormat::jsonl;
  const auto jfiles = mv::export_suite(s, "s.h5", eo);
  for (size_t gi = 0; gi < jfiles.size(); ++gi) {
    const mv::CaseGroup& g = s.groups[gi];
    std::ifstream in(jfiles[gi].path);
    std::string line;
    uint64_t k = 0;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      EXPECT_EQ(j["group"], g.path);
      EXPECT_EQ(j["case"], k);
      if (g.op == mv::Op::round) {
        EXPECT_EQ(j["inputs"]["x"], g.at("inputs/x").ints[k]);
        EXPECT_EQ(j["outputs"]["code"], g.at("outputs/code").ints[k]);
        EXPECT_EQ(j["params"]["rounding"]["mode"], "sr");
      }
      ++k;
    }
    EXPECT_EQ(k, g.count());
  }
  eo.max_jsonl_cases = 10;
  EXPECT_THROW(mv::export_suite(s, "s.h5", eo), mls::Error);
}
