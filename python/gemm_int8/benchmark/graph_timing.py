"""``--timing graph``: CUDA-graph replay with rotating operands, and the host-side loop.

The per-call timer (timing.CudaTimer) records CUDA events around each call. When a
call's GPU work is shorter than its launch path (~10 µs for a trivial torch op on an
H200 host), the events measure the gap between launches instead, and the medians of
small shapes turn bimodal. Graph mode captures ``calls`` back-to-back calls of a
contender in one CUDA graph, cycling through ``rotation`` copies of the operands whose
total size exceeds 2x L2 (so each call reads its operands from memory, as after a
flush), and times whole replays with events: per-call time = replay time / calls.

``host_loop_us`` is the other side: an eager loop of back-to-back calls, no flush and
no sync inside, timed on the host with a final synchronize. It is what a caller pays
per call when the GPU keeps up, or the GPU time when it does not.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch

from gemm_int8.benchmark.contenders import Problem
from gemm_int8.benchmark.timing import _rotated, summarize

__all__ = [
    "AUTO_THRESHOLD_US",
    "GRAPH_KIND",
    "TIMING_MODES",
    "choose_mode",
    "empty_kernel_costs",
    "graph_calls",
    "host_loop_us",
    "l2_bytes",
    "rotation_count",
    "graph_phase",
    "time_graphs",
]

TIMING_MODES = ("events", "graph", "auto")
AUTO_THRESHOLD_US = 50.0  # auto: graph below this per-call estimate, events from it up
MAX_ROTATION = 64
GRAPH_KIND = "CUDA graph of back-to-back calls over operand copies > 2x L2, events per replay"


def choose_mode(
    requested: str, estimate_us: float | None, device_type: str = "cuda", threshold_us=None
) -> tuple[str, str | None]:
    """The timing a shape gets: ("events" | "graph", a note or None).

    ``estimate_us``: the shape's per-call estimate (the fastest contender's events
    median). auto picks graph below ``threshold_us`` (default AUTO_THRESHOLD_US).
    Graph timing needs CUDA: elsewhere the per-call timer is used, with a note when
    graph was asked for explicitly.
    """
    if requested not in TIMING_MODES:
        raise ValueError(f"timing mode {requested!r}: expected one of {', '.join(TIMING_MODES)}")
    threshold = AUTO_THRESHOLD_US if threshold_us is None else threshold_us
    if device_type != "cuda":
        note = (
            "graph timing needs a CUDA device: per-call timer used"
            if requested == "graph"
            else None
        )
        return "events", note
    if requested != "auto":
        return requested, None
    if estimate_us is None:
        return "events", None
    return ("graph" if estimate_us < threshold else "events"), None


def rotation_count(l2_bytes: int, operand_bytes: int, factor: int = 2, cap=MAX_ROTATION) -> int:
    """Copies of the operands whose total size exceeds ``factor`` x L2, at most ``cap``."""
    if l2_bytes <= 0 or operand_bytes <= 0:
        return 1
    return max(1, min(cap, factor * l2_bytes // operand_bytes + 1))


def graph_calls(rotation: int, estimate_us: float | None, target_us=2000.0, lo=16, hi=256) -> int:
    """Calls captured in one graph: about ``target_us`` of work clamped to [lo, hi], then
    rounded up to a multiple of ``rotation`` (so every copy is used equally)."""
    want = lo if not estimate_us or estimate_us <= 0 else math.ceil(target_us / estimate_us)
    want = max(lo, min(hi, want))
    return max(rotation, rotation * math.ceil(want / rotation))


def host_loop_us(
    fn: Callable, device: torch.device, calls: int = 200, warmup: int = 3, batches: int = 5
) -> float:
    """Host µs per call: ``calls`` back-to-back eager calls timed on the host up to the last
    call's return, before the synchronize that ends the loop, so a GPU slower than the host
    does not hide the launch path's cost (a few hundred calls never fill the launch queue).
    The median over ``batches`` loops: one loop on a busy host can catch a stall of tens of
    µs that is no property of the call."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda _d: None)
    for _ in range(warmup):
        fn()
    per_batch = []
    for _ in range(batches):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        per_batch.append((time.perf_counter() - t0) / calls * 1e6)
    sync(device)
    return statistics.median(per_batch)


def _capture(ring: list[Callable], calls: int, device):
    """One graph of ``calls`` calls cycling through ``ring``; returns (graph, last output)."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):  # warm-up on a side stream, as torch.cuda.graphs advises
        for _ in range(2):
            for fn in ring:
                fn()
    torch.cuda.current_stream(device).wait_stream(stream)
    torch.cuda.synchronize(device)
    graph = torch.cuda.CUDAGraph()
    outs: list = [None] * len(ring)  # the last len(ring) outputs stay alive: outputs rotate too
    with torch.cuda.graph(graph):
        for i in range(calls):
            outs[i % len(ring)] = ring[i % len(ring)]()
    return graph, outs[(calls - 1) % len(ring)]


def time_graphs(rings: dict[str, list[Callable]], calls: int, replays: int, device):
    """Captures one graph per contender, then times ``replays`` rounds of replays.

    Returns ({name: [µs per call, one per replay]}, {name: output of the last call},
    {name: exception}) for the contenders whose capture failed.
    """
    graphs, last, failed = {}, {}, {}
    for name, ring in rings.items():
        try:
            graphs[name], last[name] = _capture(ring, calls, device)
        except Exception as exc:  # e.g. a host sync inside the call: not capturable
            failed[name] = exc
            torch.cuda.synchronize(device)
    names = list(graphs)
    for name in names:  # one untimed replay each: first-touch of the graph's memory
        graphs[name].replay()
    torch.cuda.synchronize(device)
    events = {n: [] for n in names}
    for r in range(replays if names else 0):
        for name in _rotated(names, r):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            graphs[name].replay()
            end.record()
            events[name].append((start, end))
    torch.cuda.synchronize(device)
    times = {n: [s.elapsed_time(e) * 1e3 / calls for s, e in events[n]] for n in names}
    return times, last, failed


def empty_kernel_costs(device: torch.device, timer, host_calls: int = 200) -> dict:
    """What each timer reports for a 1-element add, the cheapest kernel there is."""
    z = torch.zeros(1, device=device)

    def add():
        return z.add_(1)

    times, _, _ = timer.rounds({"add": add}, 50)
    out = {
        "events_us": statistics.median(times["add"][5:]),
        "graph_us": None,
        "trivial_op_host_us": host_loop_us(add, device, host_calls),
    }
    if device.type == "cuda":
        try:
            g, _, _ = time_graphs({"add": [add]}, 256, 10, device)
            out["graph_us"] = statistics.median(g["add"])
        except Exception:  # reported as unknown rather than ending the run
            torch.cuda.synchronize(device)
    return out


def l2_bytes(device: torch.device) -> int:
    props = torch.cuda.get_device_properties(device)
    return int(getattr(props, "L2_cache_size", 0) or 0)


def graph_phase(contenders, problem, operand_bytes, estimate_us, settings, device, verify):
    """Graph-times ``contenders`` (those that passed the checks and the per-call timing).

    Returns {name: fields to merge into its entry}: the graph statistics (replacing the
    per-call ones), or a fallback note, or a "wrong" status when the graph's last call
    gave a wrong answer.
    """
    rotation = rotation_count(l2_bytes(device), operand_bytes)
    calls = graph_calls(rotation, estimate_us)
    copies = [problem] + [
        Problem(problem.x.clone(), problem.y.clone(), problem.alpha, problem.seed)
        for _ in range(rotation - 1)
    ]
    out, rings = {}, {}
    for c in contenders:
        try:
            rings[c.name] = [c.make(p) for p in copies]
        except Exception as exc:
            out[c.name] = _fallback(f"setting up operand copies failed: {exc}")
    if settings.reps:
        replays = min(settings.reps, 100)
    else:
        per_replay_s = max(calls * (estimate_us or 1.0) * 1e-6, 1e-6) * max(1, len(rings))
        replays = int(max(5, min(50, settings.budget_s / per_replay_s)))
    times, last, failed = time_graphs(rings, calls, replays, device)
    for name, exc in failed.items():
        out[name] = _fallback(f"graph capture failed ({type(exc).__name__}: {str(exc)[:150]})")
    by_name = {c.name: c for c in contenders}
    for name, samples in times.items():
        check = verify(last[name], by_name[name])  # the graph's last call is checked too
        if not check.ok:
            out[name] = {
                "status": "wrong",
                "detail": "last graph call: " + check.detail,
                "check": check.as_dict(),
            }
            continue
        out[name] = {
            **summarize(samples),
            "timing": "graph",
            "graph_calls": calls,
            "graph_rotation": rotation,
        }
        if settings.save_samples:
            out[name]["samples_us"] = [round(t, 3) for t in samples]
    return out


def _fallback(note: str) -> dict:
    return {"timing": "events", "timing_note": note + "; per-call timing kept"}
