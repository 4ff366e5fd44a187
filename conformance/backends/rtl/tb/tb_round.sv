// Icarus Verilog testbench: replays an `mls export` hex file of a `round`
// case group (spec/08-vectors.md 8.4.1, 8.10) through mls_quantizer and
// compares every code. The header is read with $fgets: the op must be
// `round`, the layout 184 bits wide, and the number of data lines must equal
// the declared `cases`. Exit status (vvp): 0 when every case matches, 1
// otherwise ($fatal).
//   iverilog -g2012 -P tb_round.E=2 -P tb_round.M=1 ... -o tb.vvp tb_round.sv mls_quantizer.sv mls_div_stage.sv
//   vvp tb.vvp +file=round-0000-rne.hex [+poszero]
module tb_round;
  parameter int E = 2;
  parameter int M = 1;
  parameter int BIAS = (E == 0) ? 0 : (1 << E) - 1;
  parameter int ZERO_ONLY = 0;
  parameter int EG = 4;
  parameter int MG = 1;
  localparam int MAXC = 1 << 18;  // cases per file

  reg clk = 0;
  always #5 clk = ~clk;

  reg in_valid = 0, in_poszero = 0;
  reg [31:0] in_x = 0, in_word = 0;
  reg [30:0] in_st = 0;
  reg [EG+MG-1:0] in_gs = 0;
  reg [2:0] in_mode = 0;
  reg [5:0] in_rbits = 0;
  wire out_valid, out_ovf;
  wire [E+M:0] out_code;

  mls_quantizer #(
      .E(E),
      .M(M),
      .BIAS(BIAS),
      .ZERO_ONLY(ZERO_ONLY),
      .EG(EG),
      .MG(MG)
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

  reg [31:0] exp_code[0:MAXC-1];
  reg [7:0] exp_status[0:MAXC-1];
  reg [31:0] exp_x[0:MAXC-1];
  integer nin = 0, nout = 0, nbad = 0, declared = -1, width = -1, cycles = 0, first_out = -1;
  reg op_ok = 0;

  always @(posedge clk) begin
    cycles <= cycles + 1;
    if (out_valid) begin
      if (first_out < 0) first_out = cycles;
      if (exp_status[nout] == 8'd1 ? !out_ovf : ({{(31 - E - M) {1'b0}}, out_code} != exp_code[nout])) begin
        nbad = nbad + 1;
        if (nbad <= 10)
          $display("MISMATCH case %0d: x=%08h expected status %0d code %0h, got code %0h ovf %0d", nout, exp_x[nout],
                   exp_status[nout], exp_code[nout], out_code, out_ovf);
      end
      nout = nout + 1;
    end
  end

  integer fd, rc, k;
  reg [8*1024-1:0] line;
  reg [8*64-1:0] word;
  reg [183:0] vec;
  reg [8*256-1:0] path;
  initial begin
    if (!$value$plusargs("file=%s", path)) $fatal(1, "usage: vvp tb.vvp +file=FILE.hex [+poszero]");
    in_poszero = $test$plusargs("poszero");
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
          else if ($sscanf(line, "// width_bits: %d", k) == 1) width = k;
          else if ($sscanf(line, "// op: %s", word) == 1) op_ok = (word == "round");
        end else if (rc > 1) begin
          if (!op_ok || width != 184) $fatal(1, "%0s: not a round hex file of 184-bit lines (op/width header)", path);
          if ($sscanf(line, "%h", vec) != 1) $fatal(1, "%0s: unreadable data line %0d", path, nin);
          if (nin >= MAXC) $fatal(1, "%0s: more than %0d cases", path, MAXC);
          exp_x[nin] = vec[167:136];
          exp_status[nin] = vec[39:32];
          exp_code[nin] = vec[31:0];
          @(negedge clk);
          in_valid = 1;
          in_mode = vec[178:176];
          in_rbits = vec[173:168];
          in_x = vec[167:136];
          in_st = vec[134:104];
          in_gs = vec[72+EG+MG-1:72];
          in_word = vec[71:40];
          nin = nin + 1;
        end
      end
    end
    $fclose(fd);
    @(negedge clk);
    in_valid = 0;
    k = 0;
    while (nout < nin && k < 1000) begin
      @(negedge clk);
      k = k + 1;
    end
    $display("%0s: %0d cases read (header declares %0d), %0d checked, %0d mismatches, latency %0d clocks",
             path, nin, declared, nout, nbad, first_out);
    if (declared != nin) $fatal(1, "case count %0d does not match the header's %0d", nin, declared);
    if (nout != nin) $fatal(1, "only %0d of %0d results came out", nout, nin);
    if (nbad != 0) $fatal(1, "%0d mismatches", nbad);
    $finish;
  end
endmodule
