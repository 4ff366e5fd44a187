// mls-fast: the round (cast) entry (spec/03, 3.10): codes of x[i] / s on a
// grid valid as an element or as a group-scale format (E8M0 too),
// s = scale_mant 2^scale_exp, every mode, NaN and Inf inputs by 3.10. One
// exact 128/64-bit division per value. Compiled once (no seeded bug touches it).
#include "ops.hpp"
#include "rounding.hpp"

namespace mlsfast {

void round_op(const mls_cast_v2* cast, const uint32_t* x, uint64_t n, const uint32_t* rand, uint64_t n_rand,
              uint32_t* out, uint64_t capacity) {
  if (!cast) bad("cast is NULL");
  const Grid el = make_cast_grid(cast->element, "cast.element");
  check_rounding(&cast->rounding);
  check_overflow(cast->overflow, el, "cast.overflow");
  if (cast->signed_zero < 0 || cast->signed_zero > 1)
    bad("cast.signed_zero = " + std::to_string(cast->signed_zero) + " is outside 0..1");
  if (cast->scale_mant < 1)
    bad("cast.scale_mant = " + std::to_string(cast->scale_mant) + " is not >= 1 (the scale is positive)");
  const int mode = cast->rounding.mode;
  const int R = mode == MLS_SR ? cast->rounding.sr_bits : 8;
  if (n > 0 && !x) bad("x is NULL");
  if (mode == MLS_SR) {
    if (n_rand != n) bad("rand has " + std::to_string(n_rand) + " words but sr needs one per value (" + std::to_string(n) + ")");
    if (n > 0 && !rand) bad("rand is NULL");
  }
  if (n > 0 && !out) bad("codes_out is NULL");
  if (capacity < n)
    fail(MLS_ERR_BUFFER, "codes_out has room for " + std::to_string(capacity) + " codes but there are " + std::to_string(n));
  const ElementRule rule{&el, cast->overflow, cast->signed_zero == MLS_SIGNED_ZERO_POSITIVE};
  uint64_t dm = static_cast<uint64_t>(cast->scale_mant);
  int64_t de = cast->scale_exp;
  normalise64(dm, de);
  const int64_t count = static_cast<int64_t>(n);
  const int64_t bad_at = first_index(count, 30, [&](int64_t i) {
    bool err = false;
    out[i] = rule.quotient<Mutant::none>(x[i], dm, de, mode, R, mode == MLS_SR ? rand[i] : 0, &err);
    return err;
  });
  if (bad_at < count) {
    const uint32_t b = x[bad_at];
    const std::string at = "x[" + std::to_string(bad_at) + "]";
    if ((b & 0x7fffffffu) > 0x7f800000u) bad(at + ": the input is NaN and " + el.name() + " has no NaN code (3.10)");
    const bool neg = (b >> 31) != 0;
    if (fp32_nonfinite(b))
      bad(at + ": the input is " + (neg ? "-" : "+") + "Inf and cannot be rounded to " + el.name() +
          " under overflow = " + (cast->overflow == MLS_OVERFLOW_SATURATE ? "saturate" : "error") + " (3.10)");
    if (neg && !el.is_signed) bad(at + ": a negative value cannot be rounded to the unsigned format " + el.name() + " (3.6)");
    bad(at + ": magnitude above the largest value of " + el.name() + " (overflow policy error)");
  }
}

}  // namespace mlsfast
