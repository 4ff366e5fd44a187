#!/usr/bin/env python3
"""Unit tests of mls_backend's protocol-v1 loop (spec/09-protocol.md) and its decoding helpers.

In process through Backend.handle_line, and end to end through a child
process (one reply per request, flushed before the next request is sent,
clean exit at EOF, stray prints kept off stdout). Standard library only.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
import unittest
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.normpath(os.path.join(HERE, os.pardir))
sys.path.insert(0, PKG)
import mls_backend as mb  # noqa: E402


def make_backend():
    b = mb.Backend("unit-test backend", modes=["rne"], version="0.0")

    @b.op("quantize")
    def quantize(req):
        return {"echo": req.get("payload"), "id": "handlers cannot overwrite the id"}

    @b.op("dequantize")
    def dequantize(req):
        raise ValueError("deliberate failure for index 3")

    @b.op("gemm")
    def gemm(req):
        raise mb.Unsupported("gemm with arith fp32 is declined by this test handler")

    @b.op("conv2d")
    def conv2d(req):
        return {"y": float("nan")}  # cannot be sent as JSON

    return b


class HandleLine(unittest.TestCase):
    def setUp(self):
        self.b = make_backend()

    def reply(self, line):
        out = self.b.handle_line(line)
        self.assertIsNotNone(out, line)
        self.assertNotIn("\n", out)
        return json.loads(out)

    def test_hello(self):
        r = self.reply('{"op":"hello","id":0}')
        self.assertEqual(r["protocol"], 1)
        self.assertEqual(r["name"], "unit-test backend")
        self.assertEqual(r["id"], 0)
        self.assertEqual(r["supports"]["ops"], ["quantize", "dequantize", "gemm", "conv2d"])
        self.assertEqual(r["supports"]["modes"], ["rne"])
        self.assertEqual(r["supports"]["formats"], "any")
        self.assertNotIn("id", self.reply('{"op":"hello"}'))

    def test_id_echo(self):
        for rid in (7, 0, "abc", 18446744073709551615, [1, 2], None):
            r = self.reply(json.dumps({"id": rid, "op": "quantize", "payload": [1, 2]}))
            self.assertEqual(r, {"id": rid, "echo": [1, 2]}, rid)
        self.assertEqual(self.reply('{"op":"quantize","payload":3}'), {"echo": 3})

    def test_exception_becomes_error(self):
        r = self.reply('{"id":5,"op":"dequantize"}')
        self.assertEqual(r["id"], 5)
        self.assertIn("deliberate failure for index 3", r["error"])
        self.assertEqual(set(r), {"id", "error"})

    def test_unsupported(self):
        r = self.reply('{"id":6,"op":"gemm"}')
        self.assertEqual(r, {"id": 6, "unsupported": "gemm with arith fp32 is declined by this test handler"})
        r = self.reply('{"id":7,"op":"frobnicate"}')
        self.assertEqual(r["id"], 7)
        self.assertIn("frobnicate", r["unsupported"])
        self.assertNotIn("error", r)

    def test_undeclared_mode_is_unsupported(self):
        for rounding in ({"mode": "sr", "bits": 8}, "sr8", {"mode": "rtz"}):
            r = self.reply(json.dumps({"id": 12, "op": "quantize", "rounding": rounding, "payload": 1}))
            self.assertEqual(r["id"], 12)
            self.assertIn("unsupported", r, rounding)
        r = self.reply('{"id":13,"op":"quantize","rounding":{"mode":"rne"},"payload":1}')
        self.assertEqual(r, {"id": 13, "echo": 1})

    def test_malformed(self):
        for line in ('{"id":1,"op":', "not json", "[1,2]", "42", '"op"', '{"id":1,"x":NaN}', b"\xff\xfe{}"):
            r = self.reply(line)
            self.assertIsNone(r["id"], line)
            self.assertIsInstance(r["error"], str)
        r = self.reply('{"id":9}')
        self.assertEqual(r["id"], 9)
        self.assertIn("op", r["error"])
        r = self.reply('{"id":10,"op":3}')
        self.assertEqual(r["id"], 10)
        self.assertIn("op", r["error"])

    def test_unencodable_reply_is_an_error(self):
        r = self.reply('{"id":11,"op":"conv2d"}')
        self.assertEqual(r["id"], 11)
        self.assertIn("JSON", r["error"])

    def test_blank_lines_are_skipped(self):
        self.assertIsNone(self.b.handle_line(""))
        self.assertIsNone(self.b.handle_line("  \r\n"))

    def test_hello_cannot_be_registered(self):
        with self.assertRaises(ValueError):
            self.b.op("hello")


class Helpers(unittest.TestCase):
    def test_profiles_and_short_names(self):
        f = mb.parse_format("mls-e2m1")
        self.assertEqual((f.element.exp_bits, f.element.man_bits, f.element.bias), (2, 1, 3))
        self.assertEqual((f.group_scale.exp_bits, f.group_scale.man_bits), (4, 1))
        self.assertEqual(mb.parse_format("mls-e2m1-g3m0").group_scale.name(), "g3m0")
        self.assertEqual(mb.parse_format("mls-fixed4").element.name(), "e0m3")
        f = mb.parse_format("e4m3.g8m0/1x32:nearest:ovf_error")
        self.assertEqual(f.group_shape, (1, 32))
        self.assertEqual((f.scale_policy, f.overflow, f.signed_zero), ("nearest", "error", "preserve"))
        self.assertEqual(f.short_name(), "e4m3.g8m0/1x32:nearest:ovf_error")
        f = mb.parse_format("e3m2b5z.g5m2")
        self.assertEqual((f.element.bias, f.element.zero), (5, "zero_only"))
        self.assertEqual(mb.parse_format("e2m1b3.g4m1:ceil").short_name(), "e2m1.g4m1")
        self.assertEqual(mb.parse_format("e2m1b-2.g4m1").element.bias, -2)
        self.assertEqual(mb.parse_format("e2m1.g4m1:floor:poszero").short_name(), "e2m1.g4m1:floor:poszero")
        self.assertEqual(mb.parse_format('{"element":{"exp_bits":2,"man_bits":1}}').short_name(), "e2m1.g4m1")
        self.assertEqual(mb.parse_format("mls-e2m1:floor").short_name(), "e2m1.g4m1:floor")  # profile + option (2.9)
        for bad in ("e2m1g4m1", "mls-e2m1:fast", "e9m1.g4m1", "e2m24.g4m1", "e0m0.g4m1", "e0m3z.g4m1",
                    "e2m1.g0m1", "e2m1.g4m1:fast", "e2m1b100001.g4m1", "e12345678m1.g4m1", ""):
            with self.assertRaises(mb.ProtocolError, msg=bad):
                mb.parse_format(bad)

    def test_json_format_validation(self):
        ok = {"element": {"exp_bits": 2, "man_bits": 1}}
        self.assertEqual(mb.parse_format(ok).to_json()["element"], {"exp_bits": 2, "man_bits": 1, "bias": 3,
                                                                     "zero": "subnormal"})
        bads = [
            {"element": {"exp_bits": 2, "man_bits": 1}, "blocksize": 3},
            {"element": {"exp_bits": 2.0, "man_bits": 1}},
            {"element": {"exp_bits": True, "man_bits": 1}},
            {"element": {"exp_bits": 2}},
            {"element": {"exp_bits": 2, "man_bits": 1, "zero": "none"}},
            {"element": {"exp_bits": 2, "man_bits": 1}, "group_scale": {"exp_bits": 4, "man_bits": 1, "bias": 7.5}},
            {"element": {"exp_bits": 2, "man_bits": 1}, "group_shape": [1, -1]},
            {"element": {"exp_bits": 2, "man_bits": 1}, "scale_policy": "round"},
            {"element": {"exp_bits": 2, "man_bits": 1, "signed": False}},
        ]
        for bad in bads:
            with self.assertRaises(mb.ProtocolError, msg=json.dumps(bad)):
                mb.parse_format(bad)
        # A spec-1.1 group scale (another bias) is valid; it is not an MLS (spec 1.0) format.
        f = mb.parse_format({"element": {"exp_bits": 2, "man_bits": 1}, "group_scale": {"exp_bits": 4, "man_bits": 1, "bias": 7}})
        self.assertEqual(f.group_scale.bias, 7)
        self.assertFalse(f.spec10())
        self.assertTrue(mb.parse_format("mls-e2m4").spec10())

    def test_family_formats(self):
        f = mb.parse_format("mxfp8-e4m3")
        self.assertEqual(f.element, mb.NAMED_GRIDS["fp8_e4m3"])
        self.assertEqual((f.block_size, f.block_axis, f.tensor_scale, f.scale_policy, f.nonfinite),
                         (32, -1, "one", "ocp", "propagate"))
        self.assertEqual(f.short_name(), "e4m3b7n.g8m0b127n/blk32:ocp:tscale_one:nonfinite_propagate")
        self.assertEqual(mb.parse_format(f.short_name()), f)
        self.assertEqual(mb.parse_format(f.to_json()), f)
        self.assertEqual(f.element.max_value, (14, 5))     # 448 = 14 * 2^5
        self.assertEqual(f.element.emax(), 8)
        self.assertEqual(f.element.nan_code(True), 0xFF)
        self.assertEqual(f.layout((2, 70)).tiles, (2, 3))  # blocks of 32 along the last axis, a partial last one
        g = mb.parse_format("nvfp4:tscale_one")
        self.assertEqual((g.group_scale.name(), g.block_size, g.tensor_scale), ("e4m3b7n", 16, "one"))
        self.assertEqual(mb.parse_format("fp4_e2m1.e8m0/blk8@0:ocp_even").block_axis, 0)
        i8 = mb.NAMED_GRIDS["int8"]
        self.assertEqual((i8.name(), i8.split(0x80), i8.encode(True, 1), i8.max_value), ("i8", (True, 128), 0xFF, (127, -6)))
        e5 = mb.parse_grid("fp8_e5m2")
        self.assertEqual((e5.name(), e5.max_value, e5.nan_code(), e5.inf_code(True)), ("e5m2b15i", (7, 13), 0x7E, 0xFC))
        self.assertFalse(e5.is_valid_code(0x7C))
        self.assertEqual(mb.parse_grid("g8m0b127n", mb.GROUP_SCALE), mb.NAMED_GRIDS["e8m0"])
        for bad, role in (("e8m0", mb.ELEMENT), ("i8", mb.GROUP_SCALE), ("e1m0i", mb.ELEMENT), ("e0m3n", mb.ELEMENT)):
            with self.assertRaises(mb.ProtocolError, msg=bad):
                mb.parse_grid(bad, role)
        for bad in ("mxfp4:ovf_infinity", "mxfp4:tscale_amax", "e2m1.g4m1/blk0", "e2m1.g4m1/blk4/1x2"):
            with self.assertRaises(mb.ProtocolError, msg=bad):
                mb.parse_format(bad)

    def test_round_request(self):
        r = mb.parse_round({"op": "round", "element": "fp8_e4m3", "rounding": {"mode": "sr", "bits": 4},
                            "overflow": "nan", "scale": {"m": "3", "e": -1}, "x": [0x3F800000], "rand": [7]})
        self.assertEqual((r.element.name(), r.rounding, r.overflow, r.signed_zero, r.scale, r.rand),
                         ("e4m3b7n", mb.Rounding("sr", 4), "nan", "preserve", Fraction(3, 2), [7]))
        self.assertIsNone(r.scale_pow2())
        r = mb.parse_round({"op": "round", "format": "mxfp4:poszero", "x": [1], "scale": {"m": "1", "e": 5}})
        self.assertEqual((r.element.name(), r.signed_zero, r.scale_pow2()), ("e2m1b1", "positive", 5))
        # A cast takes any grid valid as an element or a group-scale format (3.10): E8M0 too.
        r = mb.parse_round({"op": "round", "element": "e8m0", "x": [0x40400000]})
        self.assertEqual((r.element, r.overflow), (mb.NAMED_GRIDS["e8m0"], "saturate"))
        self.assertEqual(mb.parse_grid("g4m3s", mb.CAST).zero, "subnormal")
        with self.assertRaisesRegex(mb.ProtocolError, r"element: the grid is neither an element format \(element\.signed"):
            mb.parse_round({"element": "g0m3", "x": [1]})
        for bad in ({"element": "g0m3", "x": []}, {"element": "fp4_e2m1", "x": [-1]},
                    {"element": "fp4_e2m1", "x": [1], "rounding": "sr"}, {"element": "fp4_e2m1", "x": [1], "scale": {"m": "0", "e": 0}},
                    {"element": "fp4_e2m1", "x": [1], "overflow": "clip"}, {"x": [1]}):
            with self.assertRaises(mb.ProtocolError, msg=json.dumps(bad)):
                mb.parse_round(bad)

    def test_rounding(self):
        self.assertEqual(mb.parse_rounding({"mode": "sr", "bits": 3}), mb.Rounding("sr", 3))
        self.assertEqual(mb.parse_rounding({"mode": "sr"}), mb.Rounding("sr", 8))
        self.assertEqual(mb.parse_rounding("sr:16"), mb.Rounding("sr", 16))
        self.assertEqual(mb.parse_rounding("rto"), mb.Rounding("rto", 8))
        self.assertEqual(mb.parse_rounding(None), mb.Rounding("rne", 8))
        for bad in ({"mode": "sr", "bits": 33}, {"mode": "sr", "bits": 0}, {"mode": "rnd"}, {"bits": 8},
                    {"mode": "rne", "extra": 1}, "sr33", "rnd"):
            with self.assertRaises(mb.ProtocolError, msg=repr(bad)):
                mb.parse_rounding(bad)

    def test_minifloat_values(self):
        e2m1 = mb.parse_format("mls-e2m1").element  # spec 1.11: 0, .125, .25, .375, .5, .75, 1, 1.5
        vals = [e2m1.magnitude_fraction(c) for c in range(8)]
        self.assertEqual(vals, [Fraction(x, 8) for x in (0, 1, 2, 3, 4, 6, 8, 12)])
        self.assertEqual(e2m1.max_value, (3, -1))
        z = mb.parse_format("e2m1z.g4m1").element
        self.assertFalse(z.is_valid_code(1))
        self.assertFalse(z.is_valid_code(9))
        self.assertTrue(z.is_valid_code(8))
        self.assertFalse(e2m1.is_valid_code(16))
        g = mb.parse_format("mls-e2m1").group_scale  # g4m1: code 0 = 2^-15, 31 = 1.5
        self.assertEqual(g.magnitude_fraction(0), Fraction(1, 1 << 15))
        self.assertEqual(g.magnitude_fraction(31), Fraction(3, 2))
        self.assertEqual(g.magnitude_fraction(27), Fraction(3, 8))
        e0m3 = mb.parse_format("mls-fixed4").element
        self.assertEqual([e0m3.magnitude_fraction(c) for c in (1, 7)], [Fraction(1, 4), Fraction(7, 4)])

    def test_layouts(self):  # spec 2.12
        f = mb.parse_format("mls-e2m1")
        lay = f.layout([2, 3, 5, 5])
        self.assertEqual((lay.resolved, lay.tiles, lay.groups), ((1, 1, 5, 5), (2, 3, 1, 1), 6))
        self.assertEqual([lay.group_of(i) for i in ((0, 0, 4, 4), (1, 0, 3, 1), (1, 2, 0, 0))], [0, 3, 5])
        lay = mb.parse_format("e2m1.g4m1/1x2x4x0").layout([1, 3, 5, 5])
        self.assertEqual((lay.tiles, lay.groups), ((1, 2, 2, 1), 4))
        ids = list(lay.group_ids())
        self.assertEqual(ids[20], 1)  # (0,0,4,0)
        self.assertEqual(ids[(2 * 5 + 2) * 5 + 2], 2)  # (0,2,2,2)
        lay = mb.parse_format("e2m1.g4m1/4").layout([10])
        self.assertEqual(list(lay.group_ids()), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
        self.assertEqual(list(f.layout([10]).group_ids()), [0] * 10)
        with self.assertRaises(mb.ProtocolError):
            mb.parse_format("e2m1.g4m1/1x1x0").layout([1, 2, 2, 2])

    def test_fp32(self):
        self.assertEqual(mb.fp32_decode(0x3F8E38E4), (False, 2330169 * 4, -23))
        self.assertEqual(mb.fp32_to_fraction(0x3F8E38E4), Fraction(2330169, 1 << 21))
        self.assertEqual(mb.fp32_decode(0x80000001), (True, 1, -149))
        self.assertEqual(mb.fp32_to_fraction(0xC0200000), Fraction(-5, 2))
        self.assertFalse(mb.fp32_is_finite(0x7F800000))
        self.assertFalse(mb.fp32_is_finite(0xFFC00000))
        with self.assertRaises(mb.ProtocolError):
            mb.fp32_decode(0x7FC00000)
        try:
            import numpy  # noqa: F401
        except ImportError:
            return
        self.assertEqual(float(mb.bits_to_f32([0x3F800000])[0]), 1.0)
        self.assertEqual(int(mb.f32_to_bits([-2.5])[0]), 0xC0200000)

    def test_tensor_validation(self):
        t = {"format": mb.parse_format("mls-e2m1").to_json(), "shape": [1, 2, 2, 2], "tensor_scale": 1066285284,
             "group_scales": [28, 31], "elements": [7, 12, 1, 8, 15, 5, 4, 1]}
        self.assertEqual(mb.parse_tensor(t).layout.groups, 2)
        for key, val in (("elements", [7, 12, 1, 8, 15, 5, 4]), ("elements", [7, 12, 1, 8, 15, 5, 4, 16]),
                         ("group_scales", [28]), ("group_scales", [28, 32]), ("tensor_scale", 0),
                         ("tensor_scale", 0x7F800000), ("tensor_scale", 0xBF800000), ("shape", [1, 0, 2, 2]),
                         ("elements", [7, 12, 1, 8, 15, 5, 4, 1.0]), ("tensor_scale", 1 << 32)):
            bad = dict(t, **{key: val})
            with self.assertRaises(mb.ProtocolError, msg=f"{key}={val}"):
                mb.parse_tensor(bad)
        with self.assertRaises(mb.ProtocolError):
            mb.parse_tensor({k: v for k, v in t.items() if k != "shape"})


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, %r)
    import mls_backend as mb
    b = mb.Backend("child")

    @b.op("quantize")
    def q(req):
        print("a stray print must not reach stdout")
        if req.get("sleep"):
            time.sleep(req["sleep"])
        if req.get("boom"):
            raise RuntimeError("boom")
        return {"n": len(req.get("x", []))}

    sys.exit(b.serve())
""") % PKG


class ChildProcess(unittest.TestCase):
    def start(self):
        p = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=0)
        self.addCleanup(lambda: (p.kill(), p.wait(), p.stdout.close(), p.stderr.close(), p.stdin.close()))
        return p

    def read_line(self, p, timeout=10.0):
        """One reply line, read without closing stdin: proves the backend flushes per reply."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "no reply line (not flushed?)")
            r, _, _ = select.select([p.stdout], [], [], left)
            if r:
                c = os.read(p.stdout.fileno(), 1)
                self.assertTrue(c, "backend closed stdout")
                buf += c
        return json.loads(buf)

    def test_session_flush_and_eof(self):
        p = self.start()
        p.stdin.write(b'{"op":"hello"}\n')
        h = self.read_line(p)
        self.assertEqual((h["protocol"], h["name"], h["supports"]["ops"]), (1, "child", ["quantize"]))
        p.stdin.write(b'{"id":1,"op":"quantize","x":[1,2,3]}\n')
        self.assertEqual(self.read_line(p), {"id": 1, "n": 3})
        p.stdin.write(b'garbage\n')
        r = self.read_line(p)
        self.assertIsNone(r["id"])
        self.assertIn("error", r)
        p.stdin.write(b'\n{"id":2,"op":"quantize","boom":true}\n')
        r = self.read_line(p)
        self.assertEqual(r["id"], 2)
        self.assertIn("boom", r["error"])
        p.stdin.write(b'\xff\n{"id":3,"op":"nope"}\n')
        self.assertIsNone(self.read_line(p)["id"])
        self.assertIn("unsupported", self.read_line(p))
        p.stdin.write(b'{"id":4,"op":"quantize"}\n')
        self.assertEqual(self.read_line(p), {"id": 4, "n": 0})
        p.stdin.close()  # EOF: a clean exit, nothing more on stdout
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(p.stdout.read(), b"")
        self.assertIn(b"a stray print must not reach stdout", p.stderr.read())

    def test_eof_without_requests(self):
        p = self.start()
        p.stdin.close()
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(p.stdout.read(), b"")

    def test_last_line_without_newline(self):
        p = self.start()
        p.stdin.write(b'{"id":8,"op":"quantize","x":[0]}')
        p.stdin.close()
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(json.loads(p.stdout.read()), {"id": 8, "n": 1})


if __name__ == "__main__":
    unittest.main()
