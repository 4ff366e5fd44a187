// One stage of the quantizer's pipelined restoring divider (README.md,
// "Element quantizer"): produces one exact quotient bit per clock.
//   rem' = 2 rem - dm  if 2 rem >= dm (bit 1), else 2 rem (bit 0)
// The invariant rem < dm holds on entry and exit, so 2 rem fits in K + 1 bits.
// `side` is the element's sideband (sign, exponent, mode, word...) carried
// alongside so that a new element can enter every clock.
module mls_div_stage #(
    parameter int K  = 27,  // divisor width
    parameter int QB = 34,  // quotient width
    parameter int SW = 8    // sideband width
) (
    input  logic          clk,
    input  logic          in_valid,
    input  logic [SW-1:0] in_side,
    input  logic [ K-1:0] in_dm,
    input  logic [ K-1:0] in_rem,
    input  logic [QB-2:0] in_q,   // the top bit would be shifted out
    output logic          out_valid,
    output logic [SW-1:0] out_side,
    output logic [ K-1:0] out_dm,
    output logic [ K-1:0] out_rem,
    output logic [QB-1:0] out_q
);
  logic [K:0] rem2;
  logic [K-1:0] diff;  // 2 rem - dm < dm when bit_q: modulo 2^K is enough
  logic       bit_q;
  assign rem2  = {in_rem, 1'b0};
  assign diff  = rem2[K-1:0] - in_dm;
  assign bit_q = rem2 >= {1'b0, in_dm};

  always_ff @(posedge clk) begin
    out_valid <= in_valid;
    out_side  <= in_side;
    out_dm    <= in_dm;
    out_rem   <= bit_q ? diff : rem2[K-1:0];
    out_q     <= {in_q, bit_q};
  end
endmodule
