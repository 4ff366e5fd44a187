// A scoreboard for the bundled quantizer RTL (conformance/backends/rtl/rtl/
// mls_quantizer.sv) with the golden model over DPI-C (mls_pkg.sv) as the
// predictor. Plain SystemVerilog (no UVM), one clock, one element per clock:
//
//   driver     puts one element on the DUT's inputs every clock (random
//              stimulus, or the cases of an `mls export` round hex file);
//   predictor  asks the golden model for the same element at the same time
//              (mls_dpi_round_element) and queues the expected code;
//   monitor    pops the oldest prediction for every out_valid and compares
//              the code and the overflow flag; a mismatch prints every input
//              in hex, so the case can be replayed anywhere.
//
// Plusargs:
//   +n=<cases>      random cases (default 20000)      +seed=<s>  stimulus seed (default 1)
//   +hex=<file>     replay an `mls export` round file instead: its header's format
//                   (JSON) is the DPI format; the file's expected codes are checked
//                   against the golden model's too
// Ends with "scoreboard: PASS ..." or "scoreboard: FAIL ..." and $fatal(1) on any
// mismatch (or when nothing was checked). Parameters: the DUT's (E, M, BIAS,
// ZERO_ONLY, EG, MG, SPECIALS, BIASG), GSPECIALS and FORMAT, the same format as
// the golden model names it (a short name or a profile: "e2m1.g4m1", "mxfp8-e4m3").
module tb_scoreboard;
  import mls_pkg::*;

  parameter int E = 2;
  parameter int M = 1;
  parameter int BIAS = (E == 0) ? 0 : (1 << E) - 1;
  parameter int ZERO_ONLY = 0;
  parameter int EG = 4;
  parameter int MG = 1;
  parameter int SPECIALS = 0;  // element specials: 0 none, 1 IEEE (E5M2), 2 NaN at all ones (E4M3)
  parameter int BIASG = (1 << EG) - 1;  // group-scale bias (127 for E8M0)
  parameter int GSPECIALS = 0;  // 2: the scale grid's all-ones code is NaN (E8M0), never driven
  parameter string FORMAT = "e2m1.g4m1";

  localparam int CW = E + M + 1;  // element code bits
  localparam int GW = EG + MG;  // group-scale code bits
  localparam int GS_TOP = (1 << GW) - 1 - (GSPECIALS == 2 ? 1 : 0);  // the largest finite scale code

  logic clk = 1'b0;
  always #5 clk = ~clk;

  logic in_valid = 1'b0, in_poszero = 1'b0;
  logic [31:0] in_x = '0, in_word = '0;
  logic [30:0] in_st = '0;
  logic [GW-1:0] in_gs = '0;
  logic [2:0] in_mode = '0;
  logic [5:0] in_rbits = '0;
  logic out_valid, out_ovf;
  logic [CW-1:0] out_code;

  mls_quantizer #(
      .E(E),
      .M(M),
      .BIAS(BIAS),
      .ZERO_ONLY(ZERO_ONLY),
      .EG(EG),
      .MG(MG),
      .SPECIALS(SPECIALS),
      .BIASG(BIASG)
  ) dut (
      .clk(clk),
      .in_valid(in_valid),
      .in_x(in_x),
      .in_st(in_st),
      .in_gs(in_gs),
      .in_mode(in_mode),
      .in_rbits(in_rbits),
      .in_word(in_word),
      .in_poszero(in_poszero),
      .out_valid(out_valid),
      .out_code(out_code),
      .out_ovf(out_ovf)
  );

  // One prediction: the inputs (for the report) and the golden model's answer.
  typedef struct packed {
    logic [31:0] x, st, word;
    logic [GW-1:0] gs;
    logic [2:0] mode;
    logic [5:0] rbits;
    logic poszero;
    logic [31:0] code;
    logic sat;
  } pred_t;
  pred_t expected[$];
  int checked = 0, mismatches = 0, dpi_errors = 0, file_disagree = 0;
  // What the stimulus reached: saturated predictions, zero codes, rne ties, every code seen.
  int n_sat = 0, n_zero = 0, n_ties = 0;
  bit seen[1 << CW];

  // ---- monitor: outputs change at posedge; sample them at negedge -------------
  always @(negedge clk) begin
    if (out_valid) begin
      if (expected.size() == 0) begin
        mismatches++;
        $display("MISMATCH: an output (code 0x%0h) with no input in flight", out_code);
      end else begin
        pred_t p;
        p = expected.pop_front();
        if ({{(32 - CW) {1'b0}}, out_code} != p.code || out_ovf != p.sat) begin
          mismatches++;
          if (mismatches <= 20)
            $display("MISMATCH case %0d: x=0x%08h tensor_scale=0x%08h group_scale=0x%0h mode=%0d R=%0d word=0x%08h poszero=%0d: golden code 0x%0h saturated %0d, RTL code 0x%0h ovf %0d",
                     checked, p.x, p.st, p.gs, p.mode, p.rbits, p.word, p.poszero, p.code, p.sat, out_code,
                     out_ovf);
        end
        checked++;
        n_sat += int'(p.sat);
        n_zero += int'(p.code[CW-2:0] == '0);
        seen[p.code[CW-1:0]] = 1'b1;
      end
    end
  end

  // ---- predictor + driver ----------------------------------------------------
  // Drives one element at the next negedge and queues the golden model's code.
  task automatic drive(input string fmt, input logic [31:0] x, input logic [31:0] st, input logic [GW-1:0] gs,
                       input int mode, input int rbits, input logic [31:0] word, input bit poszero,
                       output int status, output logic [31:0] code);
    pred_t p;
    bit sat;
    int unsigned c;
    status = mls_dpi_round_element(fmt, x, st, 32'(gs), mode, rbits, word, c, sat);
    code = c;
    if (mls_dpi_last_rule() == "tie_even" || mls_dpi_last_rule() == "tie_zero") n_ties++;
    if (status != MLS_DPI_OK) begin
      dpi_errors++;
      if (dpi_errors <= 10)
        $display("DPI ERROR x=0x%08h tensor_scale=0x%08h group_scale=0x%0h mode=%0d: %s", x, st, gs, mode,
                 mls_dpi_last_error());
      return;
    end
    p.x = x;
    p.st = st;
    p.word = word;
    p.gs = gs;
    p.mode = 3'(mode);
    p.rbits = 6'(rbits);
    p.poszero = poszero;
    p.code = c;
    p.sat = sat;
    @(negedge clk);
    in_valid = 1'b1;
    in_x = x;
    in_st = st[30:0];
    in_gs = gs;
    in_mode = 3'(mode);
    in_rbits = 6'(rbits);
    in_word = word;
    in_poszero = poszero;
    expected.push_back(p);
  endtask

  // xorshift64*: the same stimulus on every simulator for a given seed.
  longint unsigned rs = 64'h9e3779b97f4a7c15;
  function automatic logic [31:0] rnd();
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return 32'((rs * 64'h2545f4914f6cdd1d) >> 32);
  endfunction

  // A finite x whose quotient by S_t S_g lands in or near the element range.
  function automatic logic [31:0] pick_x(input logic [31:0] st, input logic [GW-1:0] gs);
    int k, e;
    logic [31:0] r;
    r = rnd();
    if (r[3:0] == 4'd0) return {r[31], 31'd0};  // +-0
    if (r[3:0] == 4'd1) begin  // any finite pattern
      r = rnd();
      return (r[30:23] == 8'hff) ? {r[31], 8'hfe, r[22:0]} : r;
    end
    // exponent of S_t S_g, then a binade from below the subnormals to just above q_max
    k = (1 - BIAS - M - 2) + int'(rnd() % 32'((1 << E) + M + 2));
    e = int'(st[30:23]) + (int'(gs) >> MG) - BIASG + k;
    r = rnd();
    if (e >= 255) e = 254;
    if (e <= 0) return {r[31], 8'd0, r[22:0]};  // subnormal
    return {r[31], 8'(e), r[22:0]};
  endfunction

  // An x whose quotient by S_t S_g is exactly an element value or exactly the
  // midpoint of two (the ties of rne/rna, the gaps of the directed modes): S_t
  // gets an 8-bit significand, so x = (2L + h) 2^(ue - 1) S_t S_g is an fp32.
  // Returns 0 when that product is not representable (the caller picks again).
  /* verilator lint_off WIDTH */  // integer arithmetic widened to 64 bits on purpose
  function automatic bit exact_x(output logic [31:0] x, output logic [31:0] st, input logic [GW-1:0] gs);
    int ef_e, ue, e, top;
    longint unsigned L, P, mst, msg;
    logic [31:0] r;
    r = rnd();
    st = {1'b0, 8'(110 + int'(r % 30)), 1'b0, r[30:25], 16'd0};  // significand 1.xxxxxx0 (8 bits)
    mst = 64'(128 + int'(st[22:16]));  // the significand's top 8 bits (the rest are 0)
    msg = 64'((1 << MG) + (int'(gs) & ((1 << MG) - 1)));
    r = rnd();
    ef_e = int'(r % 32'(1 << E));
    if (ef_e == 0) begin
      ue = 1 - BIAS - M;
      L = 64'(rnd() % 32'(1 << M));
    end else begin
      ue = ef_e - BIAS - M;
      L = 64'((1 << M) + int'(rnd() % 32'(1 << M)));
    end
    P = (2 * L + 64'(r[31])) * mst * msg;  // r[31]: a midpoint, else on the grid
    e = ue - 1 + (int'(st[30:23]) - 127 - 7) + (int'(gs) >> MG) - BIASG - MG;
    if (P == 0) begin
      x = {r[30], 31'd0};
      return 1;
    end
    top = 63;
    while (P[top] == 1'b0) top--;
    if (top > 23) return 0;
    P = P << (23 - top);
    e = e - (23 - top) + 150;  // biased exponent of the normalised significand
    if (e >= 255 || e <= 0) return 0;
    x = {r[30], 8'(e), P[22:0]};
    return 1;
  endfunction
  /* verilator lint_on WIDTH */

  task automatic run_random(input int n);
    int status;
    logic [31:0] code, st, x, word;
    logic [GW-1:0] gs;
    int mode, rbits;
    bit pz;
    logic [31:0] r1, r2;
    for (int i = 0; i < n; i++) begin
      r1 = rnd();
      r2 = rnd();
      // a scale code: any finite one, or (wide grids like E8M0) mostly near 1
      r1 = rnd();
      if (GW >= 6 && r1[1:0] != 2'd0) gs = GW'(BIASG << MG) + GW'(r1[10:2] % 32'(17 << MG)) - GW'(8 << MG);
      else gs = GW'(rnd() % 32'(GS_TOP + 1));
      if (int'(gs) > GS_TOP) gs = GW'(GS_TOP);
      r1 = rnd();
      if (r1[1:0] != 2'd0 || !exact_x(x, st, gs)) begin  // one case in four on the grid or a midpoint
        st = {1'b0, 8'(107 + int'(r1 % 41)), r2[22:0]};
        if (r1[31:27] == 5'd0) st = {1'b0, 8'd0, r2[22:0] | 23'd1};  // a subnormal tensor scale
        x = pick_x(st, gs);
      end
      mode = int'(rnd() % 7);
      rbits = 1 + int'(rnd() % 32);
      word = rnd();
      r1 = rnd();
      pz = r1[7:0] < 8'd32;
      drive(pz ? {FORMAT, ":poszero"} : FORMAT, x, st, gs, mode, rbits, word, pz, status, code);
    end
  endtask

  // Replays an `mls export` round file (spec/08-vectors.md 8.10): 184-bit lines,
  // mode [178:176], R [173:168], x [167:136], S_t [135:104], group scale [103:72],
  // word [71:40], status [39:32], code [31:0].
  task automatic run_hex(input string path);
    int fd, rc, status, declared = -1, width = -1, lines = 0;
    string line, fmt = "", op = "";
    logic [183:0] v;
    logic [31:0] code;
    bit pz;
    fd = $fopen(path, "r");
    if (fd == 0) begin
      $fatal(1, "scoreboard: cannot open %s", path);
      return;
    end
    while ($fgets(line, fd) > 0) begin
      if (line.len() >= 2 && line.substr(0, 1) == "//") begin
        if (line.len() > 11 && line.substr(0, 10) == "// format: ") fmt = line.substr(11, line.len() - 2);
        void'($sscanf(line, "// cases: %d", declared));
        void'($sscanf(line, "// width_bits: %d", width));
        void'($sscanf(line, "// op: %s", op));
        continue;
      end
      if (line.len() < 2) continue;
      if (op != "round" || width != 184 || fmt == "") begin
        $fatal(1, "scoreboard: %s is not a round hex file of 184-bit lines with a format header", path);
        return;
      end
      if ($sscanf(line, "%h", v) != 1) begin
        $fatal(1, "scoreboard: %s: unreadable data line %0d", path, lines);
        return;
      end
      pz = mls_contains(fmt, "\"signed_zero\":\"positive\"");
      drive(fmt, v[167:136], v[135:104], v[72+GW-1:72], int'(v[178:176]), int'(v[173:168]), v[71:40], pz, status,
            code);
      // the file's expected answer against the golden model's (the same model wrote it)
      if ((v[39:32] != 8'd0) != (status != MLS_DPI_OK) || (status == MLS_DPI_OK && code != v[31:0])) begin
        file_disagree++;
        if (file_disagree <= 10)
          $display("FILE DISAGREES line %0d: file status %0d code 0x%0h, golden status %0d code 0x%0h", lines,
                   v[39:32], v[31:0], status, code);
      end
      lines++;
    end
    $fclose(fd);
    if (declared != lines) begin
      $fatal(1, "scoreboard: %s has %0d cases, its header declares %0d", path, lines, declared);
      return;
    end
    $display("scoreboard: %s: %0d cases (format %s)", path, lines, fmt);
  endtask

  initial begin
    string hex;
    int n = 20000, seed = 1, wait_clocks;
    void'($value$plusargs("n=%d", n));
    if ($value$plusargs("seed=%d", seed)) rs ^= 64'(seed) * 64'h100000001b3;
    $display("scoreboard: %s, DUT e%0dm%0d bias %0d zero_only %0d specials %0d, scale e%0dm%0d bias %0d, golden model %s",
             mls_dpi_version(), E, M, BIAS, ZERO_ONLY, SPECIALS, EG, MG, BIASG, FORMAT);
    if ($value$plusargs("hex=%s", hex)) run_hex(hex);
    else run_random(n);
    @(negedge clk);
    in_valid = 1'b0;
    wait_clocks = 0;
    while (expected.size() != 0 && wait_clocks < 1000) begin
      @(negedge clk);
      wait_clocks++;
    end
    if (expected.size() != 0) begin
      mismatches++;
      $display("MISMATCH: %0d predictions never got an output", expected.size());
    end
    if (mismatches != 0 || dpi_errors != 0 || file_disagree != 0 || checked == 0) begin
      $display("scoreboard: FAIL: %0d checked, %0d mismatches, %0d DPI errors, %0d file disagreements", checked,
               mismatches, dpi_errors, file_disagree);
      $fatal(1, "scoreboard failed");
    end else begin
      int codes = 0;
      for (int c = 0; c < (1 << CW); c++) codes += int'(seen[c]);
      $display("scoreboard: PASS: %0d checked, 0 mismatches (%0d saturated, %0d zero, %0d rne ties, %0d of %0d codes seen)",
               checked, n_sat, n_zero, n_ties, codes, 1 << CW);
      $finish;
    end
  end
endmodule
