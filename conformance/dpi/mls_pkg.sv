// mls_pkg: the MLS golden model (mls-ref's reference/, exact) for
// SystemVerilog testbenches over DPI-C. Compile this package with the
// testbench and load libmls_dpi.so (README.md beside this file: Verilator,
// Xcelium, Questa, VCS). C declarations: mls_dpi.h.
//
// Conventions: fp32 values are their bit patterns (int unsigned); formats are
// text as `mls` reads them: a profile name ("mls-e2m1"), a short name
// ("e2m1.g4m1/1x16:nearest") or the JSON object. Every function returns a
// status (MLS_DPI_OK, or an error code with the message in
// mls_dpi_last_error()); on an error the outputs hold nothing usable.
package mls_pkg;

  // Status codes.
  localparam int MLS_DPI_OK = 0;
  localparam int MLS_DPI_ERR_INPUT = 1;  // invalid request, or the spec makes it an error
  localparam int MLS_DPI_ERR_BUFFER = 3;  // an output array is too small
  localparam int MLS_DPI_ERR_INTERNAL = 4;

  // Rounding modes (the C ABI's values; spec 3.3, 3.4).
  localparam int MLS_DPI_RNE = 0;
  localparam int MLS_DPI_RNA = 1;
  localparam int MLS_DPI_RTZ = 2;
  localparam int MLS_DPI_RUP = 3;
  localparam int MLS_DPI_RDN = 4;
  localparam int MLS_DPI_RTO = 5;
  localparam int MLS_DPI_SR = 6;

  // "mls-dpi 0.1 (spec 1.0)".
  //   $display("%s", mls_dpi_version());
  import "DPI-C" function string mls_dpi_version();

  // The message of this thread's last failed call ("" after a success).
  //   if (st != MLS_DPI_OK) $error("mls: %s", mls_dpi_last_error());
  import "DPI-C" function string mls_dpi_last_error();

  // One element (spec 4.5): code = round(x / (S_t S_g)) on the format's element
  // grid, with the mode, R (sr_bits) and the element's random word (sr only),
  // and the format's overflow and signed-zero policies; `saturated` is 1 when
  // the magnitude was above q_max (3.5). The quantizer RTL's prediction:
  //   st = mls_dpi_round_element("mls-e2m1", x, s_t, g_code, MLS_DPI_SR, 8, word, code, sat);
  import "DPI-C" function int mls_dpi_round_element(
      input string format, input int unsigned x, input int unsigned tensor_scale,
      input int unsigned group_scale, input int mode, input int sr_bits, input int unsigned word,
      output int unsigned code, output bit saturated);

  // The rule that decided this thread's last mls_dpi_round_element ("tie_even", "sr_away",
  // "saturated", ...: spec 3.3-3.5), for functional coverage of a stimulus.
  //   if (mls_dpi_last_rule() == "tie_even") ties++;
  import "DPI-C" function string mls_dpi_last_rule();

  // The dynamic tensor scale (4.3): RU_fp32(amax / (q_max g_max)), 1.0 when amax = 0.
  //   st = mls_dpi_tensor_scale("mls-e2m1", amax_bits, s_t);
  import "DPI-C" function int mls_dpi_tensor_scale(
      input string format, input int unsigned amax, output int unsigned tensor_scale);

  // The group-scale code for a group maximum under S_t and the format's policy (4.4).
  //   st = mls_dpi_group_scale("e2m1.g4m1:nearest", s_t, group_amax_bits, g_code);
  import "DPI-C" function int mls_dpi_group_scale(
      input string format, input int unsigned tensor_scale, input int unsigned group_amax,
      output int unsigned code);

  // The number of groups of the format's layout over a shape (2.4), to size group_scales.
  //   longint shape[] = '{4, 64}; st = mls_dpi_group_count("e2m1.g4m1/1x16", shape, n);
  import "DPI-C" function int mls_dpi_group_count(
      input string format, input longint shape[], output longint count);

  // Whole-tensor quantization (4.1-4.6) into caller-owned arrays: elements must
  // have one entry per element, group_scales at least mls_dpi_group_count()
  // entries; words: one random word per element for sr (else it may be empty);
  // static_tensor_scale 0 means dynamic.
  //   int unsigned x[1024], el[1024], gs[64], w[]; longint shape[] = '{64, 16};
  //   st = mls_dpi_quantize("e2m1.g4m1/1x16", shape, x, MLS_DPI_RNE, 8, w, 0, s_t, gs, el);
  import "DPI-C" function int mls_dpi_quantize(
      input string format, input longint shape[], input int unsigned x[], input int mode,
      input int sr_bits, input int unsigned words[], input int unsigned static_tensor_scale,
      output int unsigned tensor_scale, inout int unsigned group_scales[],
      inout int unsigned elements[]);

  // One dot product (6.4-6.10): A (1, K) by B (K, 1) as MLS tensors (element
  // codes, group-scale codes of each operand's layout over its shape, tensor
  // scales) under the arithmetic profile ("exact", or the JSON accumulator
  // profile); y is the fp32 result, mls_dpi_last_exact() the exact sum "m*2^e".
  //   st = mls_dpi_dot("e2m1.g4m1/1x16", "e2m1.g4m1/16x1", "exact", sa, a, ga, sb, b, gb, y);
  import "DPI-C" function int mls_dpi_dot(
      input string a_format, input string b_format, input string arith,
      input int unsigned a_tensor_scale, input int unsigned a_elements[],
      input int unsigned a_group_scales[], input int unsigned b_tensor_scale,
      input int unsigned b_elements[], input int unsigned b_group_scales[], output int unsigned y);

  // The exact value of this thread's last mls_dpi_dot, "m*2^e" (m odd, or "0*2^0").
  import "DPI-C" function string mls_dpi_last_exact();

  // Not DPI: whether `s` contains `sub` (testbenches look into `mls export` header lines).
  //   if (mls_contains(format_json, "\"signed_zero\":\"positive\"")) poszero = 1;
  function automatic bit mls_contains(input string s, input string sub);
    for (int i = 0; i + sub.len() <= s.len(); i++) if (s.substr(i, i + sub.len() - 1) == sub) return 1;
    return 0;
  endfunction

endpackage
