// MLS element quantizer (spec/03-rounding.md 3.2-3.6, spec/04-quantize.md 4.5).
//
// One element per clock in, one code per clock out, LAT clocks later:
//   code = round( x / (S_t * S_g) )  on the E/M element grid
// with x and S_t fp32 bit patterns, S_g a group-scale code (EG/MG), the
// rounding mode (MLS_RNE..MLS_SR codes 0..6), R (1..32) and the element's
// random word for sr, and the signed-zero policy. out_ovf says that |v| is
// above q_max (3.5; on a grid with specials: that the rounding lands on the
// special position); the code is then the saturated one and an `overflow =
// error` format turns the flag into an error.
//
// Exactness without a floating-point divide (README.md, "Element quantizer"):
// x = mx 2^ex and D = S_t S_g = Dm 2^eD are exact integer significands times
// powers of two; a pipelined restoring divider produces M + 33 exact quotient
// bits of mx / Dm plus the exact "remainder non-zero" sticky bit. Those bits
// give L (the kept significand, at the grid ulp of lo), the first 32 bits of
// the gap fraction t and whether anything below them is non-zero: all any
// mode needs (3.3, and 3.4 "integer form" for sr).
//
// The element grid's special values (spec 1.6) take codes away from the top:
// SPECIALS = 1 (IEEE: the all-ones exponent field is Inf/NaN, E5M2) and 2
// (only the all-ones magnitude is NaN, OCP E4M3) lower q_max to the largest
// finite code; the quantizer never produces a special (a magnitude above
// q_max saturates; out_ovf is raised when the rounding lands on the special
// position, 3.5). BIASG is the group-scale bias: 2^EG - 1
// for MLS group scales, 127 for the OCP MX E8M0 scale (EG = 8, MG = 0), whose
// code 255 (NaN) the host never sends.
//
// Seeded bugs for the conformance proof (README.md, "Mutants"), off unless
// defined: MLS_RTL_BUG_TIE (rne ties go away from zero), MLS_RTL_BUG_SR_CARRY
// (the sr adder's carry-in is 1: away when T + r + 1 >= 2^R),
// MLS_RTL_BUG_SR_LOWBITS (sr takes r from the low R bits of the word),
// MLS_RTL_BUG_MX_NAN (SPECIALS = 2 forgets its NaN: the all-ones magnitude,
// E4M3's 0x7f, becomes q_max).
module mls_quantizer #(
    parameter int E         = 2,            // element exponent bits (0..8)
    parameter int M         = 1,            // element mantissa bits
    parameter int BIAS      = (E == 0) ? 0 : (1 << E) - 1,  // the default bias (1.2)
    parameter int ZERO_ONLY = 0,            // 1: element zero = zero_only (1.5)
    parameter int EG        = 4,            // group-scale exponent bits
    parameter int MG        = 1,            // group-scale mantissa bits
    parameter int SPECIALS  = 0,            // 0 none, 1 IEEE (E5M2), 2 NaN at the all-ones magnitude (E4M3)
    parameter int BIASG     = (1 << EG) - 1 // group-scale bias (2.3; 127 for E8M0)
) (
    input  logic                 clk,
    input  logic                 in_valid,
    input  logic [         31:0] in_x,      // fp32 bits, finite
    input  logic [         30:0] in_st,     // fp32 bits of S_t, positive finite (sign bit 0, not wired)
    input  logic [EG+MG-1:0]     in_gs,     // group-scale code
    input  logic [          2:0] in_mode,   // 0 rne 1 rna 2 rtz 3 rup 4 rdn 5 rto 6 sr
    input  logic [          5:0] in_rbits,  // R for sr (1..32)
    input  logic [         31:0] in_word,   // random word for sr
    input  logic                 in_poszero, // signed_zero = positive
    output logic                 out_valid,
    output logic [  E+M:0]       out_code,  // sign | exponent | mantissa
    output logic                 out_ovf    // overflow (3.5): the code is the saturated one
);
  localparam int XW = 12;  // signed exponent arithmetic width (|exponents| < 2^10)
  localparam int K = 25 + MG;  // normalised divisor width: Dm in [2^(K-1), 2^K)
  localparam int RB = 32;  // fraction bits kept below the grid ulp (R <= 32)
  localparam int QB = M + 1 + RB;  // quotient bits
  localparam int NS = QB - 1;  // divider stages (the first bit is always 1)
  // The largest exponent field of a finite code, and q_max's code (1.3, 1.6).
  localparam int EMAXF = (E == 0) ? 0 : (SPECIALS == 1) ? (1 << E) - 2 : (1 << E) - 1;
  localparam logic [E+M-1:0] ALL1 = {(E + M) {1'b1}};
`ifdef MLS_RTL_BUG_MX_NAN
  localparam logic [E+M-1:0] QMAX = (SPECIALS == 1) ? ALL1 - (E + M)'((1 << M)) : ALL1;  // E4M3's NaN as q_max
`else
  localparam logic [E+M-1:0] QMAX = (SPECIALS == 1) ? ALL1 - (E + M)'((1 << M)) : (SPECIALS == 2) ? ALL1 - 1'b1 : ALL1;
`endif
  // Exponent of |v| at and above which |v| >= 2^(binade of q_max + 1) > q_max: overflow.
  localparam int LE_OVF = (E == 0) ? 1 - BIAS : EMAXF - BIAS + 1;
  localparam int EMIN = 1 - BIAS;  // exponent of the smallest normal
  // Sideband: sign, zero, le, mode, R, word, poszero.
  localparam int SW = 1 + 1 + XW + 3 + 6 + 32 + 1;

  function automatic logic [4:0] lzc24(input logic [23:0] v);
    lzc24 = 5'd24;
    for (int i = 0; i < 24; i++) if (v[i]) lzc24 = 5'(23 - i);
  endfunction

  // ---- stage 0: input register -------------------------------------------
  logic v0, pz0;
  logic [31:0] x0, w0;
  logic [30:0] st0;
  logic [EG+MG-1:0] gs0;
  logic [2:0] mode0;
  logic [5:0] r0;
  always_ff @(posedge clk) begin
    v0 <= in_valid;
    x0 <= in_x;
    st0 <= in_st;
    gs0 <= in_gs;
    mode0 <= in_mode;
    r0 <= in_rbits;
    w0 <= in_word;
    pz0 <= in_poszero;
  end

  // ---- unpack, normalise, D significand = mt * mg ---------------------------
  logic [23:0] mx, mt, mxn, mtn;
  logic [4:0] lzx, lzt;
  logic signed [XW-1:0] ex, et, eg;
  logic [MG:0] mg;
  always @* begin
    mx  = (x0[30:23] == 8'd0) ? {1'b0, x0[22:0]} : {1'b1, x0[22:0]};
    mt  = (st0[30:23] == 8'd0) ? {1'b0, st0[22:0]} : {1'b1, st0[22:0]};
    lzx = lzc24(mx);
    lzt = lzc24(mt);
    mxn = mx << lzx;
    mtn = mt << lzt;
    // exponent of the last significand bit, after normalisation
    ex  = ((x0[30:23] == 8'd0) ? -XW'(149) : $signed(XW'(x0[30:23])) - XW'(150)) - $signed(XW'(lzx));
    et  = ((st0[30:23] == 8'd0) ? -XW'(149) : $signed(XW'(st0[30:23])) - XW'(150)) - $signed(XW'(lzt));
    mg  = (MG + 1)'((32'd1 << MG) | (32'(gs0) & ((32'd1 << MG) - 32'd1)));
    eg  = $signed(XW'(gs0) >> MG) - XW'(BIASG + MG);
  end

  // ---- stage 1 -------------------------------------------------------------------
  logic v1, s1_sign, s1_zero, pz1;
  logic [23:0] mx1;
  logic signed [XW-1:0] ex1, ed1;
  logic [K-1:0] dm1;
  logic [2:0] mode1;
  logic [5:0] r1;
  logic [31:0] w1;
  always_ff @(posedge clk) begin
    v1 <= v0;
    s1_sign <= x0[31];
    s1_zero <= (x0[30:0] == 31'd0);
    mx1 <= mxn;
    ex1 <= ex;
    ed1 <= et + eg;
    dm1 <= K'(mtn) * K'(mg);
    mode1 <= mode0;
    r1 <= r0;
    w1 <= w0;
    pz1 <= pz0;
  end

  // ---- normalise D into [2^(K-1), 2^K); n in [Dm, 2 Dm); first quotient bit --
  // x = mx1 2^ex1 = n0 2^(ex1 - MG - 1) with n0 = mx1 << (MG + 1) in [2^(K-1), 2^K);
  // D = dmn 2^(ed1 - dn); |v| = (n / dmn) 2^le with n / dmn in [1, 2).
  logic dn, ge;
  logic [K-1:0] dmn, n0;
  logic [K:0] n;
  logic signed [XW-1:0] le0, le;
  always @* begin
    dn  = ~dm1[K-1];
    dmn = dn ? {dm1[K-2:0], 1'b0} : dm1;
    n0  = {mx1, {(MG + 1) {1'b0}}};
    ge  = n0 >= dmn;
    n   = ge ? {1'b0, n0} : {n0, 1'b0};
    le0 = ex1 - XW'(MG + 1) - ed1 + $signed(XW'(dn));
    le  = ge ? le0 : le0 - XW'(1);
  end

  // Stage 2 registers; the divider stages follow (d_*[i] is stage i's output).
  logic s2_valid;
  logic [SW-1:0] s2_side;
  logic [K-1:0] s2_dm, s2_rem;
  always_ff @(posedge clk) begin
    s2_valid <= v1;
    s2_side <= {s1_sign, s1_zero, le, mode1, r1, w1, pz1};
    s2_dm <= dmn;
    s2_rem <= K'(n - {1'b0, dmn});  // < dmn: the first quotient bit is 1
  end
  wire d_valid[NS+1];
  wire [SW-1:0] d_side[NS+1];
  wire [K-1:0] d_dm[NS+1], d_rem[NS+1];
  wire [QB-1:0] d_q[NS+1];
  assign d_valid[0] = s2_valid;
  assign d_side[0] = s2_side;
  assign d_dm[0] = s2_dm;
  assign d_rem[0] = s2_rem;
  assign d_q[0] = QB'(1);

  for (genvar i = 0; i < NS; i++) begin : g_div
    mls_div_stage #(
        .K (K),
        .QB(QB),
        .SW(SW)
    ) u_stage (
        .clk(clk),
        .in_valid(d_valid[i]),
        .in_side(d_side[i]),
        .in_dm(d_dm[i]),
        .in_rem(d_rem[i]),
        .in_q(d_q[i][QB-2:0]),
        .out_valid(d_valid[i+1]),
        .out_side(d_side[i+1]),
        .out_dm(d_dm[i+1]),
        .out_rem(d_rem[i+1]),
        .out_q(d_q[i+1])
    );
  end

  // ---- rounding decision (3.2 steps 2-5, 3.3, 3.4, 3.6) --------------------------
  logic f_sign, f_zero, f_pz;
  logic signed [XW-1:0] f_le, ue, sh;
  /* verilator lint_off UNUSEDSIGNAL */
  logic signed [XW-1:0] rowx;  // only its low E+M bits form a code field
  /* verilator lint_on UNUSEDSIGNAL */
  logic [2:0] f_mode;
  logic [5:0] f_r;
  logic [31:0] f_w, frac, rr, tt;
  logic [QB-1:0] q, qs;
  logic [6:0] shc;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [M:0] lsig;  // kept significand L (its top bit is always 0 when E = 0)
  /* verilator lint_on UNUSEDSIGNAL */
  logic sticky, inexact, half, rest, zo_gap, over, beyond, ovf, away, sr_carry;
  logic [E+M-1:0] lo, hi, mag;
  logic [E+M-1:0] row;  // exponent field minus 1 of lo's row (0 below)
  always @* begin
    {f_sign, f_zero, f_le, f_mode, f_r, f_w, f_pz} = d_side[NS];
    q = d_q[NS];
    // ulp exponent of lo's row (3.4): normal row le - M, subnormal row 1-b-M,
    // the zero_only gap 1-b (its only point below 2^(1-b) is zero)
    zo_gap = (ZERO_ONLY != 0) && (E > 0) && (f_le < XW'(EMIN));
    if (E > 0 && f_le >= XW'(EMIN)) ue = f_le - XW'(M);
    else if (zo_gap) ue = XW'(EMIN);
    else ue = XW'(EMIN - M);
    // |v| / 2^ue = (q + rem/dm) 2^(le - ue - M - RB): shift q right by
    // sh + RB (sh = M - (le - ue) >= 0 below the overflow threshold)
    sh = XW'(M) - (f_le - ue);
    shc = (sh > XW'(QB)) ? 7'(QB + 1) : (sh < 0 ? 7'd0 : 7'(sh));
    qs = q >> shc;
    lsig = qs[QB-1:RB];
    frac = qs[RB-1:0];
    sticky = (d_rem[NS] != '0) || |(q & ~({QB{1'b1}} << shc));
    inexact = !f_zero && (frac != 32'd0 || sticky);
    half = frac[31];
    rest = (frac[30:0] != 31'd0) || sticky;
    rowx = f_le + XW'(BIAS - 1);
    row = (E > 0 && f_le >= XW'(EMIN)) ? (E + M)'(rowx) : '0;
    lo = zo_gap ? '0 : (E + M)'((row << M) + (E + M)'(lsig));
    hi = zo_gap ? (E + M)'(1 << M) : lo + 1'b1;
    // above q_max: beyond its binade, or lo past the largest finite code (a
    // special's position), or lo = q_max with something left over. On a grid
    // with specials |v| > q_max rounds between q_max and the special position
    // (3.5): `beyond` is |v| at or past that position (t >= 1).
`ifdef MLS_RTL_BUG_MX_NAN
    beyond = !f_zero && (f_le >= XW'(LE_OVF));
`else
    beyond = !f_zero && (f_le >= XW'(LE_OVF) || (SPECIALS == 2 && lo == ALL1));
`endif
    over = beyond || (!f_zero && lo == QMAX && inexact);
    // sr (3.4, integer form): T = the top R bits of the fraction, r = the
    // top R bits of the word; away iff T + r >= 2^R
`ifdef MLS_RTL_BUG_SR_LOWBITS
    rr = f_w & ((32'd1 << f_r) - 32'd1);
`else
    rr = f_w >> (6'd32 - f_r);
`endif
    tt = frac >> (6'd32 - f_r);
`ifdef MLS_RTL_BUG_SR_CARRY
    sr_carry = ({1'b0, tt} + {1'b0, rr} + 33'd1) >= (33'd1 << f_r);
`else
    sr_carry = ({1'b0, tt} + {1'b0, rr}) >= (33'd1 << f_r);
`endif
    case (f_mode)
`ifdef MLS_RTL_BUG_TIE
      3'd0: away = half;
`else
      3'd0: away = half && (rest || lo[0]);  // rne: tie to the code ending in 0
`endif
      3'd1: away = half;  // rna
      3'd2: away = 1'b0;  // rtz
      3'd3: away = inexact && !f_sign;  // rup
      3'd4: away = inexact && f_sign;  // rdn
      3'd5: away = inexact && !lo[0];  // rto
      3'd6: away = inexact && sr_carry;  // sr
      default: away = 1'b0;
    endcase
    // at or past the special position t >= 1: nearest and sr go to it, the
    // directed modes by their direction, rto by q_max's last bit
    if (beyond)
      case (f_mode)
        3'd2: away = 1'b0;
        3'd3: away = !f_sign;
        3'd4: away = f_sign;
        3'd5: away = !QMAX[0];
        default: away = 1'b1;
      endcase
    // The flag: without specials every |v| > q_max (3.2 step 2); with them only
    // a rounding that lands on the special position (3.2 step 6), which the
    // code then saturates to q_max
    ovf = over && (SPECIALS == 0 || away);
    if (f_zero) mag = '0;
    else if (over) mag = QMAX;
    else mag = away ? hi : lo;
  end

  always_ff @(posedge clk) begin
    out_valid <= d_valid[NS];
    out_code <= {f_sign && !(f_pz && mag == '0), mag};
    out_ovf <= ovf;
  end
endmodule
