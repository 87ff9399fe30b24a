"""Bandwidth of gemm_int8.quantize against a device-to-device copy, same run.

``python -m gemm_int8.benchmark.quantize_bandwidth [--shapes 8192x8192,...]``
prints, per shape and granularity, the median time of quantizing a bfloat16
matrix and its bytes moved (x read, int8 values and float32 scales written) as
a fraction of the copy bandwidth measured in the same process, by two timers:
``events`` (one call between CUDA events, L2 flushed before it: the ~4 us an
empty kernel costs on this timer is in every figure) and ``graph`` (a CUDA graph
of back-to-back calls over copies of x larger than 2x L2: the kernel's own time,
as the copy's is). Issue 10's target: >= 85 % for 8192 x 8192 bf16 per row.
``row+t`` and ``tensor+t`` time quantize_with_transpose (bytes: x read twice,
q and qt written), with the time a single-read kernel would need at copy speed.
``row+h`` times quantize(x, hadamard=True) (x read once, q written) and
``hadamard`` the rotation alone (bf16 in, bf16 out).
"""

from __future__ import annotations

import argparse
import statistics

import torch

import gemm_int8

from .graph_timing import graph_calls, l2_bytes, rotation_count, time_graphs
from .timing import CudaTimer, copy_bandwidth, spin_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="8192x8192,2048x4096,16x4096,8192x14336")
    parser.add_argument("--granularity", default="row,tensor,col,row+t,tensor+t")
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument(
        "--timing", choices=("events", "graph", "both"), default="both", help="default both"
    )
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        parser.error("needs a CUDA GPU")
    device = torch.device("cuda")
    spin_up(device)
    copy = copy_bandwidth(device)
    print(f"copy: {copy['gb_per_s']:.0f} GB/s (read + write)")
    timer = CudaTimer(device)
    for shape in args.shapes.split(","):
        m, k = (int(v) for v in shape.split("x"))
        x = torch.randn(m, k, device=device, dtype=torch.bfloat16)
        for granularity in args.granularity.split(","):
            # "row+t" / "tensor+t": quantize_with_transpose (q and qt, x read twice).
            g, _, variant = granularity.partition("+")
            transposed = variant == "t"
            call = _call(g, variant)
            scales = {"row": m, "col": k, "tensor": 1, "hadamard": 0}[g] + (k if transposed else 0)
            reads, writes = (2, 2) if transposed else (1, 2 if g == "hadamard" else 1)
            moved = x.numel() * (2 * reads + writes) + scales * 4
            # The least a one-read kernel could move: x once, every output once.
            least = x.numel() * (2 + writes) + scales * 4
            medians = {}
            fn = {"q": lambda x=x, call=call: call(x)}
            timer.rounds(fn, 5)
            times, _, _ = timer.rounds(fn, args.reps)
            if args.timing != "graph":
                medians["events"] = statistics.median(times["q"])
            if args.timing != "events":
                medians["graph"] = _graph_median(call, x, statistics.median(times["q"]), device)
            figures = []
            for timing, median_us in medians.items():
                gbps = moved / (median_us * 1e-6) / 1e9
                figures.append(
                    f"{timing} {median_us:7.1f} us {gbps:5.0f} GB/s "
                    f"{100 * gbps / copy['gb_per_s']:5.1f} %"
                )
            print(
                f"{m}x{k} bf16 {granularity:9s}: {' | '.join(figures)} of copy; one-read floor "
                f"{least / copy['gb_per_s'] / 1e3:7.1f} us"
            )
    return 0


def _call(granularity: str, variant: str):
    """x -> one output of the timed operation (its others are dropped)."""
    if granularity == "hadamard":
        return gemm_int8.hadamard
    if variant == "h":
        return lambda x: gemm_int8.quantize(x, granularity, hadamard=True)[0]
    if variant == "t":
        return lambda x: gemm_int8.quantize_with_transpose(x, granularity)[2]
    return lambda x: gemm_int8.quantize(x, granularity)[0]


def _graph_median(call, x, estimate_us: float, device) -> float:
    """Median µs per call of a CUDA graph of back-to-back calls over copies of x."""
    rotation = rotation_count(l2_bytes(device), x.numel() * x.element_size())
    ring = [x] + [x.clone() for _ in range(rotation - 1)]
    fns = [lambda x=c: call(x) for c in ring]
    times, _, failed = time_graphs({"q": fns}, graph_calls(rotation, estimate_us), 10, device)
    if failed:
        raise failed["q"]
    return statistics.median(times["q"])


if __name__ == "__main__":
    raise SystemExit(main())
