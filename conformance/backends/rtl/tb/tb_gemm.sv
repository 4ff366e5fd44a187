// Icarus Verilog testbench: replays an `mls export` hex file of a `gemm` case
// group (spec/08-vectors.md 8.4.6, 8.10) through mls_dot. The driver script
// (scripts/icarus_replay.sh) reads the shapes, resolved group tiles and the
// arithmetic profile from the header and passes them as plusargs; the
// testbench reads the data lines with $fgets, walks every output's terms in
// the canonical order (6.6: k ascending; a segment ends where either
// operand's group changes) and compares every fp32 output. It checks the
// header's `cases` and `width_bits` against what it reads and computes.
// Exit status (vvp): 0 when every case matches, 1 otherwise ($fatal).
module tb_gemm;
  parameter int E = 2;
  parameter int M = 1;
  parameter int EG = 4;
  parameter int MG = 1;
  parameter int F = 6;
  parameter int W = 48;
  parameter int OVF = 2;
  localparam int MAXW = 65536;

  reg clk = 0;
  always #5 clk = ~clk;
  reg v = 0, se = 0, la = 0;
  reg [E+M:0] a = 0, b = 0;
  reg [EG+MG-1:0] ga = 0, gb = 0;
  reg [2:0] al = 0, fi = 0;
  reg [30:0] sta = 0, stb = 0;
  wire ov, oo;
  wire [127:0] acc;
  wire [31:0] y;
  mls_dot #(
      .E  (E),
      .M  (M),
      .EG (EG),
      .MG (MG),
      .F  (F),
      .W  (W),
      .OVF(OVF)
  ) dut (
      .clk(clk),
      .in_valid(v),
      .in_a(a),
      .in_b(b),
      .in_ga(ga),
      .in_gb(gb),
      .in_seg_end(se),
      .in_last(la),
      .in_align(al),
      .in_final(fi),
      .in_sta(sta),
      .in_stb(stb),
      .out_valid(ov),
      .out_acc(acc),
      .out_y(y),
      .out_ovf(oo)
  );

  integer MM, KK, NN, ta0, ta1, tb0, tb1, gca, gcb, width, declared = -1, hdr_width = -1;
  integer ncase = 0, nout = 0, nbad = 0, outputs = 0, ovf_seen = 0;
  reg [MAXW-1:0] vec;
  reg [8*MAXW/4+64:0] line;
  reg [8*256-1:0] path;
  reg [31:0] expected[0:4095];
  reg [7:0] status;

  function automatic [31:0] field(input integer i);  // the i-th 32-bit word from the MSB
    field = 32'(vec >> (width - 32 * (i + 1)));
  endfunction

  always @(posedge clk)
    if (ov) begin
      if (status == 8'd1) begin
        if (oo) ovf_seen = ovf_seen + 1;
      end else if (y !== expected[nout]) begin
        nbad = nbad + 1;
        if (nbad <= 10)
          $display("MISMATCH case %0d output %0d: expected %08h got %08h (exact sum %0d * 2^-FG)", ncase - 1, nout,
                   expected[nout], y, $signed(acc));
      end
      nout = nout + 1;
    end

  integer fd, rc, k, m, j, i, ia, ib, oa, ob, oy, gA, gB, gA1, gB1, wait_n;
  initial begin
    if (!$value$plusargs("file=%s", path) || !$value$plusargs("M=%d", MM) || !$value$plusargs("K=%d", KK) ||
        !$value$plusargs("N=%d", NN) || !$value$plusargs("ta0=%d", ta0) || !$value$plusargs("ta1=%d", ta1) ||
        !$value$plusargs("tb0=%d", tb0) || !$value$plusargs("tb1=%d", tb1))
      $fatal(1, "usage: vvp tb.vvp +file=F +M= +K= +N= +ta0= +ta1= +tb0= +tb1= [+align=] [+final=]");
    if (!$value$plusargs("align=%d", k)) k = 2;
    al = k[2:0];
    if (!$value$plusargs("final=%d", k)) k = 0;
    fi = k[2:0];
    gca = ((MM + ta0 - 1) / ta0) * ((KK + ta1 - 1) / ta1);
    gcb = ((KK + tb0 - 1) / tb0) * ((NN + tb1 - 1) / tb1);
    width = 32 * (2 + gca + MM * KK + gcb + KK * NN + MM * NN) + 8;
    if (width > MAXW || MM * NN > 4096) $fatal(1, "case too large for this testbench");
    oa = 1 + gca;  // word index of a_elements
    ob = 2 + gca + MM * KK + gcb;  // of b_elements
    fd = $fopen(path, "r");
    if (fd == 0) $fatal(1, "cannot open %0s", path);
    while (!$feof(
        fd
    )) begin
      line = 0;
      rc   = $fgets(line, fd);
      if (rc > 0) begin
        if (line[8*rc-1-:16] == "//") begin
          if ($sscanf(line, "// cases: %d", k) == 1) declared = k;
          else if ($sscanf(line, "// width_bits: %d", k) == 1) hdr_width = k;
        end else if (rc > 1) begin
          if (hdr_width != width) $fatal(1, "%0s: width_bits %0d, expected %0d from the shapes", path, hdr_width, width);
          vec = 0;
          if ($sscanf(line, "%h", vec) != 1) $fatal(1, "%0s: unreadable data line %0d", path, ncase);
          // wait for the previous case's outputs before reusing `expected`
          wait_n = 0;
          while (nout < outputs && wait_n < 10000) begin
            @(negedge clk);
            wait_n = wait_n + 1;
          end
          oy = width - 32 * MM * NN;  // y occupies the low 32 M N bits
          for (i = 0; i < MM * NN; i = i + 1) expected[i] = 32'(vec >> (32 * (MM * NN - 1 - i)));
          status = 8'(vec >> (32 * MM * NN));
          nout = 0;
          outputs = MM * NN;
          ncase = ncase + 1;
          @(negedge clk);
          sta = field(0) & 32'h7fffffff;
          stb = field(1 + gca + MM * KK) & 32'h7fffffff;
          for (m = 0; m < MM; m = m + 1)
            for (j = 0; j < NN; j = j + 1)
              for (k = 0; k < KK; k = k + 1) begin
                ia = m * KK + k;
                ib = k * NN + j;
                gA = (m / ta0) * ((KK + ta1 - 1) / ta1) + k / ta1;
                gB = (k / tb0) * ((NN + tb1 - 1) / tb1) + j / tb1;
                gA1 = (m / ta0) * ((KK + ta1 - 1) / ta1) + (k + 1) / ta1;
                gB1 = ((k + 1) / tb0) * ((NN + tb1 - 1) / tb1) + j / tb1;
                v = 1;
                a = field(oa + ia);
                b = field(ob + ib);
                ga = field(1 + gA);
                gb = field(2 + gca + MM * KK + gB);
                la = (k == KK - 1);
                se = la || gA1 != gA || gB1 != gB;
                @(negedge clk);
              end
          v = 0;
        end
      end
    end
    $fclose(fd);
    wait_n = 0;
    while (nout < outputs && wait_n < 10000) begin
      @(negedge clk);
      wait_n = wait_n + 1;
    end
    $display("%0s: %0d cases read (header declares %0d), %0d mismatches", path, ncase, declared, nbad);
    if (declared != ncase) $fatal(1, "case count %0d does not match the header's %0d", ncase, declared);
    if (nout != outputs) $fatal(1, "only %0d of %0d outputs of the last case came out", nout, outputs);
    if (nbad != 0) $fatal(1, "%0d mismatches", nbad);
    $finish;
  end
endmodule
