"""Runs every contender on every shape: inputs, reference, checks, timing, figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from gemm_int8.benchmark.checks import check_output, exact_accumulator, scaled_bf16
from gemm_int8.benchmark.contenders import Contender, Problem, describe_failure
from gemm_int8.benchmark.env import ClockReader, cpu_model, known_peak
from gemm_int8.benchmark.graph_timing import (
    AUTO_THRESHOLD_US,
    GRAPH_KIND,
    choose_mode,
    empty_kernel_costs,
    graph_phase,
    host_loop_us,
)
from gemm_int8.benchmark.progress import Progress
from gemm_int8.benchmark.shapes import Shape
from gemm_int8.benchmark.timing import (
    CpuTimer,
    CudaTimer,
    copy_bandwidth,
    measure,
    spin_up,
    summarize,
)

__all__ = ["DeviceBroken", "Settings", "run"]


@dataclass
class Settings:
    alpha: float = 0.01
    seed: int = 0
    warmup: int = 5
    reps: int | None = None  # None: adaptive, see timing.measure
    budget_s: float = 0.5  # timed seconds per shape when adaptive
    min_reps: int = 20
    max_reps: int = 1000
    save_samples: bool = False
    progress: bool = True
    flush: str = "read"  # how CudaTimer flushes L2: "read" or "write"
    timing: str = "auto"  # "events", "graph" or "auto": see graph_timing.choose_mode
    host_calls: int = 200  # calls of the back-to-back eager loop (host µs/call), at most

    def as_dict(self) -> dict:
        d = asdict(self)
        d["reps"] = "auto" if self.reps is None else self.reps
        del d["progress"]
        return d


class DeviceBroken(RuntimeError):
    """The CUDA context is unusable (a sticky fault): later measurements would be garbage."""


def _check_device(device: torch.device) -> None:
    if device.type != "cuda":
        return
    try:
        torch.cuda.synchronize(device)
    except Exception as exc:
        raise DeviceBroken(str(exc)) from exc


def _inputs(shape: Shape, seed: int, device: torch.device):
    # Seeded by the shape too, so a shape sees the same data whatever else runs.
    gen = torch.Generator(device=device)
    gen.manual_seed(hash((seed, shape.m, shape.n, shape.k)) & (2**63 - 1))
    x = torch.randint(-128, 128, (shape.m, shape.k), dtype=torch.int8, device=device, generator=gen)
    y = torch.randint(-128, 128, (shape.n, shape.k), dtype=torch.int8, device=device, generator=gen)
    return x, y


def call_once(shapes: list[Shape], contenders: list[Contender], alpha: float, seed: int, device):
    """Every contender twice per shape, untimed and unchecked: what a profiler wrapped
    around the run should see (the first call of a shape also pays its setup)."""
    for shape in shapes:
        x, y = _inputs(shape, seed, device)
        problem = Problem(x, y, alpha, seed)
        for c in contenders:
            fn = c.make(problem)
            fn()
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)


def _failure(exc: BaseException) -> dict:
    status, reason = describe_failure(exc)
    return {"status": status, "detail": reason, "error": str(exc)[:2000]}


def _run_shape(shape, contenders, settings, device, timer, row) -> dict:
    """Checks and times every contender on ``shape``; sets ``row``'s timing fields."""
    entries: dict[str, dict] = {}
    try:
        x, y = _inputs(shape, settings.seed, device)
        acc = exact_accumulator(x, y)
        want = scaled_bf16(acc, settings.alpha)
    except torch.OutOfMemoryError:
        note = {"status": "failed", "detail": "out of memory (inputs or reference)"}
        return {c.name: dict(note) for c in contenders}
    problem = Problem(x, y, settings.alpha, settings.seed)

    def verify(out, c: Contender):
        epilogue = problem.epilogue if c.expect.epilogue else None
        return check_output(out, acc, settings.alpha, c.expect, want, epilogue)

    ctx = {"settings": settings, "device": device, "row": row, "verify": verify}
    fns = {}
    for c in contenders:
        try:
            fn = c.make(problem)
            out = fn()  # the first call also compiles / autotunes where a contender does
            _check_device(device)
        except DeviceBroken:
            raise
        except Exception as exc:
            _check_device(device)
            entries[c.name] = _failure(exc)
            continue
        check = verify(out, c)
        del out
        if check.ok:
            entries[c.name] = {"status": "ok", "detail": check.detail, "check": check.as_dict()}
            fns[c.name] = fn
        else:
            entries[c.name] = {"status": "wrong", "detail": check.detail, "check": check.as_dict()}

    if fns:
        try:
            times, last = measure(
                timer,
                fns,
                warmup=settings.warmup,
                reps=settings.reps,
                budget_s=settings.budget_s,
                rep_range=(settings.min_reps, settings.max_reps),
            )
        except Exception as exc:
            _check_device(device)
            for name in fns:
                entries[name] = _failure(exc)
                entries[name]["detail"] = "while timing: " + entries[name]["detail"]
            return entries
        by_name = {c.name: c for c in contenders}
        for name, out in last.items():
            # The last timed call is checked too: a race or a stale buffer shows up here.
            check = verify(out, by_name[name])
            if not check.ok:
                entries[name] = {
                    "status": "wrong",
                    "detail": "last timed call: " + check.detail,
                    "check": check.as_dict(),
                }
                continue
            stats = summarize(times[name])
            entries[name].update(stats, timing="events")
            entries[name].update({f"events_{k}": stats[k] for k in ("median_us", "iqr_us")})
            if settings.save_samples:
                entries[name]["samples_us"] = [round(t, 3) for t in times[name]]
    _second_timings(shape, [c for c in contenders if c.name in fns], fns, entries, problem, **ctx)
    return entries


def _second_timings(shape, contenders, fns, entries, problem, settings, device, row, verify):
    """The host loop, and (where the shape's mode is graph) the graph timing."""
    timed = [c for c in contenders if entries[c.name].get("median_us") is not None]
    medians = [entries[c.name]["median_us"] for c in timed]
    estimate = min(medians) if medians else None
    mode, note = choose_mode(settings.timing, estimate, device.type)
    row["timing"], row["timing_estimate_us"] = mode, estimate
    if note:
        row["timing_note"] = note
    if device.type != "cuda":
        return
    # The trivial op beside each shape's host loops: host speed drifts over a run.
    z = torch.zeros(1, device=device)
    row["trivial_op_host_us"] = host_loop_us(lambda: z.add_(1), device, settings.host_calls)
    for c in timed:  # no flush, no sync inside: what a caller pays per call, back to back
        calls = max(10, min(settings.host_calls, int(2e4 / max(entries[c.name]["median_us"], 1))))
        entries[c.name]["host_us_per_call"] = host_loop_us(fns[c.name], device, calls)
        entries[c.name]["host_calls"] = calls
    if mode != "graph" or not timed:
        return
    try:
        fields = graph_phase(timed, problem, shape.min_bytes, estimate, settings, device, verify)
    except Exception as exc:
        _check_device(device)
        fields = {c.name: {"timing_note": f"graph timing failed: {str(exc)[:200]}"} for c in timed}
    for name, f in fields.items():
        if f.get("status") == "wrong":  # wrong results are never timed
            for k in [k for k in entries[name] if k.endswith("_us") or k == "reps"]:
                del entries[name][k]
        entries[name].update(f)


def _add_figures(row: dict, contenders: list[Contender], device_info: dict) -> None:
    """TOPS, % of peak, speedup over the baseline, the memory floor and the cost over plain."""
    flops, nbytes = 2 * row["m"] * row["n"] * row["k"], row["min_bytes"]
    peaks = device_info.get("peak_tops") or {}
    bw = device_info["copy_bandwidth"]["gb_per_s"]
    row["mem_floor_us"] = nbytes / (bw * 1e9) * 1e6
    row["compute_floor_us"] = flops / (peaks["int8"] * 1e12) * 1e6 if "int8" in peaks else None
    row["memory_bound"] = (
        row["mem_floor_us"] >= row["compute_floor_us"] if row["compute_floor_us"] else None
    )
    base = next((c.name for c in contenders if c.baseline), None)
    base_entry = row["contenders"].get(base, {})
    base_us = base_entry.get("median_us") if base_entry.get("status") == "ok" else None
    for c in contenders:
        e = row["contenders"][c.name]
        if e.get("status") != "ok" or "median_us" not in e:
            continue
        t = e["median_us"]
        e["tops"] = flops / (t * 1e-6) / 1e12
        e["pct_peak"] = 100 * e["tops"] / peaks[c.math] if c.math in peaks else None
        e["speedup_vs_bf16"] = base_us / t if base_us else None
        e["time_over_mem_floor"] = t / row["mem_floor_us"]
        if c.plain is not None:
            plain = row["contenders"].get(c.plain, {})
            plain_us = plain.get("median_us") if plain.get("status") == "ok" else None
            e["vs_plain"] = t / plain_us if plain_us else None


def describe_device(device: torch.device) -> dict:
    """Name, peak and measured copy bandwidth of the device the run uses."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        match = known_peak(name)
        bw = copy_bandwidth(device, 1 << 30)
    else:
        name, match = cpu_model(), None
        bw = copy_bandwidth(device, 64 << 20)
    return {
        "type": device.type,
        "name": name,
        "peak_tops": match[1] if match else None,
        "peak_source": f"datasheet, dense: {match[0]}" if match else "unknown peak",
        "copy_bandwidth": bw,
    }


def run(shapes: list[Shape], contenders: list[Contender], settings: Settings, device) -> dict:
    """Benchmarks ``shapes``; returns {"device", "timer", "results", "stopped"}."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        spin_up(device)
        timer = CudaTimer(device, flush=settings.flush)
        clock = ClockReader(device)
    else:
        timer, clock = CpuTimer(), None
    info = describe_device(device)
    timer_info = {
        "method": timer.kind,
        "l2_flush_bytes": timer.flush_bytes,
        "timing": settings.timing,
        "graph_method": GRAPH_KIND if device.type == "cuda" else None,
        "auto_threshold_us": AUTO_THRESHOLD_US,
        "empty_kernel": empty_kernel_costs(device, timer, settings.host_calls),
    }
    if clock is not None:
        timer_info["clock_method"] = clock.method

    results, stopped = [], None
    bar = Progress(len(shapes), "benchmark", enabled=settings.progress)
    try:
        for shape in shapes:
            bar.start(shape.label)
            row = {
                "shape": shape.label,
                "m": shape.m,
                "n": shape.n,
                "k": shape.k,
                "tags": list(shape.tags),
                "min_bytes": shape.min_bytes,
            }
            try:
                row["contenders"] = _run_shape(shape, contenders, settings, device, timer, row)
            except (DeviceBroken, KeyboardInterrupt):
                raise
            except Exception as exc:  # e.g. out of memory while checking: record it, go on
                _check_device(device)
                note = _failure(exc)
                note["detail"] = f"benchmark error: {note['detail']}"
                row["contenders"] = {c.name: dict(note, status="failed") for c in contenders}
            row["sm_clock_mhz"] = clock.read() if clock is not None else None
            _add_figures(row, contenders, info)
            results.append(row)
            bar.advance()
            if device.type == "cuda":
                torch.cuda.empty_cache()  # a later, larger shape must not OOM on fragments
    except DeviceBroken as exc:
        stopped = f"CUDA device unusable after a fault, run stopped: {exc}"
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        bar.close()
    return {"device": info, "timer": timer_info, "results": results, "stopped": stopped}
