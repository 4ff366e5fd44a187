// The dataset table of spec/08-vectors.md section 8.4: for every op, which
// datasets a case group holds, their dtypes and their per-case dims. The
// reader validates files against it; the writer and generators follow it.
#pragma once
#include <string>
#include <vector>

#include "mls/vectors/suite.hpp"

namespace mls::vectors {

struct DatasetSpec {
  std::string name;           // "inputs/x"
  std::vector<DType> dtypes;  // allowed dtypes (info/exact_mant: i64 or str)
  // Per-case dims after the case axis: none (one value per case), the i64
  // array attribute `dims_attr` (e.g. "shape"), the integer attribute
  // `count_attr` (e.g. "group_count"), or the fixed `fixed` list.
  std::string dims_attr, count_attr;
  std::vector<uint64_t> fixed;
  bool required = true;  // info/ datasets are optional
};

// The datasets of a case group of `op`; `attrs` selects variants (philox).
std::vector<DatasetSpec> dataset_specs(Op op, const Attrs& attrs, const std::string& where);
// Attributes every case group of `op` carries in a vector file.
std::vector<std::string> required_group_attrs(Op op);
// Attributes the root group of a vector file carries.
std::vector<std::string> required_root_attrs(Kind kind);

// Checks a case group against the table: attributes present and decodable,
// every required dataset present with an allowed dtype and dims
// [case_count, per-case dims...], no unknown dataset. Errors name the HDF5
// path (e.g. "/round/0003/inputs/x"). For a results group, `reference` is
// the matching group of the vector file (its attributes fix the dims) and
// only outputs/ datasets are allowed.
void validate_group(const CaseGroup& g, Kind kind, const CaseGroup* reference = nullptr);

// Per-case dims of one dataset for a group (attributes taken from `attrs`).
std::vector<uint64_t> case_dims(const DatasetSpec& s, const Attrs& attrs, const std::string& where);

}  // namespace mls::vectors
