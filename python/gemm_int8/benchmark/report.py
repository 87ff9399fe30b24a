"""The results table (terminal and markdown), the summary, and the JSON file."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from gemm_int8.benchmark import fused
from gemm_int8.benchmark.cells import (
    format_table,
    geomean,
    md_escape,
    md_table,
    num,
    status_cell,
    us,
)

__all__ = [
    "SCHEMA",
    "format_table",  # re-exported: --compare draws its table with it
    "markdown_report",
    "summarize_results",
    "text_report",
    "write_json",
]

# Bump when a key changes meaning or disappears; --compare refuses other schemas.
SCHEMA = "gemm_int8.benchmark/1"

HEADERS = [
    "shape",
    "contender",
    "timing",
    "median µs",
    "IQR µs",
    "min µs",
    "max µs",
    "events µs",
    "host µs/call",
    "TOPS",
    "% peak",
    "vs bf16",
    "× mem floor",
    "check",
]


def _check_cell(e: dict) -> str:
    check = e.get("check") or {}
    if e.get("status") == "wrong":
        detail = e.get("detail", "")
        return detail if len(detail) <= 60 else detail[:57] + "..."
    if not check:
        return "-"
    if check.get("method") == "bitwise":
        return "bit-exact"
    return f"rel {check.get('rel_error', float('nan')):.1e}"


def table_rows(doc: dict) -> list[list[str]]:
    names = [c["name"] for c in doc["contenders"]]
    labels = {c["name"]: c["label"] for c in doc["contenders"]}
    rows = []
    for row in doc["results"]:
        show_floor = row.get("memory_bound") in (True, None)
        for i, name in enumerate(names):
            e = row["contenders"].get(name, {"status": "not run"})
            ok = e.get("status") == "ok" and e.get("median_us") is not None
            shape = row["shape"] if i == 0 else ""
            if not ok:
                rows.append([shape, labels[name], status_cell(e)] + ["-"] * 10 + [_check_cell(e)])
                continue
            rows.append(
                [
                    shape,
                    labels[name],
                    e.get("timing", "events") + ("*" if e.get("timing_note") else ""),
                    us(e["median_us"]),
                    us(e.get("iqr_us")),
                    us(e.get("min_us")),
                    us(e.get("max_us")),
                    us(e.get("events_median_us")),
                    us(e.get("host_us_per_call")),
                    num(e.get("tops"), ".1f"),
                    num(e.get("pct_peak"), ".1f", "%"),
                    num(e.get("speedup_vs_bf16"), ".2f", "x"),
                    num(e.get("time_over_mem_floor") if show_floor else None, ".2f", "x"),
                    _check_cell(e),
                ]
            )
    return rows


def timing_notes(doc: dict) -> list[str]:
    """The footnotes of the table's "*" marks, and shape-level timing notes."""
    labels = {c["name"]: c["label"] for c in doc["contenders"]}
    notes = []
    for row in doc["results"]:
        if row.get("timing_note"):
            notes.append(f"{row['shape']}: {row['timing_note']}")
        for name, e in row["contenders"].items():
            if e.get("timing_note"):
                notes.append(f"* {row['shape']} {labels.get(name, name)}: {e['timing_note']}")
    return notes


def _timing_lines(timer: dict) -> list[str]:
    if "timing" not in timer:  # a file from before --timing
        return []
    lines = [
        f"timing mode: {timer['timing']} (auto: graph where the fastest contender's events "
        f"median is below {timer['auto_threshold_us']:.0f} µs, else events; per shape in the "
        "timing column)"
    ]
    if timer.get("graph_method"):
        lines.append(f"graph timer: {timer['graph_method']}")
    k = timer.get("empty_kernel") or {}
    lines.append(
        f"empty-kernel cost (1-element add): per-call (events) timer {us(k.get('events_us'))} µs, "
        f"graph timer {us(k.get('graph_us'))} µs/call; trivial op (z.add_(1)) host "
        f"{us(k.get('trivial_op_host_us'))} µs/call, back-to-back eager loop"
    )
    return lines


def summarize_results(doc: dict) -> dict:
    """Per contender: status counts and the geometric-mean speedup over bf16."""
    summary = {}
    for c in doc["contenders"]:
        entries = [r["contenders"].get(c["name"], {}) for r in doc["results"]]
        counts = {}
        for e in entries:
            counts[e.get("status", "not run")] = counts.get(e.get("status", "not run"), 0) + 1
        speedups = [e.get("speedup_vs_bf16") for e in entries if e.get("speedup_vs_bf16")]
        summary[c["name"]] = {
            "status_counts": counts,
            "geomean_speedup_vs_bf16": geomean(speedups),
            "shapes_with_speedup": len(speedups),
            "vs_plain": fused.summary(doc, c["name"]),
            "host": host_summary(doc, c["name"]),
        }
    return summary


# Issue 12's host target: an eager call within this much of the trivial op's host cost.
HOST_MARGIN_US = 2.5


def host_summary(doc: dict, name: str) -> dict | None:
    """The host µs/call column of one contender against the trivial op and the baseline.

    None without host figures (the CPU path). ``over_trivial_*`` are µs above ``z.add_(1)``
    timed beside the same shape (the run's header figure for files without it);
    ``within_margin`` counts shapes at most HOST_MARGIN_US above it;
    ``at_or_below_baseline`` counts shapes where this contender's host cost is no more than the
    baseline contender's, out of ``baseline_shapes`` where both have one.
    """
    trivial = (doc.get("timer", {}).get("empty_kernel") or {}).get("trivial_op_host_us")
    base = next((c["name"] for c in doc["contenders"] if c.get("baseline")), None)
    own, over_base = [], []
    for row in doc["results"]:
        host = row["contenders"].get(name, {}).get("host_us_per_call")
        if host is None:
            continue
        row_trivial = row.get("trivial_op_host_us", trivial)
        if row_trivial is None:
            continue
        own.append((host - row_trivial, row["shape"]))
        base_host = row["contenders"].get(base, {}).get("host_us_per_call") if base else None
        if base_host is not None:
            over_base.append(host <= base_host)
    if not own:
        return None
    over = sorted(own)
    return {
        "shapes": len(own),
        "over_trivial_median_us": statistics.median(d for d, _ in over),
        "over_trivial_max_us": over[-1][0],
        "worst_shape": over[-1][1],
        "within_margin": sum(d <= HOST_MARGIN_US for d, _ in over),
        "margin_us": HOST_MARGIN_US,
        "baseline": base,
        "at_or_below_baseline": sum(over_base),
        "baseline_shapes": len(over_base),
    }


def _header_lines(doc: dict) -> list[str]:
    dev, settings, timer = doc["device"], doc["settings"], doc["timer"]
    lib = doc["environment"]["gemm_int8"]
    peak = dev.get("peak_tops")
    peak_text = (
        f"int8 {peak['int8']:.0f} TOPS, bf16 {peak['bf16']:.0f} TFLOPS ({dev['peak_source']})"
        if peak
        else "unknown peak (GPU not in the table; % peak not reported)"
    )
    commit = lib.get("git_commit")
    commit_text = f" @ {commit[:12]}{' (dirty)' if lib.get('git_dirty') else ''}" if commit else ""
    reps = settings["reps"]
    reps_text = (
        f"adaptive ({settings['min_reps']}-{settings['max_reps']},"
        f" ~{settings['budget_s']} s a shape)"
        if reps == "auto"
        else str(reps)
    )
    return [
        f"device: {dev['name']}",
        f"peak: {peak_text}",
        f"copy bandwidth: {dev['copy_bandwidth']['gb_per_s']:.0f} GB/s (read + write, measured)",
        f"timing: {timer['method']}; warm-up {settings['warmup']} rounds; reps {reps_text}",
        *_timing_lines(timer),
        f"alpha: {settings['alpha']}; seed {settings['seed']}",
        f"gemm_int8 {lib.get('version')}{commit_text}; torch {doc['environment']['torch']}",
    ]


def _summary_lines(doc: dict) -> list[str]:
    labels = {c["name"]: c["label"] for c in doc["contenders"]}
    lines = []
    for name, s in doc["summary"].items():
        counts = ", ".join(f"{v} {k}" for k, v in sorted(s["status_counts"].items()))
        g = s["geomean_speedup_vs_bf16"]
        speed = f"geomean {g:.2f}x vs bf16 over {s['shapes_with_speedup']} shapes" if g else ""
        lines.append(f"{labels[name]}: {counts}{'; ' + speed if speed else ''}")
        v = s.get("vs_plain")
        if v:
            over = v["over_budget"]
            budget = f"; over budget on {len(over)}: {', '.join(over)}" if over else ""
            lines[-1] += (
                f"; / {labels.get(v['plain'], v['plain'])}: geomean {v['geomean']:.3f}x, "
                f"worst {v['worst']:.3f}x at {v['worst_shape']}{budget}"
            )
        h = s.get("host")
        if h:
            lines[-1] += (
                f"; host µs/call over the trivial op: median {h['over_trivial_median_us']:+.1f},"
                f" worst {h['over_trivial_max_us']:+.1f} at {h['worst_shape']}, within"
                f" +{h['margin_us']} on {h['within_margin']} of {h['shapes']}"
            )
            if h["baseline"] and h["baseline"] != name and h["baseline_shapes"]:
                lines[-1] += (
                    f"; at or below {labels.get(h['baseline'], h['baseline'])}'s host cost on"
                    f" {h['at_or_below_baseline']} of {h['baseline_shapes']}"
                )
    return lines


def text_report(doc: dict) -> str:
    parts = _header_lines(doc) + ["", format_table(HEADERS, table_rows(doc)), ""]
    notes = timing_notes(doc)
    parts += notes + [""] if notes else []
    fused_rows = fused.rows(doc)
    if fused_rows:
        parts += [fused.title(doc), "", format_table(fused.HEADERS, fused_rows), ""]
    parts += _summary_lines(doc)
    if doc.get("stopped"):
        parts.append(f"RUN STOPPED EARLY: {doc['stopped']}")
    return "\n".join(parts)


def markdown_report(doc: dict) -> str:
    out = ["# gemm_int8 benchmark", ""]
    out += [f"- {line}" for line in _header_lines(doc)]
    out += [f"- command: `{' '.join(doc['command'])}`", f"- date: {doc['created']}", ""]
    out += md_table(HEADERS, table_rows(doc), left=3)
    out += [""] + [f"- {md_escape(n)}" for n in timing_notes(doc)] if timing_notes(doc) else []
    fused_rows = fused.rows(doc)
    if fused_rows:
        out += ["", f"## {fused.title(doc)}", ""]
        out += md_table(fused.HEADERS, fused_rows, left=2)
    out += ["", "## Summary", ""] + [f"- {line}" for line in _summary_lines(doc)]
    if doc.get("stopped"):
        out += ["", f"**Run stopped early:** {doc['stopped']}"]
    out += [
        "",
        "Columns: timing = the timer of the median (events: CUDA events around each call, L2"
        " flushed; graph: CUDA-graph replay of back-to-back calls over rotating operands;"
        " * = fell back to events, see the note); median, interquartile range, min and max of"
        " the per-call times; events µs = the events median, whatever the timing; host µs/call"
        " = host time per call of a back-to-back eager loop, up to the last call's return (the"
        " launch path; median of five loops); TOPS = 2MNK /"
        " median; % peak of the dense datasheet peak for the contender's math (int8, or bf16 for"
        " torch bf16); vs bf16 = bf16 median / this median; × mem floor = median / ((MK + NK +"
        " 2MN) bytes / measured copy bandwidth), shown for memory-bound shapes; / plain ="
        " this median / plain gemm_int8's median, budget = what a fused epilogue may add. See"
        " docs/benchmark.md.",
        "",
    ]
    return "\n".join(out)


def _finite(obj):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_json(doc: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(doc), indent=1, allow_nan=False) + "\n")
