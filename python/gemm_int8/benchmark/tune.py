"""Kernel tuning sweep: time chosen kernel rows per shape.

    python -m gemm_int8.benchmark.tune --shapes 1x4096x4096,64x4096x4096 \\
        --candidates auto,bf16,calib:read,skinny:*,sm90_t64x128x128_c1x1_ping

A candidate is ``auto`` (the dispatch), ``bf16`` (torch.matmul in bfloat16),
``calib:empty``, ``calib:read`` or ``calib:copy`` (a one-element add, a sum
over y, a copy of y: what the timing reports for launch and memory alone),
or a row name as GEMM_INT8_FORCE_KERNEL takes it; ``family:*`` expands to
every row of a family. Timing is the benchmark's (CUDA events, L2 flushed before every
call, candidates interleaved, median); every gemm_int8 output must equal the
exact reference bit for bit. The results decide the dispatch boundaries in
csrc/core/dispatch.cpp; record them in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

import gemm_int8

from .checks import exact_accumulator, scaled_bf16
from .timing import CudaTimer, measure, spin_up, summarize


def table_rows(family: str) -> list[str]:
    """The library's kernel rows of one family, as GEMM_INT8_FORCE_KERNEL takes them."""
    return [n for n in torch.ops.gemm_int8.kernel_configs() if n.startswith(family + "_")]


def _expand(candidates: list[str]) -> list[str]:
    out = []
    for c in candidates:
        out += table_rows(c.split(":", 1)[0]) if c.endswith(":*") else [c]
    return list(dict.fromkeys(out))


def _callable(candidate: str, x: torch.Tensor, y: torch.Tensor, alpha: float):
    # Calibrators: what the timing method reports for a launch that does
    # (almost) nothing, for reading y once, and for copying it.
    if candidate == "calib:empty":
        tiny = torch.zeros(1, device=y.device)
        return lambda: tiny.add_(1)
    if candidate == "calib:read":
        words = y.view(-1).view(torch.int32) if y.numel() % 4 == 0 else y.view(-1)
        return lambda: torch.sum(words, dtype=torch.int32)
    if candidate == "calib:copy":
        return lambda: y.clone()
    if candidate == "bf16":
        xb, yt = x.to(torch.bfloat16), y.to(torch.bfloat16).t()
        return lambda: torch.matmul(xb, yt)
    row = "" if candidate == "auto" else candidate

    def run():
        os.environ["GEMM_INT8_FORCE_KERNEL"] = row  # host-side; the flush hides it
        return gemm_int8.matmul(x, y, alpha)

    return run


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        m, n, k = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape '{text}' is not MxNxK") from None
    return m, n, k


def _parse_shapes(text: str) -> list[tuple[int, int, int]]:
    return [_parse_shape(s) for s in text.split(",") if s]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gemm_int8.benchmark.tune", description=__doc__)
    p.add_argument("--shapes", required=True, type=_parse_shapes, help="comma-separated MxNxK list")
    p.add_argument("--candidates", required=True, help="comma-separated candidates (see above)")
    p.add_argument("--reps", type=int, default=50, help="timed calls per candidate (default 50)")
    p.add_argument("--json", type=Path, help="write every result here")
    p.add_argument(
        "--once",
        action="store_true",
        help="call each candidate twice, untimed: for a profiler (ncu, nsys) wrapped around this",
    )
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("tune: needs a CUDA GPU", file=sys.stderr)
        return 2
    shapes = args.shapes
    try:
        candidates = _expand([c for c in args.candidates.split(",") if c])
    except FileNotFoundError as e:
        print(f"tune: {e}", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    saved = {"GEMM_INT8_FORCE_KERNEL": os.environ.get("GEMM_INT8_FORCE_KERNEL")}
    timer = CudaTimer(device)
    spin_up(device)
    results = []
    try:
        for m, n, k in shapes:
            gen = torch.Generator(device=device).manual_seed(m * 31 + n * 7 + k)
            x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device=device, generator=gen)
            y = torch.randint(-128, 128, (n, k), dtype=torch.int8, device=device, generator=gen)
            expected = scaled_bf16(exact_accumulator(x, y), 0.01)
            fns, errors = {}, {}
            for c in candidates:
                try:
                    fn = _callable(c, x, y, 0.01)
                    out = fn()
                    same = out.shape == expected.shape and torch.equal(
                        out.view(torch.int16), expected.view(torch.int16)
                    )
                    if not c.startswith(("bf16", "calib:")) and not same:
                        errors[c] = "WRONG"
                    else:
                        fns[c] = fn
                except (RuntimeError, ValueError) as e:
                    errors[c] = str(e).splitlines()[0][:60]
            if args.once:
                for fn in fns.values():
                    fn()
                torch.cuda.synchronize()
                continue
            times, _ = measure(timer, fns, warmup=3, reps=args.reps, budget_s=0, rep_range=(1, 1))
            ranked = sorted(fns, key=lambda c: summarize(times[c])["median_us"])
            print(f"\n{m}x{n}x{k}")
            for c in ranked:
                s = summarize(times[c])
                results.append({"shape": [m, n, k], "candidate": c, **s})
                print(f"  {s['median_us']:9.2f} us  {c}")
            for c, e in errors.items():
                results.append({"shape": [m, n, k], "candidate": c, "error": e})
                print(f"  {'-':>9}     {c}: {e}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if args.json:
        args.json.write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
