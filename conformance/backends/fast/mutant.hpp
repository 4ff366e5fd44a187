// The seeded bugs of mls-fast: the enumeration of the catalogue (mutants.def)
// and, for the files compiled once per variant, the switch:
// -DMLS_FAST_MUTANT=<name> builds a variant with one deliberate departure from
// the spec (CMakeLists.txt builds one library per entry), so that the
// conformance runner can be shown to catch and diagnose it. Files compiled
// once (shared by every variant) see the enumeration only and pass
// Mutant::none where a routine takes one.
#pragma once

namespace mlsfast {

// ---- seeded bugs (compile-time; the catalogue is mutants.def) ----------------
enum class Mutant {
  none,
#define MLS_FAST_SEEDED_BUG(name, ops, cause, formats, departure) name,
#include "mutants.def"
#undef MLS_FAST_SEEDED_BUG
};
#ifdef MLS_FAST_VARIANT_SOURCE
#ifdef MLS_FAST_MUTANT
inline constexpr Mutant kMutant = Mutant::MLS_FAST_MUTANT;
#define MLS_FAST_STR2(x) #x
#define MLS_FAST_STR(x) MLS_FAST_STR2(x)
inline constexpr const char* kMutantName = MLS_FAST_STR(MLS_FAST_MUTANT);
#else
inline constexpr Mutant kMutant = Mutant::none;
inline constexpr const char* kMutantName = "";
#endif
#endif

}  // namespace mlsfast
