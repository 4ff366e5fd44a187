// Vector files (spec/08-vectors.md): writer/reader round trips, determinism,
// sharding, and every kind of bad input. Generator content is checked in
// test_vectors_gen.cpp.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "mls/error.hpp"
#include "mls/vectors/generate.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/sha256.hpp"

namespace mv = mls::vectors;
namespace fs = std::filesystem;

namespace {

std::string tmp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path d = fs::path(MLS_BINARY_DIR) / "test-vectors-tmp" / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void put_bytes(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A small suite with every op: one format, two roundings, two arithmetics.
mv::GenOptions small_options() {
  mv::GenOptions o;
  o.formats = {"mls-e2m1"};
  o.roundings = {"rne", "sr8"};
  o.ariths = {"exact", "acc12wrap"};
  o.seed = 7;
  return o;
}

// Generated once: the tests copy and damage it.
const std::string& small_file() {
  static const std::string path = [] {
    const fs::path d = fs::path(MLS_BINARY_DIR) / "test-vectors-tmp";
    fs::create_directories(d);
    const std::string p = (d / "small.h5").string();
    mv::write_suite(p, mv::generate(small_options()));
    return p;
  }();
  return path;
}

// The error message of `f`, or a failure when it does not throw mls::Error.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mls::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no mls::Error was thrown";
  return "";
}

// The file checksum line of 8.6, written here from the spec's description:
// the user block's first line names the size and the SHA-256 of the bytes after it.
void restamp(const std::string& p) {
  std::string b = bytes_of(p);
  std::string line = "mls-vectors-file size=" + std::to_string(b.size()) + " sha256=" + mv::sha256_hex(b.substr(512)) + "\n";
  line.resize(512, '\0');
  b.replace(0, 512, line);
  put_bytes(p, b);
}

// Opens a copy of the small file read-write and lets `edit` damage it with the
// HDF5 C API; the file checksum is then rewritten (as a third-party writer
// would produce a consistent file), so the reader's structural checks speak.
std::string damaged_copy(const std::string& dir, const std::function<void(hid_t)>& edit, bool stamp = true) {
  const std::string p = dir + "/damaged.h5";
  fs::copy_file(small_file(), p, fs::copy_options::overwrite_existing);
  const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  EXPECT_GE(f, 0);
  edit(f);
  H5Fclose(f);
  if (stamp) restamp(p);
  return p;
}

void set_int_attr(hid_t obj, const char* name, int64_t v) {
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  const hid_t s = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  H5Sclose(s);
}

void set_str_attr(hid_t obj, const char* name, const std::string& v) {
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, v.size());
  const hid_t s = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, v.data());
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
}

void replace_dataset(hid_t file, const std::string& path, hid_t type, std::vector<hsize_t> dims) {
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  const hid_t s = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t d = H5Dcreate2(file, path.c_str(), type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t n = 1;
  for (auto x : dims) n *= x;
  H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, std::vector<uint8_t>(n * H5Tget_size(type), 0).data());
  H5Dclose(d);
  H5Sclose(s);
}

}  // namespace

TEST(VectorsSha256, KnownAnswersAndChunking) {
  EXPECT_EQ(mv::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(mv::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(mv::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(mv::sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  mv::Sha256 h;  // uneven pieces give the same digest
  for (size_t i = 0, step = 1; i < million.size(); i += step, step = step % 97 + 1)
    h.update(million.data() + i, std::min(step, million.size() - i));
  EXPECT_EQ(h.hex(), mv::sha256_hex(million));
}

TEST(VectorsIo, WriteReadRoundTripPreservesEverything) {
  const mv::Suite s = mv::generate(small_options());
  const std::string p = tmp_dir() + "/rt.h5";
  mv::write_suite(p, s);
  const mv::Suite r = mv::read_suite(p);
  ASSERT_EQ(r.groups.size(), s.groups.size());
  EXPECT_EQ(r.attrs, s.attrs);
  std::set<mv::Op> ops;
  for (size_t i = 0; i < s.groups.size(); ++i) {
    SCOPED_TRACE(s.groups[i].path);
    EXPECT_EQ(r.groups[i].path, s.groups[i].path);
    EXPECT_EQ(r.groups[i].op, s.groups[i].op);
    EXPECT_EQ(r.groups[i].attrs, s.groups[i].attrs);
    EXPECT_EQ(r.groups[i].data, s.groups[i].data);
    ops.insert(s.groups[i].op);
  }
  EXPECT_EQ(ops.size(), mv::all_ops().size());  // every op went through the file
  EXPECT_EQ(mv::content_digest(r), mv::attr_str(r.attrs, "content_sha256", "/"));
  // Writing what was read gives the same bytes.
  mv::write_suite(p + ".2", r);
  EXPECT_EQ(bytes_of(p), bytes_of(p + ".2"));
}

TEST(VectorsIo, WideExactMantissasAreDecimalStrings) {
  mv::GenOptions o = small_options();
  o.ops = {mv::Op::gemm};
  o.ariths = {"exact"};
  mv::Suite s = mv::generate(o);
  mv::CaseGroup& g = s.groups.at(0);
  mv::Array& m = g.data.at("info/exact_mant");
  // A 100-bit odd mantissa cannot be int64: the column becomes decimal strings (8.4).
  const mls::Dyadic wide(mls::BigInt(1) << 100 | 1, -7);
  if (m.dtype == mv::DType::i64) {
    m.strs.resize(m.ints.size());
    for (size_t i = 0; i < m.ints.size(); ++i) m.strs[i] = std::to_string(static_cast<int64_t>(m.ints[i]));
    m.ints.clear();
    m.dtype = mv::DType::str;
  }
  mv::set_exact(m, g.data.at("info/exact_exp"), 0, wide);
  const std::string p = tmp_dir() + "/wide.h5";
  mv::write_suite(p, s);
  const mv::Suite r = mv::read_suite(p);
  const mv::Array& rm = r.groups.at(0).data.at("info/exact_mant");
  EXPECT_EQ(rm.dtype, mv::DType::str);
  EXPECT_EQ(mv::get_exact(rm, r.groups.at(0).data.at("info/exact_exp"), 0), wide);
  EXPECT_EQ(mv::reduction_exact(r.groups.at(0), 0)[0], wide);
  EXPECT_EQ(rm.strs[1], m.strs[1]);
}

TEST(VectorsIo, ResultsFileRoundTripAndCheckAgainstVectors) {
  const mv::Suite vec = mv::read_suite(small_file());
  mv::Suite res = mv::make_results(vec, "test-impl 1.0");
  // An implementation that answers every case with the expected outputs,
  // except one round case it does not support.
  for (auto& g : res.groups) {
    const mv::CaseGroup& v = *vec.find(g.path);
    EXPECT_FALSE(g.has("inputs/x"));
    for (uint64_t k = 0; k < v.count(); ++k) {
      switch (v.op) {
        case mv::Op::round: mv::set_round_output(g, k, mv::round_output(v, k)); break;
        case mv::Op::quantize: mv::set_quantize_output(g, k, mv::quantize_output(v, k)); break;
        case mv::Op::dequantize: mv::set_dequantize_output(g, k, mv::dequantize_output(v, k)); break;
        case mv::Op::philox: mv::set_philox_output(g, k, mv::philox_output(v, k)); break;
        case mv::Op::conv:
        case mv::Op::gemm: mv::set_reduction_output(g, k, mv::reduction_output(v, k)); break;
      }
    }
  }
  mv::CaseGroup& first_round = *std::find_if(res.groups.begin(), res.groups.end(), [](auto& g) { return g.op == mv::Op::round; });
  mv::set_round_output(first_round, 0, mv::RoundOutput{mv::kStatusUnsupported, 0});
  const std::string p = tmp_dir() + "/results.h5";
  mv::write_suite(p, res);
  const mv::Suite back = mv::read_results(p, vec);
  EXPECT_EQ(back.kind(), mv::Kind::results);
  EXPECT_EQ(mv::attr_str(back.attrs, "vectors_sha256", "/"), mv::attr_str(vec.attrs, "content_sha256", "/"));
  for (const auto& g : back.groups) {
    const mv::CaseGroup& v = *vec.find(g.path);
    for (const auto& [name, a] : g.data) {
      SCOPED_TRACE(g.path + "/" + name);
      EXPECT_EQ(name.rfind("outputs/", 0), 0u);
      if (g.path == first_round.path && name == "outputs/status") {
        EXPECT_EQ(a.ints[0], mv::kStatusUnsupported);
        EXPECT_TRUE(std::equal(a.ints.begin() + 1, a.ints.end(), v.at(name).ints.begin() + 1));
      } else {
        EXPECT_EQ(a, v.at(name));
      }
    }
  }
}

TEST(VectorsDeterminism, SameCommandGivesIdenticalBytes) {
  const std::string d = tmp_dir();
  mv::GenOptions o = small_options();
  o.jobs = 1;
  mv::write_suite(d + "/a.h5", mv::generate(o));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a timestamp would differ by now
  o.jobs = 2;
  mv::write_suite(d + "/b.h5", mv::generate(o));
  const std::string a = bytes_of(d + "/a.h5");
  EXPECT_GT(a.size(), 10000u);
  EXPECT_EQ(a, bytes_of(d + "/b.h5"));
  EXPECT_EQ(a, bytes_of(small_file()));  // and the same as the shared copy, made earlier
  o.seed = 8;
  const mv::Suite other = mv::generate(o);
  EXPECT_NE(mv::attr_str(other.attrs, "content_sha256", "/"),
            mv::attr_str(mv::read_suite(d + "/a.h5").attrs, "content_sha256", "/"));
  // No half-written file is left behind.
  for (const auto& e : fs::directory_iterator(d)) EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos);
}

TEST(VectorsShards, UnionOfShardsEqualsTheWholeSuite) {
  const std::string d = tmp_dir();
  const mv::GenOptions o = small_options();
  const mv::Suite whole = mv::generate(o);
  mv::write_suite(d + "/whole.h5", whole);
  const std::string whole_bytes = bytes_of(d + "/whole.h5");
  for (int n : {3, 13}) {
    SCOPED_TRACE("shards " + std::to_string(n));
    std::vector<mv::Suite> parts;
    std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> ranges;
    uint64_t cases = 0;
    for (int i = n - 1; i >= 0; --i) {  // any order
      mv::GenOptions s = o;
      s.shard_index = i;
      s.shard_count = n;
      const std::string p = d + "/part" + std::to_string(i) + ".h5";
      mv::write_suite(p, mv::generate(s));
      parts.push_back(mv::read_suite(p));  // every shard is a valid vector file on its own
      for (const auto& g : parts.back().groups) {
        ranges[g.path].push_back({mv::attr_uint(g.attrs, "case_offset", g.path), g.count()});
        cases += g.count();
      }
    }
    EXPECT_EQ(cases, whole.case_count());  // disjoint and complete
    for (auto& [path, r] : ranges) {
      std::sort(r.begin(), r.end());
      uint64_t next = 0;
      for (auto [off, cnt] : r) {
        EXPECT_EQ(off, next) << path;
        next = off + cnt;
      }
      EXPECT_EQ(next, whole.find(path)->count()) << path;
    }
    mv::write_suite(d + "/merged.h5", mv::merge_shards(parts));
    EXPECT_EQ(bytes_of(d + "/merged.h5"), whole_bytes);
  }
}

TEST(VectorsShards, MergeRejectsIncompleteOrForeignShards) {
  const std::string d = tmp_dir();
  std::vector<mv::Suite> parts;
  for (int i = 0; i < 3; ++i) {
    mv::GenOptions s = small_options();
    s.ops = {mv::Op::round, mv::Op::philox};
    s.shard_index = i;
    s.shard_count = 3;
    parts.push_back(mv::generate(s));
  }
  EXPECT_NE(error_of([&] { mv::merge_shards({parts[0], parts[2]}); }).find("shard 1/3 is missing"), std::string::npos);
  EXPECT_NE(error_of([&] { mv::merge_shards({parts[0], parts[1], parts[1]}); }).find("shard 1/3 is given twice"),
            std::string::npos);
  mv::GenOptions other = small_options();
  other.ops = {mv::Op::round, mv::Op::philox};
  other.seed = 99;
  other.shard_index = 1;
  other.shard_count = 3;
  const std::string msg = error_of([&] { mv::merge_shards({parts[0], mv::generate(other), parts[2]}); });
  EXPECT_NE(msg.find("\"seed\""), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { mv::merge_shards({}); }).find("no shards"), std::string::npos);
  // A shard whose group was cut short.
  mv::Suite cut = parts[1];
  for (auto& [name, a] : cut.groups.front().data) {
    a.dims[0] -= 1;
    a.ints.resize(a.size());
  }
  mv::finalize_suite(cut);
  EXPECT_NE(error_of([&] { mv::merge_shards({parts[0], cut, parts[2]}); }).find(cut.groups.front().path),
            std::string::npos);
}

// ---- bad input: each names the file and the HDF5 path ----

TEST(VectorsBadInput, MissingAndNonHdf5Files) {
  const std::string d = tmp_dir();
  EXPECT_NE(error_of([&] { mv::read_suite(d + "/nope.h5"); }).find("no such file"), std::string::npos);
  put_bytes(d + "/text.h5", "this is not HDF5\n");
  EXPECT_NE(error_of([&] { mv::read_suite(d + "/text.h5"); }).find("not an HDF5 file"), std::string::npos);
  put_bytes(d + "/empty.h5", "");
  EXPECT_NE(error_of([&] { mv::read_suite(d + "/empty.h5"); }).find("empty.h5"), std::string::npos);
}

TEST(VectorsBadInput, TruncatedFilesAreErrorsAtEveryLength) {
  const std::string d = tmp_dir();
  const std::string full = bytes_of(small_file());
  for (size_t num : {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 99}) {
    const size_t len = full.size() * num / 100;
    SCOPED_TRACE("truncated to " + std::to_string(len) + " bytes");
    put_bytes(d + "/t.h5", full.substr(0, len));
    const std::string msg = error_of([&] { mv::read_suite(d + "/t.h5"); });
    EXPECT_NE(msg.find("t.h5"), std::string::npos) << msg;
  }
  put_bytes(d + "/t.h5", full.substr(0, full.size() - 1));
  EXPECT_NE(error_of([&] { mv::read_suite(d + "/t.h5"); }).find("truncated"), std::string::npos);
}

TEST(VectorsBadInput, CorruptDataIsCaughtByTheChecksums) {
  const std::string d = tmp_dir();
  haddr_t off = 0;
  const std::string p = damaged_copy(d, [&](hid_t f) {
    const hid_t ds = H5Dopen2(f, "/round/0000/inputs/x", H5P_DEFAULT);
    off = H5Dget_offset(ds);
    H5Dclose(ds);
  }, false);
  ASSERT_NE(off, HADDR_UNDEF);
  std::string bytes = bytes_of(p);
  bytes[off + 5] ^= 0x10;  // one bit of one input value
  put_bytes(p, bytes);
  // The file checksum sees it before HDF5 parses anything ...
  std::string msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("damaged.h5: file checksum mismatch"), std::string::npos) << msg;
  // ... and with a consistent file checksum, the group digest names the group.
  restamp(p);
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000: content digest mismatch"), std::string::npos) << msg;
  EXPECT_NO_THROW(mv::read_suite(p, mv::ReadOptions{false}));  // the structure is intact
  // An edit made with HDF5 tools keeps the old checksum: an error too.
  const std::string q = damaged_copy(d, [](hid_t f) { H5Adelete(f, "seed"); }, false);
  EXPECT_NE(error_of([&] { mv::read_suite(q); }).find("file checksum mismatch"), std::string::npos);
}

TEST(VectorsBadInput, FlippedBytesAnywhereNeverPassUnnoticed) {
  const std::string d = tmp_dir();
  const std::string full = bytes_of(small_file());
  const std::string digest = mv::attr_str(mv::read_suite(small_file()).attrs, "content_sha256", "/");
  int errors = 0;
  for (size_t i = 0; i < 64; ++i) {
    const size_t at = (full.size() - 1) * i / 63;
    std::string b = full;
    b[at] = static_cast<char>(b[at] ^ 0x5a);
    put_bytes(d + "/c.h5", b);
    try {
      const mv::Suite s = mv::read_suite(d + "/c.h5");
      // Only bytes that carry no content may be flipped silently.
      EXPECT_EQ(mv::attr_str(s.attrs, "content_sha256", "/"), digest) << "byte " << at;
    } catch (const mls::Error&) {
      ++errors;
    }
  }
  EXPECT_GE(errors, 63);  // all but a byte of the checksum line's magic (then HDF5 and the digests read it)
}

TEST(VectorsBadInput, UnknownSchemaVersionOrName) {
  const std::string d = tmp_dir();
  std::string p = damaged_copy(d, [](hid_t f) { set_int_attr(f, "schema_version", 2); });
  std::string msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/: unknown schema_version 2"), std::string::npos) << msg;
  p = damaged_copy(d, [](hid_t f) { set_str_attr(f, "schema", "other-vectors"); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("attribute \"schema\" = \"other-vectors\""), std::string::npos) << msg;
  p = damaged_copy(d, [](hid_t f) { H5Adelete(f, "schema"); });
  EXPECT_NE(error_of([&] { mv::read_suite(p); }).find("\"schema\" is missing"), std::string::npos);
  p = damaged_copy(d, [](hid_t f) { H5Adelete(f, "spec_version"); });
  EXPECT_NE(error_of([&] { mv::read_suite(p); }).find("\"spec_version\" is missing"), std::string::npos);
}

TEST(VectorsBadInput, MissingOrUnknownDatasetNamesThePath) {
  const std::string d = tmp_dir();
  std::string p = damaged_copy(d, [](hid_t f) { H5Ldelete(f, "/round/0001/outputs/code", H5P_DEFAULT); });
  std::string msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0001/outputs/code: dataset is missing"), std::string::npos) << msg;
  p = damaged_copy(d, [](hid_t f) { replace_dataset(f, "/round/0001/inputs/extra", H5T_STD_U32LE, {10}); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0001/inputs/extra: is not a dataset"), std::string::npos) << msg;
  p = damaged_copy(d, [](hid_t f) { H5Ldelete(f, "/round/0001/info", H5P_DEFAULT); });
  EXPECT_NO_THROW(mv::read_suite(p, mv::ReadOptions{false}));  // info/ is optional
}

TEST(VectorsBadInput, ShapeAndDtypeMismatchNameThePath) {
  const std::string d = tmp_dir();
  const mv::Suite s = mv::read_suite(small_file());
  const mv::CaseGroup& q = *s.find("/quantize/0004");  // shape [2,3,4,4]
  ASSERT_EQ(q.op, mv::Op::quantize);
  const hsize_t n = q.count(), per = q.at("inputs/x").row_size();
  std::string p = damaged_copy(d, [&](hid_t f) { replace_dataset(f, q.path + "/inputs/x", H5T_STD_U32LE, {n, per}); });
  std::string msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find(q.path + "/inputs/x: shape [" + std::to_string(n) + "," + std::to_string(per) + "] does not match"),
            std::string::npos) << msg;
  p = damaged_copy(d, [&](hid_t f) { replace_dataset(f, "/round/0000/inputs/x", H5T_STD_I32LE, {s.find("/round/0000")->count()}); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000/inputs/x: dtype int32"), std::string::npos) << msg;
  p = damaged_copy(d, [&](hid_t f) { replace_dataset(f, "/round/0000/inputs/x", H5T_IEEE_F32LE, {s.find("/round/0000")->count()}); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000/inputs/x: must hold integers"), std::string::npos) << msg;
  p = damaged_copy(d, [](hid_t f) {
    const hid_t g = H5Gopen2(f, "/round/0000", H5P_DEFAULT);
    set_int_attr(g, "case_count", 3);
    H5Gclose(g);
  });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000/"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not match [3]"), std::string::npos) << msg;
}

TEST(VectorsBadInput, AttributeMismatchNamesTheAttribute) {
  const std::string d = tmp_dir();
  auto edit_group = [&](const char* path, const std::function<void(hid_t)>& e) {
    return damaged_copy(d, [&](hid_t f) {
      const hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
      e(g);
      H5Gclose(g);
    });
  };
  std::string p = edit_group("/round/0000", [](hid_t g) { set_int_attr(g, "element_man_bits", 2); });
  std::string msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000: attribute \"element_man_bits\" = 2 does not match the JSON description (1)"),
            std::string::npos) << msg;
  p = edit_group("/round/0000", [](hid_t g) { H5Adelete(g, "rounding"); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000: attribute \"rounding\" is missing"), std::string::npos) << msg;
  p = edit_group("/round/0000", [](hid_t g) { set_str_attr(g, "rounding", "{\"mode\":\"fast\"}"); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000: attribute \"rounding\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("rounding.mode"), std::string::npos) << msg;
  p = edit_group("/quantize/0002", [](hid_t g) { set_int_attr(g, "group_count", 5); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/quantize/0002: attribute \"group_count\" = 5 does not match"), std::string::npos) << msg;
  p = edit_group("/round/0000", [](hid_t g) { set_str_attr(g, "op", "quantize"); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000: attribute \"op\""), std::string::npos) << msg;
  p = damaged_copy(d, [](hid_t f) {
    const hid_t g = H5Gcreate2(f, "/bogus", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
  });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/bogus"), std::string::npos) << msg;
  // Edited attributes that still fit the schema are caught by the digest.
  p = edit_group("/round/0000", [](hid_t g) { set_str_attr(g, "label", "changed"); });
  msg = error_of([&] { mv::read_suite(p); });
  EXPECT_NE(msg.find("/round/0000: content digest mismatch"), std::string::npos) << msg;
}

TEST(VectorsBadInput, ResultsThatDoNotFitTheirVectorFile) {
  const std::string d = tmp_dir();
  const mv::Suite vec = mv::read_suite(small_file());
  mv::Suite res = mv::make_results(vec, "impl");
  res.groups.resize(3);  // a results file may cover a subset of the groups
  mv::write_suite(d + "/ok.h5", res);
  EXPECT_NO_THROW(mv::read_results(d + "/ok.h5", vec));
  mv::Suite bad = res;  // one case more than the vector file has
  const std::string path1 = bad.groups[1].path;
  for (auto& [name, a] : bad.groups[1].data) {
    a.dims[0] += 1;
    a.ints.resize(a.size());
  }
  mv::write_suite(d + "/bad.h5", bad);
  std::string msg = error_of([&] { mv::read_results(d + "/bad.h5", vec); });
  EXPECT_NE(msg.find(path1), std::string::npos) << msg;
  mv::Suite foreign = res;
  foreign.groups[0].path = "/" + mv::to_string(foreign.groups[0].op) + "/9999";
  mv::write_suite(d + "/foreign.h5", foreign);
  msg = error_of([&] { mv::read_results(d + "/foreign.h5", vec); });
  EXPECT_NE(msg.find(foreign.groups[0].path + ": the vector file has no such case group"), std::string::npos) << msg;
  msg = error_of([&] { mv::read_results(small_file(), vec); });
  EXPECT_NE(msg.find("expected a results file"), std::string::npos) << msg;
}
