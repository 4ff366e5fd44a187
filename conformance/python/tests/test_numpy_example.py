#!/usr/bin/env python3
"""The numpy example backend against the worked examples of the spec (3.9, 4.9-4.11).

The expected numbers are the spec's hand-derived ones, so this test needs no
golden model; diff_against_serve.py covers the random space.
"""

from __future__ import annotations

import json
import os
import sys
import unittest
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, os.pardir)))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, os.pardir, "examples")))
import mls_backend as mb  # noqa: E402
import numpy_backend as nb  # noqa: E402

X49 = [0x3F333333, 0xBE99999A, 0x3D4CCCCD, 0x80000000, 0xC0200000, 0x3FA00000, 0x3F666666, 0x3E4CCCCD]
WORDS_SEED42 = [0x9CEAF053, 0x77F5493B, 0x12BF50AD, 0x5742B3D7, 0xFCDB2127, 0x53BA6CFD, 0x838F5A6E, 0x744E06FB]


def rnd(grid, v: Fraction, mode, bits=8, word=0, overflow="saturate", signed_zero="preserve"):
    return nb.round_to_grid(grid, v < 0, abs(v.numerator), v.denominator, mode, bits, word, overflow, signed_zero)


class Rounding(unittest.TestCase):
    """Spec 3.9 tables, scale 1."""

    def test_ties_e2m1(self):
        g = mb.parse_format("mls-e2m1").element
        table = {  # v: rne rna rtz rup rdn rto
            Fraction(5, 16): (2, 3, 2, 3, 2, 3), Fraction(-5, 16): (10, 11, 10, 10, 11, 11),
            Fraction(7, 16): (4, 4, 3, 4, 3, 3), Fraction(5, 4): (6, 7, 6, 7, 6, 7),
            Fraction(3, 16): (2, 2, 1, 2, 1, 1), Fraction(1, 16): (0, 1, 0, 1, 0, 1),
            Fraction(-1, 16): (8, 9, 8, 8, 9, 9),
        }
        for v, want in table.items():
            got = tuple(rnd(g, v, m) for m in ("rne", "rna", "rtz", "rup", "rdn", "rto"))
            self.assertEqual(got, want, str(v))

    def test_m0_and_zero_only(self):
        e3m0 = mb.parse_format("e3m0.g4m1").element
        self.assertEqual([rnd(e3m0, Fraction(3, 16), m) for m in ("rne", "rna", "rto")], [4, 5, 5])
        self.assertEqual(rnd(e3m0, Fraction(3, 8), "rne"), 6)
        self.assertEqual(rnd(e3m0, Fraction(3, 256), "rne"), 1)
        z = mb.parse_format("e2m1z.g4m1").element
        modes = ("rne", "rna", "rtz", "rup", "rdn", "rto")
        self.assertEqual([rnd(z, Fraction(1, 8), m) for m in modes], [0, 2, 0, 2, 0, 2])
        self.assertEqual([rnd(z, Fraction(-1, 8), m) for m in modes], [8, 10, 8, 8, 10, 10])
        self.assertEqual(rnd(z, Fraction(1, 10), "rne"), 0)
        self.assertEqual(rnd(z, Fraction(3, 16), "rne"), 2)
        self.assertEqual(rnd(z, Fraction(5, 16), "rne"), 2)
        self.assertEqual(rnd(z, Fraction(3, 32), "sr", 4, 0x9FFFFFFF), 0)
        self.assertEqual(rnd(z, Fraction(3, 32), "sr", 4, 0xA0000000), 2)
        e0m3 = mb.parse_format("mls-fixed4").element
        self.assertEqual([rnd(e0m3, Fraction(3, 8), m) for m in modes], [2, 2, 1, 2, 1, 1])

    def test_stochastic(self):
        g = mb.parse_format("mls-e2m1").element
        for word, want in ((0, 2), (0x98FFFFFF, 2), (0x99000000, 2), (0x9A000000, 3), (0xFFFFFFFF, 3)):
            self.assertEqual(rnd(g, Fraction(3, 10), "sr", 8, word), want, hex(word))
            self.assertEqual(rnd(g, Fraction(-3, 10), "sr", 8, word), want | 8, hex(word))
        x = mb.fp32_to_fraction(0x3E99999A)
        self.assertEqual(rnd(g, x, "sr", 8, 0x99800000), 2)
        self.assertEqual(rnd(g, x, "sr", 32, 0x99999800), 3)
        self.assertEqual(rnd(g, x, "sr", 32, 0x999997FF), 2)
        self.assertEqual(rnd(g, x, "sr", 1, 0x80000000), 2)
        self.assertEqual(rnd(g, x, "sr", 2, 0xC0000000), 3)
        self.assertEqual(rnd(g, x, "sr", 2, 0x80000000), 2)
        self.assertEqual(rnd(g, Fraction(5, 16), "sr", 1, 0x80000000), 3)
        self.assertEqual(rnd(g, Fraction(5, 16), "sr", 1, 0x7FFFFFFF), 2)
        self.assertEqual(rnd(g, Fraction(3, 8), "sr", 8, 0x12345678), 3)

    def test_saturation_group_grid_signed_zero(self):
        g = mb.parse_format("mls-e2m1").element
        self.assertEqual(rnd(g, Fraction(2), "rne"), 7)
        self.assertEqual(rnd(g, Fraction(-2), "rtz"), 15)
        self.assertEqual(rnd(g, Fraction(3, 2), "rup"), 7)
        with self.assertRaises(mb.ProtocolError):
            rnd(g, Fraction(2), "rne", overflow="error")
        gs = mb.parse_format("mls-e2m1").group_scale
        table = {Fraction(0): (0, 0, 0), Fraction(1, 2 ** 20): (0, 0, 0), Fraction(5, 16): (27, 26, 26),
                 Fraction(7, 16): (28, 28, 27), Fraction(2): (31, 31, 31)}
        for v, want in table.items():
            self.assertEqual(tuple(rnd(gs, v, m) for m in ("rup", "rne", "rdn")), want, str(v))
        self.assertEqual(rnd(g, Fraction(-1, 32), "rne"), 8)
        self.assertEqual(rnd(g, Fraction(-1, 32), "rne", signed_zero="positive"), 0)
        self.assertEqual(rnd(g, Fraction(-1, 32), "rup"), 8)
        self.assertEqual(rnd(g, Fraction(1, 32), "rdn"), 0)

    def test_binary32(self):
        def fp(v, mode):
            return nb.round_fp32(v < 0, abs(v.numerator), v.denominator, mode)
        third = Fraction(1, 3)
        self.assertEqual([fp(third, m) for m in ("rne", "rtz", "rup", "rdn")],
                         [0x3EAAAAAB, 0x3EAAAAAA, 0x3EAAAAAB, 0x3EAAAAAA])
        self.assertEqual([fp(-third, m) for m in ("rne", "rtz", "rup", "rdn")],
                         [0xBEAAAAAB, 0xBEAAAAAA, 0xBEAAAAAA, 0xBEAAAAAB])
        big = Fraction(2) ** 128
        self.assertEqual([fp(big, m) for m in ("rne", "rtz", "rup", "rdn")],
                         [0x7F800000, 0x7F7FFFFF, 0x7F800000, 0x7F7FFFFF])
        tie = big - Fraction(2) ** 103
        self.assertEqual([fp(tie, m) for m in ("rne", "rtz", "rup", "rdn")],
                         [0x7F800000, 0x7F7FFFFF, 0x7F800000, 0x7F7FFFFF])
        self.assertEqual(fp(Fraction(1, 2 ** 150), "rne"), 0)
        self.assertEqual(fp(Fraction(3, 2 ** 151), "rne"), 1)
        self.assertEqual(fp(Fraction(1, 2 ** 200), "rup"), 1)
        self.assertEqual(fp(Fraction(10, 9), "rup"), 0x3F8E38E4)


def quantize(fmt, x, rounding="rne", rand=None, shape=None, tensor_scale=None):
    req = {"format": fmt, "rounding": rounding, "shape": shape or [1, 2, 2, 2], "x": x}
    if rand is not None:
        req["rand"] = rand
    if tensor_scale is not None:
        req["tensor_scale"] = tensor_scale
    return nb.quantize(req)


class Quantize(unittest.TestCase):
    """Spec 4.9-4.11."""

    def test_4_9_and_4_7(self):
        q = quantize("mls-e2m1", X49)
        self.assertEqual(q, {"tensor_scale": 0x3F8E38E4, "group_scales": [28, 31],
                             "elements": [7, 12, 1, 8, 15, 5, 4, 1]})
        d = nb.dequantize({"tensor": {"format": mb.parse_format("mls-e2m1").to_json(), "shape": [1, 2, 2, 2], **q}})
        self.assertEqual(d["shape"], [1, 2, 2, 2])
        self.assertEqual([int(v) for v in d["y"]], [0x3F555556, 0xBE8E38E4, 0x3D8E38E4, 0x80000000, 0xC0200000,
                                                    0x3FA00000, 0x3F555556, 0x3E555556])

    def test_4_10_sr8(self):
        q = quantize("mls-e2m1", X49, {"mode": "sr", "bits": 8}, WORDS_SEED42)
        self.assertEqual(q["elements"], [7, 12, 0, 8, 15, 5, 4, 1])

    def test_4_11_policies_static_zero(self):
        self.assertEqual(quantize("e2m1.g4m1:nearest", X49)["group_scales"], [27, 31])
        self.assertEqual(quantize("e2m1.g4m1:nearest", X49)["elements"], [7, 13, 1, 8, 15, 5, 4, 1])
        q = quantize("e2m1.g4m1:floor", X49)
        self.assertEqual((q["group_scales"], q["elements"]), ([27, 30], [7, 13, 1, 8, 15, 6, 5, 1]))
        q = quantize("mls-e2m1", X49, tensor_scale=0x3F800000)
        self.assertEqual((q["group_scales"], q["elements"]), ([28, 31], [7, 12, 1, 8, 15, 5, 4, 1]))
        d = nb.dequantize({"tensor": {"format": mb.parse_format("mls-e2m1").to_json(), "shape": [1, 2, 2, 2], **q}})
        self.assertEqual([int(v) for v in d["y"]], [0x3F400000, 0xBE800000, 0x3D800000, 0x80000000, 0xC0100000,
                                                    0x3F900000, 0x3F400000, 0x3E400000])
        with self.assertRaisesRegex(mb.ProtocolError, r"x\[4\]"):
            quantize("e2m1.g4m1:ovf_error", X49, tensor_scale=0x3F800000)
        zeros = [0, 0x80000000, 0, 0x80000000]
        self.assertEqual(quantize("mls-e2m1", zeros, shape=[4]),
                         {"tensor_scale": 0x3F800000, "group_scales": [0], "elements": [0, 8, 0, 8]})
        self.assertEqual(quantize("e2m1.g4m1:poszero", zeros, shape=[4])["elements"], [0, 0, 0, 0])
        q = quantize("mls-e2m1", [0x40400000, 0x0DA24260], shape=[2, 1])
        self.assertEqual(q, {"tensor_scale": 0x3FAAAAAB, "group_scales": [31, 0], "elements": [7, 0]})

    def test_4_11_errors(self):
        with self.assertRaisesRegex(mb.ProtocolError, "overflows fp32"):
            quantize("e2m1b200.g4m1", [0x3F800000, 0x3F000000], shape=[2])
        with self.assertRaisesRegex(mb.ProtocolError, r"x\[1\] is NaN"):
            quantize("mls-e2m1", [0x3F800000, 0x7FC00000], shape=[2])
        with self.assertRaisesRegex(mb.ProtocolError, r"x\[2\] is Inf"):
            quantize("mls-e2m1", [0x3F800000, 0x40000000, 0xFF800000, 0x7FC00000], shape=[4])
        with self.assertRaisesRegex(mb.ProtocolError, "rand"):
            quantize("mls-e2m1", X49, {"mode": "sr"}, WORDS_SEED42[:7])
        with self.assertRaisesRegex(mb.ProtocolError, "tensor_scale"):
            quantize("mls-e2m1", X49, tensor_scale=0xBF800000)

    def test_through_the_protocol(self):
        b = nb.make_backend()
        req = {"id": 3, "op": "quantize", "format": "mls-e2m1", "rounding": {"mode": "rne"},
               "shape": [1, 2, 2, 2], "x": X49}
        self.assertEqual(json.loads(b.handle_line(json.dumps(req))),
                         {"id": 3, "tensor_scale": 0x3F8E38E4, "group_scales": [28, 31],
                          "elements": [7, 12, 1, 8, 15, 5, 4, 1]})
        hello = json.loads(b.handle_line('{"op":"hello"}'))
        self.assertEqual(hello["supports"]["ops"], ["quantize", "dequantize"])
        r = json.loads(b.handle_line('{"id":4,"op":"gemm"}'))
        self.assertIn("unsupported", r)


if __name__ == "__main__":
    unittest.main()
