// Checks every function of mls_pkg (the golden model over DPI-C) from
// SystemVerilog against the worked examples of the spec (4.9, 6.15.3,
// 6.15.4), and its error reporting: a status and a message naming the field,
// never a crash. Ends with "dpi api: PASS (N checks)" or $fatal(1).
/* verilator lint_off WIDTH */  // expect_eq widens 32-bit values to 64 on purpose
module tb_dpi_api;
  import mls_pkg::*;

  int checks = 0, failures = 0;

  function automatic void expect_eq(input string what, input longint unsigned got, input longint unsigned want);
    checks++;
    if (got != want) begin
      failures++;
      $display("FAIL %s: got 0x%0h, expected 0x%0h", what, got, want);
    end
  endfunction

  // status `st` must be `want`, and the message must name `field`.
  function automatic void expect_error(input string what, input int st, input int want, input string field);
    string msg;
    msg = mls_dpi_last_error();
    checks++;
    if (st != want || !mls_contains(msg, field)) begin
      failures++;
      $display("FAIL %s: status %0d (expected %0d), message \"%s\" (expected to name %s)", what, st, want, msg,
               field);
    end
  endfunction

  initial begin
    // spec 4.9: mls-e2m1, rne, shape (1,2,2,2)
    int unsigned x[8] = '{32'd1060320051, 32'd3197737370, 32'd1028443341, 32'd2147483648, 32'd3223322624,
                          32'd1067450368, 32'd1063675494, 32'd1045220557};
    int unsigned want_el[8] = '{7, 12, 1, 8, 15, 5, 4, 1};
    int unsigned el[8], gs[2], gs_small[1], one[1];  // (Verilator 5.006 crashes on a dynamic array passed as an open array)
    longint shape[4] = '{1, 2, 2, 2};
    longint count;
    int unsigned ts, code, y;
    int st;
    bit sat;
    string acc;

    checks++;
    if (mls_dpi_version() == "") begin
      failures++;
      $display("FAIL version is empty");
    end
    $display("dpi api: %s", mls_dpi_version());

    st = mls_dpi_group_count("mls-e2m1", shape, count);
    expect_eq("group_count status", 32'(st), MLS_DPI_OK);
    expect_eq("group_count", count, 2);

    st = mls_dpi_quantize("mls-e2m1", shape, x, MLS_DPI_RNE, 8, one, 0, ts, gs, el);
    expect_eq("quantize status", 32'(st), MLS_DPI_OK);
    expect_eq("quantize tensor_scale", ts, 32'd1066285284);
    expect_eq("quantize group_scales[0]", gs[0], 28);
    expect_eq("quantize group_scales[1]", gs[1], 31);
    foreach (el[i]) expect_eq($sformatf("quantize elements[%0d]", i), el[i], want_el[i]);

    // the same tensor scale, group scales and codes one call at a time
    st = mls_dpi_tensor_scale("mls-e2m1", x[4], ts);
    expect_eq("tensor_scale", ts, 32'd1066285284);
    st = mls_dpi_group_scale("mls-e2m1", 32'd1066285284, x[0], code);
    expect_eq("group_scale[0]", code, 28);
    st = mls_dpi_group_scale("mls-e2m1", 32'd1066285284, x[4] & 32'h7fffffff, code);
    expect_eq("group_scale[1]", code, 31);
    foreach (x[i]) begin
      st = mls_dpi_round_element("mls-e2m1", x[i], 32'd1066285284, i < 4 ? 28 : 31, MLS_DPI_RNE, 8, 0, code, sat);
      expect_eq($sformatf("round_element[%0d]", i), code, want_el[i]);
      expect_eq($sformatf("round_element[%0d] saturated", i), 32'(sat), 0);
    end
    // sr with an explicit word: x[0] / (S_t S_g) = 0.7 / (1.1111112 * 0.5) = 1.26 lies between 1 (code 6)
    // and 3/2 (code 7), t = 0.52: word 0 keeps 1, an all-ones word goes to 3/2
    st = mls_dpi_round_element("mls-e2m1", x[0], 32'd1066285284, 28, MLS_DPI_SR, 8, 32'h00000000, code, sat);
    expect_eq("round_element sr word 0", code, 6);
    st = mls_dpi_round_element("mls-e2m1", x[0], 32'd1066285284, 28, MLS_DPI_SR, 8, 32'hffffffff, code, sat);
    expect_eq("round_element sr word all ones", code, 7);
    // a quotient above q_max saturates, and says so
    st = mls_dpi_round_element("mls-e2m1", 32'h42c80000, 32'h3f800000, 30, MLS_DPI_RNE, 8, 0, code, sat);
    expect_eq("round_element 100 saturates", code, 7);
    expect_eq("round_element 100 saturated flag", 32'(sat), 1);
    st = mls_dpi_round_element("e2m1.g4m1:ovf_error", 32'h42c80000, 32'h3f800000, 30, MLS_DPI_RNE, 8, 0, code, sat);
    expect_error("overflow = error", st, MLS_DPI_ERR_INPUT, "");

    // errors: a status and a message naming the field, never a crash
    st = mls_dpi_round_element("e9m1.g4m1", x[0], 32'h3f800000, 30, MLS_DPI_RNE, 8, 0, code, sat);
    expect_error("bad format", st, MLS_DPI_ERR_INPUT, "exp_bits");
    st = mls_dpi_round_element("", x[0], 32'h3f800000, 30, MLS_DPI_RNE, 8, 0, code, sat);
    expect_error("empty format", st, MLS_DPI_ERR_INPUT, "format");
    st = mls_dpi_round_element("mls-e2m1", x[0], 32'h3f800000, 30, 7, 8, 0, code, sat);
    expect_error("bad mode", st, MLS_DPI_ERR_INPUT, "mode");
    st = mls_dpi_round_element("mls-e2m1", x[0], 32'h3f800000, 30, MLS_DPI_SR, 33, 0, code, sat);
    expect_error("bad sr bits", st, MLS_DPI_ERR_INPUT, "bits");
    st = mls_dpi_round_element("mls-e2m1", 32'h7fc00000, 32'h3f800000, 30, MLS_DPI_RNE, 8, 0, code, sat);
    expect_error("NaN x", st, MLS_DPI_ERR_INPUT, "NaN");
    st = mls_dpi_round_element("mls-e2m1", x[0], 32'hbf800000, 30, MLS_DPI_RNE, 8, 0, code, sat);
    expect_error("negative tensor scale", st, MLS_DPI_ERR_INPUT, "tensor_scale");
    st = mls_dpi_round_element("mls-e2m1", x[0], 32'h3f800000, 32, MLS_DPI_RNE, 8, 0, code, sat);
    expect_error("group-scale code outside g4m1", st, MLS_DPI_ERR_INPUT, "group_scale");
    st = mls_dpi_tensor_scale("mls-e2m1", 32'h7f800000, ts);
    expect_error("Inf amax", st, MLS_DPI_ERR_INPUT, "amax");
    st = mls_dpi_tensor_scale("e2m1b20.g1m0", 32'h7f7fffff, ts);
    expect_error("tensor scale overflow (4.3)", st, MLS_DPI_ERR_INPUT, "tensor_scale");
    st = mls_dpi_quantize("mls-e2m1", shape, x, MLS_DPI_RNE, 8, one, 0, ts, gs_small, el);
    expect_error("group_scales too small", st, MLS_DPI_ERR_BUFFER, "group_scales");
    st = mls_dpi_quantize("mls-e2m1", shape, x, MLS_DPI_SR, 8, one, 0, ts, gs, el);
    expect_error("sr with one word for 8 elements", st, MLS_DPI_ERR_INPUT, "rand has 1 words");
    shape[3] = 3;
    st = mls_dpi_quantize("mls-e2m1", shape, x, MLS_DPI_RNE, 8, one, 0, ts, gs, el);
    expect_error("x shorter than the shape", st, MLS_DPI_ERR_INPUT, "x has 8");
    expect_eq("after an error: a success clears the message",
              32'(mls_dpi_round_element("mls-e2m1", x[1], 32'h3f800000, 30, MLS_DPI_RNE, 8, 0, code, sat)), 0);
    checks++;
    if (mls_dpi_last_error() != "") begin
      failures++;
      $display("FAIL last_error after a success: \"%s\"", mls_dpi_last_error());
    end

    // spec 6.15.3: 1x2 by 2x1, one group each, all scales 1, elements 3/2: exact 9/2
    begin : dot_6_15_3
      int unsigned a[2] = '{7, 7}, g1[1] = '{30};
      string head = "{\"profile\":\"accumulator\",\"frac_bits\":2,\"width\":5,\"alignment\":\"rtz\",\"overflow\":\"";
      string tail = "\",\"inter_group\":\"exact\",\"final_rounding\":\"rne\"}";
      st = mls_dpi_dot("e2m1.g4m1/1x0", "e2m1.g4m1/0x1", "exact", 32'h3f800000, a, g1, 32'h3f800000, a, g1, y);
      expect_eq("dot exact status", 32'(st), MLS_DPI_OK);
      expect_eq("dot exact y", y, 32'h40900000);
      checks++;
      if (mls_dpi_last_exact() != "9*2^-1") begin
        failures++;
        $display("FAIL dot exact value \"%s\", expected 9*2^-1", mls_dpi_last_exact());
      end
      st = mls_dpi_dot("e2m1.g4m1/1x0", "e2m1.g4m1/0x1", {head, "saturate", tail}, 32'h3f800000, a, g1, 32'h3f800000,
                       a, g1, y);
      expect_eq("dot saturate y = 3.75", y, 32'h40700000);
      st = mls_dpi_dot("e2m1.g4m1/1x0", "e2m1.g4m1/0x1", {head, "wrap", tail}, 32'h3f800000, a, g1, 32'h3f800000, a,
                       g1, y);
      expect_eq("dot wrap y = -3.5", y, 32'hc0600000);
      st = mls_dpi_dot("e2m1.g4m1/1x0", "e2m1.g4m1/0x1", {head, "error", tail}, 32'h3f800000, a, g1, 32'h3f800000,
                       a, g1, y);
      expect_error("dot overflow = error", st, MLS_DPI_ERR_INPUT, "");
      st = mls_dpi_dot("e2m1.g4m1/1x0", "e2m1.g4m1/0x1", "{\"profile\":\"accumulator\"}", 32'h3f800000, a, g1,
                       32'h3f800000, a, g1, y);
      expect_error("dot incomplete arith", st, MLS_DPI_ERR_INPUT, "arith.");
      st = mls_dpi_dot("e2m1.g4m1/1x0", "e2m1.g4m1/0x1", "exact", 32'h3f800000, a, g1, 32'h3f800000, g1, g1, y);
      expect_error("dot K mismatch", st, MLS_DPI_ERR_INPUT, "b_elements");
    end
    // spec 6.15.4: per-element groups, A's group scales 1, 2^-24, 2^-24: exact 1 + 2^-23,
    // inter_group = fp32 gives 1 (two ties to even)
    begin : dot_6_15_4
      int unsigned a[3] = '{6, 6, 6}, ga[3] = '{62, 14, 14}, gb[3] = '{62, 62, 62};
      st = mls_dpi_dot("e2m1.g5m1/1x1", "e2m1.g5m1/1x1", "exact", 32'h3f800000, a, ga, 32'h3f800000, a, gb, y);
      expect_eq("dot 6.15.4 exact", y, 32'h3f800001);
      acc = "{\"profile\":\"accumulator\",\"frac_bits\":4,\"width\":32,\"alignment\":\"rtz\",\"overflow\":\"saturate\",\"inter_group\":\"fp32\",\"final_rounding\":\"rne\"}";
      st = mls_dpi_dot("e2m1.g5m1/1x1", "e2m1.g5m1/1x1", acc, 32'h3f800000, a, ga, 32'h3f800000, a, gb, y);
      expect_eq("dot 6.15.4 fp32 inter-group", y, 32'h3f800000);
    end

    if (failures != 0) begin : report_fail
      $fatal(1, "dpi api: FAIL: %0d of %0d checks", failures, checks);
    end else begin : report_pass
      $display("dpi api: PASS (%0d checks)", checks);
      $finish;
    end
  end
endmodule
