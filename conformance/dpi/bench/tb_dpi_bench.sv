// DPI-C calls per second (a benchmark, not a test): element rounding and a
// 1024-element tensor quantization through mls_pkg, next to the same golden
// model functions called directly from C++ (bench_direct.cpp) on the same
// inputs in the same run; both must give the same bits. Prints the rates and
// the ratio direct / DPI. Plusargs: +n=<element calls> +reps=<quantize calls>.
module tb_dpi_bench;
  import mls_pkg::*;

  import "DPI-C" function longint mls_bench_now_ns();
  // The direct C++ loops over the same inputs: return the elapsed ns, fill the outputs.
  import "DPI-C" function longint mls_bench_direct_round(
      input string format, input int unsigned x[], input int unsigned st[], input int unsigned gs[],
      input int mode, input int unsigned word[], inout int unsigned codes[]);
  import "DPI-C" function longint mls_bench_direct_quantize(
      input string format, input int reps, input int unsigned x[], input int mode, input int unsigned word[],
      inout int unsigned elements[]);

  localparam int K = 4096;  // distinct element inputs, cycled

  longint unsigned rs = 64'h9e3779b97f4a7c15;
  function automatic int unsigned rnd();
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return 32'((rs * 64'h2545f4914f6cdd1d) >> 32);
  endfunction

  task automatic bench_round(input string fmt, input int mode, input int n);
    int unsigned x[K], st[K], gs[K], w[K], dpi[K], direct[K], code;
    longint t0, t_dpi, t_direct;
    bit sat;
    int bad = 0, status;
    for (int i = 0; i < K; i++) begin
      st[i] = {1'b0, 8'(120 + rnd() % 10), 23'(rnd())};
      gs[i] = 24 + rnd() % 8;
      x[i] = {1'(rnd()), 8'(118 + rnd() % 14), 23'(rnd())};
      w[i] = rnd();
    end
    t_direct = 0;
    for (int r = 0; r < n / K; r++) t_direct += mls_bench_direct_round(fmt, x, st, gs, mode, w, direct);
    t0 = mls_bench_now_ns();
    for (int r = 0; r < n / K; r++)
      for (int i = 0; i < K; i++) begin
        status = mls_dpi_round_element(fmt, x[i], st[i], gs[i], mode, 8, w[i], code, sat);
        dpi[i] = code;
      end
    t_dpi = mls_bench_now_ns() - t0;
    for (int i = 0; i < K; i++) if (dpi[i] != direct[i] || status != MLS_DPI_OK) bad++;
    $display("round_element %-10s %s: direct C++ %.3g calls/s, DPI-C %.3g calls/s, DPI cost %.2fx, %0d differing", fmt,
             mode == MLS_DPI_SR ? "sr8" : "rne", real'(n / K * K) * 1e9 / real'(t_direct),
             real'(n / K * K) * 1e9 / real'(t_dpi), real'(t_dpi) / real'(t_direct), bad);
    if (bad != 0) $fatal(1, "the DPI and direct results differ");
  endtask

  task automatic bench_quantize(input string fmt, input int mode, input int reps);
    int unsigned x[1024], dpi_el[1024], direct_el[1024], gs[64], w[1024], ts;
    longint shape[2] = '{64, 16};
    longint t0, t_dpi, t_direct;
    int bad = 0, status;
    for (int i = 0; i < 1024; i++) begin
      x[i] = {1'(rnd()), 8'(118 + rnd() % 14), 23'(rnd())};
      w[i] = rnd();
    end
    t_direct = mls_bench_direct_quantize(fmt, reps, x, mode, w, direct_el);
    t0 = mls_bench_now_ns();
    for (int r = 0; r < reps; r++) status = mls_dpi_quantize(fmt, shape, x, mode, 8, w, 0, ts, gs, dpi_el);
    t_dpi = mls_bench_now_ns() - t0;
    for (int i = 0; i < 1024; i++) if (dpi_el[i] != direct_el[i] || status != MLS_DPI_OK) bad++;
    $display("quantize 1024  %-10s %s: direct C++ %.3g calls/s, DPI-C %.3g calls/s, DPI cost %.2fx, %0d differing",
             fmt, mode == MLS_DPI_SR ? "sr8" : "rne", real'(reps) * 1e9 / real'(t_direct),
             real'(reps) * 1e9 / real'(t_dpi), real'(t_dpi) / real'(t_direct), bad);
    if (bad != 0) $fatal(1, "the DPI and direct results differ");
  endtask

  initial begin
    int n = 200000, reps = 200;
    void'($value$plusargs("n=%d", n));
    void'($value$plusargs("reps=%d", reps));
    $display("%s; the golden model direct and through DPI-C, same inputs, same run", mls_dpi_version());
    bench_round("mls-e2m1", MLS_DPI_RNE, n);
    bench_round("mls-e2m1", MLS_DPI_SR, n);
    bench_round("mls-e2m4", MLS_DPI_RNE, n);
    bench_quantize("e2m1.g4m1/1x16", MLS_DPI_RNE, reps);
    bench_quantize("e2m4.g4m1/1x16", MLS_DPI_SR, reps);
    $finish;
  end
endmodule
