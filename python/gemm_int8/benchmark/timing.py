"""Timing: CUDA events around each call, L2 flushed before it, contenders interleaved.

One *round* calls every contender once, in an order rotated each round, so
clock drift and thermal throttling fall evenly on all of them. Before every
timed call a buffer larger than L2 is overwritten (outside the events), so
each call starts with cold caches, as a GEMM in a real model does after the
previous layer has streamed its own data through L2. The flush also gives
the CPU a head start, so the events measure GPU time rather than Python
launch overhead (except where a contender launches several kernels and the
CPU cannot keep up between them, which is a cost its users pay too).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch

__all__ = [
    "CpuTimer",
    "CudaTimer",
    "copy_bandwidth",
    "measure",
    "spin_up",
    "summarize",
]

Fns = dict[str, Callable[[], torch.Tensor]]


def summarize(samples_us: list[float]) -> dict:
    """Median, min, max and quartiles of a list of per-call times in microseconds."""
    data = sorted(samples_us)
    if len(data) >= 2:
        q1, median, q3 = statistics.quantiles(data, n=4, method="inclusive")
    else:
        q1 = median = q3 = data[0]
    return {
        "median_us": median,
        "min_us": data[0],
        "max_us": data[-1],
        "q1_us": q1,
        "q3_us": q3,
        "iqr_us": q3 - q1,
        "reps": len(data),
    }


def _rotated(names: list[str], r: int) -> list[str]:
    shift = r % len(names)
    return names[shift:] + names[:shift]


class CudaTimer:
    def __init__(self, device: torch.device, flush_bytes: int | None = None, flush="read"):
        """``flush_bytes``: size of the L2 flush buffer; None picks max(2 x L2, 256 MiB), 0 none.

        ``flush``: "read" sums the buffer, leaving L2 holding only clean lines, so the
        timed call pays for its own traffic alone. "write" zeroes it instead (as
        triton.testing.do_bench does), which leaves L2 full of dirty lines that the
        timed call must write back first: on an H100 that added ~10 us to every call
        (docs/benchmark.md), a cost set by the flush rather than by the call.
        """
        self.device = device
        if flush_bytes is None:
            l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0
            flush_bytes = max(2 * l2, 256 << 20)
        self.flush_bytes, self.flush_mode = flush_bytes, flush
        self.kind = f"cuda events, L2 flushed ({flush}) before each call"
        self._flush_buf = None
        if flush_bytes:
            self._flush_buf = torch.ones(flush_bytes // 4, dtype=torch.float32, device=device)
            self._sink = torch.empty((), dtype=torch.float32, device=device)

    def flush(self) -> None:
        if self._flush_buf is None:
            return
        if self.flush_mode == "read":
            torch.sum(self._flush_buf, dim=0, out=self._sink)
        else:
            self._flush_buf.zero_()

    def rounds(self, fns: Fns, count: int):
        """Runs ``count`` rounds; returns ({name: [us]}, {name: last output}, wall seconds)."""
        names = list(fns)
        events = {n: [] for n in names}
        last = {}
        torch.cuda.synchronize(self.device)
        t0 = time.perf_counter()
        for r in range(count):
            for name in _rotated(names, r):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                self.flush()
                start.record()
                last[name] = fns[name]()
                end.record()
                events[name].append((start, end))
        torch.cuda.synchronize(self.device)
        wall = time.perf_counter() - t0
        times = {n: [s.elapsed_time(e) * 1e3 for s, e in events[n]] for n in names}
        return times, last, wall


class CpuTimer:
    kind = "wall clock (time.perf_counter) per call, caches not flushed"
    flush_bytes = 0

    def rounds(self, fns: Fns, count: int):
        names = list(fns)
        times = {n: [] for n in names}
        last = {}
        t0 = time.perf_counter()
        for r in range(count):
            for name in _rotated(names, r):
                start = time.perf_counter()
                last[name] = fns[name]()
                times[name].append((time.perf_counter() - start) * 1e6)
        return times, last, time.perf_counter() - t0


def measure(timer, fns: Fns, *, warmup: int, reps: int | None, budget_s: float, rep_range):
    """Warm-up rounds, then timed rounds: ``reps`` of them, or as many as fit ``budget_s``.

    The adaptive count comes from the wall time of the warm-up rounds (flushes
    and launch overhead included), clamped to ``rep_range`` = (min, max).
    """
    _, _, wall = timer.rounds(fns, max(1, warmup))
    if reps is None:
        per_round = wall / max(1, warmup)
        lo, hi = rep_range
        reps = lo if per_round <= 0 else int(min(hi, max(lo, math.ceil(budget_s / per_round))))
    times, last, _ = timer.rounds(fns, reps)
    return times, last


def spin_up(device: torch.device, seconds: float = 0.3) -> None:
    """Runs matrix products for a moment so the GPU leaves its idle clocks before timing."""
    a = torch.randn(4096, 4096, device=device, dtype=torch.bfloat16)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(10):
            a @ a
        torch.cuda.synchronize(device)


def copy_bandwidth(device: torch.device, nbytes: int = 1 << 30) -> dict:
    """Device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written."""
    while True:
        try:
            src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
            dst = torch.empty_like(src)
            break
        except torch.OutOfMemoryError:
            if nbytes <= 64 << 20:
                raise
            nbytes //= 2
    # No L2 flush: a copy of this size already streams far more than any L2 holds.
    timer = CudaTimer(device, flush_bytes=0) if device.type == "cuda" else CpuTimer()
    times, _, _ = timer.rounds({"copy": lambda: dst.copy_(src)}, 12)
    median_us = statistics.median(times["copy"][2:])  # first two: page-in and clock ramp
    return {
        "bytes_per_copy": 2 * nbytes,
        "median_us": median_us,
        "gb_per_s": 2 * nbytes / (median_us * 1e-6) / 1e9,
    }
