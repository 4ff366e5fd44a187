// MLS dot-product (MAC) unit: the hardware accumulator profile of
// spec/06-conv.md 6.9 with inter_group = exact, and the exact profile (6.8)
// as the special case of a register wide and fine enough (README.md).
//
// One term per clock: two element codes (same E/M format), the two
// group-scale codes of the term's segment, `seg_end` on the last term of a
// segment (6.6) and `last` on the last term of an output. Per term:
//   p = m_a m_b 2^(e_a + e_b)          exact product (6.5): multiply mantissas, add exponents
//   q = round(p / 2^-F)                alignment (6.9.1), mode in_align
//   r = r + q                          W-bit register, policy OVF (6.9.2)
// at a segment end: v' = S_g^a S_g^b r 2^-F added exactly into an AW-bit
// accumulator (6.9.3 exact): r m_ga m_gb shifted by e_ga + e_gb; at the last
// term the unit outputs the exact sum V = acc 2^-FG and
//   y = round_fp32(S_t^a S_t^b V)      mode in_final (6.9.4; rne for the exact profile)
// In-flight outputs are independent: a new output may start the clock after
// the previous one's last term.
//
// Seeded bug (README.md, "Mutants"), off unless defined: MLS_RTL_BUG_ACC_NARROW
// (the register wraps at 8 bits whatever W and OVF say).
module mls_dot #(
    parameter int E   = 2,    // element exponent bits (>= 1)
    parameter int M   = 1,    // element mantissa bits
    parameter int EG  = 4,    // group-scale exponent bits
    parameter int MG  = 1,    // group-scale mantissa bits
    parameter int F   = 6,    // register LSB weight 2^-F
    parameter int W   = 48,   // register width (two's complement)
    parameter int OVF = 2,    // 0 saturate, 1 wrap, 2 error (flag)
    parameter int AW  = 128   // inter-group accumulator width
) (
    input  logic             clk,
    input  logic             in_valid,
    input  logic [  E+M:0]   in_a,
    input  logic [  E+M:0]   in_b,
    input  logic [EG+MG-1:0] in_ga,
    input  logic [EG+MG-1:0] in_gb,
    input  logic             in_seg_end,
    input  logic             in_last,
    input  logic [      2:0] in_align,  // 0 rne 1 rna 2 rtz 3 rup 4 rdn
    input  logic [      2:0] in_final,  // 0 rne 1 rna 2 rtz 3 rup 4 rdn
    input  logic [     30:0] in_sta,    // fp32 bits of S_t^a (positive)
    input  logic [     30:0] in_stb,
    output logic             out_valid,
    output logic [   AW-1:0] out_acc,   // V = out_acc * 2^-FG (two's complement)
    output logic [     31:0] out_y,     // fp32 bits
    output logic             out_ovf    // a register overflow under OVF = error
);
  localparam int BIAS = (1 << E) - 1;
  localparam int BIASG = (1 << EG) - 1;
  localparam int EMAXF = (1 << E) - 1;
  localparam int XW = 12;
  localparam int PW = 2 * M + 2;  // product significand bits
  localparam int PE_MAX = 2 * (EMAXF - BIAS - M);
  localparam int SH_MAX = (PE_MAX + F > 0) ? PE_MAX + F : 0;  // left shift of an aligned product
  localparam int QW = PW + SH_MAX + 1;  // aligned product, signed
  localparam int SW = (QW > W ? QW : W) + 1;  // register sum
`ifdef MLS_RTL_BUG_ACC_NARROW
  localparam int WE = 8;
  localparam int OVFE = 1;
`else
  localparam int WE = W;
  localparam int OVFE = OVF;
`endif
  localparam int TW = W + 2 * (MG + 1) + 2 * BIASG + 1;  // scaled segment sum, signed
  localparam int FG = F + 2 * (BIASG + MG);  // the accumulator's LSB is 2^-FG
  localparam int MW = AW + 48;  // |acc| * m_ta * m_tb

  // ---- stage 0: input register ----------------------------------------------
  logic v0, seg0, last0;
  logic [E+M:0] a0, b0;
  logic [EG+MG-1:0] ga0, gb0;
  logic [2:0] al0, fin0;
  logic [30:0] sta0, stb0;
  always_ff @(posedge clk) begin
    v0 <= in_valid;
    a0 <= in_a;
    b0 <= in_b;
    ga0 <= in_ga;
    gb0 <= in_gb;
    seg0 <= in_seg_end;
    last0 <= in_last;
    al0 <= in_align;
    fin0 <= in_final;
    sta0 <= in_sta;
    stb0 <= in_stb;
  end

  // ---- product and alignment (6.5, 6.9.1) -----------------------------------
  function automatic logic [M:0] sig(input logic [E+M-1:0] c);
    sig = (c[E+M-1:M] == '0) ? {1'b0, c[M-1:0]} : {1'b1, c[M-1:0]};
  endfunction
  function automatic logic signed [XW-1:0] lsb_exp(input logic [E-1:0] ef);  // of the significand's last bit
    lsb_exp = ((ef == '0) ? XW'(1) : XW'(ef)) - XW'(BIAS + M);
  endfunction

  logic [PW-1:0] p;
  logic ps, p_inexact, p_half, p_rest, p_up;
  logic signed [XW-1:0] sh;
  logic [6:0] rsh;
  logic [QW-1:0] qmag, q;
  logic [PW-1:0] pdown, prem;
  always @* begin
    p = PW'(sig(a0[E+M-1:0])) * PW'(sig(b0[E+M-1:0]));
    ps = a0[E+M] ^ b0[E+M];
    sh = lsb_exp(a0[E+M-1:M]) + lsb_exp(b0[E+M-1:M]) + XW'(F);
    rsh = (sh >= 0) ? 7'd0 : ((-sh > XW'(PW + 1)) ? 7'(PW + 1) : 7'(-sh));
    pdown = p >> rsh;
    prem = p & ~({PW{1'b1}} << rsh);
    p_inexact = prem != '0;
    p_half = (rsh != 0) && (rsh <= 7'(PW)) && p[rsh-1];
    p_rest = (prem & ~(PW'(1) << (rsh - 7'd1))) != '0;
    case (al0)
      3'd0: p_up = p_half && (p_rest || pdown[0]);  // rne (symmetric on the magnitude)
      3'd1: p_up = p_half;  // rna
      3'd3: p_up = p_inexact && !ps;  // rup: toward +inf
      3'd4: p_up = p_inexact && ps;  // rdn: toward -inf
      default: p_up = 1'b0;  // rtz
    endcase
    if (sh >= 0) qmag = QW'(p) << sh;
    else qmag = QW'(pdown) + QW'(p_up);
    q = ps ? -qmag : qmag;
  end

  logic v1, seg1, last1;
  logic [QW-1:0] q1;
  logic [EG+MG-1:0] ga1, gb1;
  logic [2:0] fin1;
  logic [30:0] sta1, stb1;
  always_ff @(posedge clk) begin
    v1 <= v0;
    q1 <= q;
    seg1 <= seg0;
    last1 <= last0;
    ga1 <= ga0;
    gb1 <= gb0;
    fin1 <= fin0;
    sta1 <= sta0;
    stb1 <= stb0;
  end

  // ---- intra-group register (6.9.2) -----------------------------------------
  localparam logic signed [SW-1:0] RMAX = SW'((64'sd1 <<< (WE - 1)) - 1);
  localparam logic signed [SW-1:0] RMIN = -SW'(64'sd1 <<< (WE - 1));
  logic signed [W-1:0] r;
  logic signed [SW-1:0] rsum;
  logic signed [W-1:0] rnext;
  logic r_ovf;
  always @* begin
    rsum = SW'(r) + {{(SW - QW) {q1[QW-1]}}, q1};
    r_ovf = (rsum > RMAX) || (rsum < RMIN);
    if (!r_ovf) rnext = W'(rsum);
    else if (OVFE == 0) rnext = (rsum > RMAX) ? W'(RMAX) : W'(RMIN);
    else if (OVFE == 1) rnext = W'($signed(WE'(rsum)));  // two's complement wrap at WE bits
    else rnext = W'(rsum);
  end
  initial r = '0;

  logic v2, last2, ovf2, ovf_run;
  logic signed [W-1:0] seg_sum;
  logic [EG+MG-1:0] ga2, gb2;
  logic [2:0] fin2;
  logic [30:0] sta2, stb2;
  initial ovf_run = 1'b0;
  always_ff @(posedge clk) begin
    v2 <= v1 && seg1;
    seg_sum <= rnext;
    ga2 <= ga1;
    gb2 <= gb1;
    last2 <= last1;
    ovf2 <= ovf_run || (r_ovf && OVFE == 2);
    fin2 <= fin1;
    sta2 <= sta1;
    stb2 <= stb1;
    if (v1) begin
      r <= seg1 ? '0 : rnext;
      ovf_run <= last1 ? 1'b0 : (ovf_run || (r_ovf && OVFE == 2));
    end
  end

  // ---- group scales and the exact inter-group sum (6.9.3) ------------------------
  logic [MG:0] gma, gmb;
  logic [EG:0] gsh;
  logic signed [TW-1:0] tprod;
  logic signed [AW-1:0] term;
  always @* begin
    gma = (MG + 1)'((32'd1 << MG) | (32'(ga2) & ((32'd1 << MG) - 32'd1)));
    gmb = (MG + 1)'((32'd1 << MG) | (32'(gb2) & ((32'd1 << MG) - 32'd1)));
    gsh = (EG + 1)'(ga2 >> MG) + (EG + 1)'(gb2 >> MG);
    tprod = TW'(seg_sum) * $signed({1'b0, gma}) * $signed({1'b0, gmb});
    term = AW'(tprod) <<< gsh;
  end
  logic signed [AW-1:0] acc, acc_next;
  initial acc = '0;
  assign acc_next = acc + term;

  logic v3, ovf3;
  logic signed [AW-1:0] acc3;
  logic [2:0] fin3;
  logic [30:0] sta3, stb3;
  always_ff @(posedge clk) begin
    v3 <= v2 && last2;
    acc3 <= acc_next;
    ovf3 <= ovf2;
    fin3 <= fin2;
    sta3 <= sta2;
    stb3 <= stb2;
    if (v2) acc <= last2 ? '0 : acc_next;
  end

  // ---- final scaling and fp32 rounding (6.9.4, 3.2 on binary32) ------------------
  function automatic logic [23:0] tsig(input logic [30:0] t);
    tsig = (t[30:23] == 8'd0) ? {1'b0, t[22:0]} : {1'b1, t[22:0]};
  endfunction
  function automatic logic signed [XW-1:0] texp(input logic [7:0] ef);  // of the significand's last bit
    texp = ((ef == 8'd0) ? XW'(1) : XW'(ef)) - XW'(150);
  endfunction
  function automatic logic [8:0] lzc(input logic [MW-1:0] v);
    lzc = 9'(MW);
    for (int i = 0; i < MW; i++) if (v[i]) lzc = 9'(MW - 1 - i);
  endfunction

  logic ys, yzero, r_half, r_rest, r_inexact, r_away, y_ovf;
  logic [AW-1:0] amag;
  logic [MW-1:0] mag, mrem;
  logic signed [XW-1:0] ev, e1, ue, d;
  logic [9:0] dc;
  logic [31:0] ishift;  // the kept significand (at most 24 bits)
  logic [31:0] ybits, yfin;
  always @* begin
    ys = acc3[AW-1];
    amag = ys ? -acc3 : acc3;
    mag = MW'(amag) * MW'(tsig(sta3)) * MW'(tsig(stb3));
    yzero = mag == '0;
    ev = texp(sta3[30:23]) + texp(stb3[30:23]) - XW'(FG);
    e1 = XW'(MW - 1) - $signed(XW'(lzc(mag))) + ev;  // 2^e1 <= |y| < 2^(e1+1)
    ue = (e1 - XW'(23) > -XW'(149)) ? e1 - XW'(23) : -XW'(149);  // exponent of the fp32 ulp
    d = ue - ev;  // bits of mag below the ulp (<= 0: exact)
    dc = (d <= 0) ? 10'd0 : ((d > XW'(MW)) ? 10'(MW + 1) : 10'(d));
    ishift = (d <= 0) ? 32'(mag << (-d)) : 32'(mag >> dc);
    mrem = mag & ~({MW{1'b1}} << dc);
    r_inexact = mrem != '0;
    r_half = (dc != 0) && (dc <= 10'(MW)) && mag[dc-1];
    r_rest = (mrem & ~(MW'(1) << (dc - 10'd1))) != '0;
    ybits = {9'(ue + XW'(149)), 23'd0};
    ybits = ybits + ishift[31:0];
    case (fin3)
      3'd0: r_away = r_half && (r_rest || ybits[0]);
      3'd1: r_away = r_half;
      3'd3: r_away = r_inexact && !ys;
      3'd4: r_away = r_inexact && ys;
      default: r_away = 1'b0;
    endcase
    yfin = ybits + 32'(r_away);
    y_ovf = (e1 > XW'(127)) || (yfin >= 32'h7f800000);
    if (y_ovf) begin
      // rne/rna overflow to infinity; rtz to the largest finite; rup/rdn by direction
      if (fin3 == 3'd0 || fin3 == 3'd1 || (fin3 == 3'd3 && !ys) || (fin3 == 3'd4 && ys)) yfin = 32'h7f800000;
      else yfin = 32'h7f7fffff;
    end
    if (yzero) yfin = 32'h0;
    else yfin = {ys, yfin[30:0]};
  end

  always_ff @(posedge clk) begin
    out_valid <= v3;
    out_acc <= acc3;
    out_y <= yfin;
    out_ovf <= ovf3;
  end
endmodule
