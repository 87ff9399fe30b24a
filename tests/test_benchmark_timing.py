"""Tests of the benchmark's --timing modes and host column, on the CPU.

No timing is judged: the pure rules (mode choice, rotation and call counts), the
report's columns, the CPU fallback and --compare across timers.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from gemm_int8.benchmark import cli, graph_timing, report, runner
from gemm_int8.benchmark import shapes as S
from gemm_int8.benchmark.checks import exact_accumulator, scaled_bf16
from gemm_int8.benchmark.compare import compare, compare_text
from gemm_int8.benchmark.contenders import CONTENDERS, Problem
from gemm_int8.benchmark.graph_timing import (
    choose_mode,
    graph_calls,
    graph_phase,
    host_loop_us,
    rotation_count,
)
from gemm_int8.benchmark.results import run_benchmark

MiB = 1 << 20


def test_timing_option():
    parser = cli.build_parser()
    assert parser.parse_args([]).timing == "auto"
    for mode in ("events", "graph", "auto"):
        assert parser.parse_args(["--timing", mode]).timing == mode


def test_timing_option_rejects_other_values(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--timing", "fast"])
    assert info.value.code == 2
    assert "--timing" in capsys.readouterr().err


@pytest.mark.parametrize(
    "requested, estimate, want",
    [
        ("auto", 13.0, "graph"),
        ("auto", 49.9, "graph"),
        ("auto", 50.0, "events"),
        ("auto", 800.0, "events"),
        ("auto", None, "events"),
        ("graph", 800.0, "graph"),
        ("graph", None, "graph"),
        ("events", 1.0, "events"),
    ],
)
def test_auto_rule(requested, estimate, want):
    assert choose_mode(requested, estimate, "cuda") == (want, None)


def test_auto_rule_threshold_and_cpu():
    assert choose_mode("auto", 80.0, "cuda", threshold_us=100.0)[0] == "graph"
    assert choose_mode("auto", 1.0, "cpu") == ("events", None)
    assert choose_mode("events", 1.0, "cpu") == ("events", None)
    mode, note = choose_mode("graph", 1.0, "cpu")
    assert mode == "events" and "needs a CUDA device" in note
    with pytest.raises(ValueError):
        choose_mode("fast", 1.0)


@pytest.mark.parametrize(
    "l2, operand, want",
    [
        (50 * MiB, 17_301_504, 7),  # 64x4096x4096 on an H100: 7 x 17.3 MB > 100 MiB
        (60 * MiB, 16 * MiB, 8),
        (50 * MiB, 101 * MiB, 1),  # one copy is already over twice L2
        (50 * MiB, 50 * MiB, 3),  # exceeds 2x L2, not merely equals it
        (50 * MiB, 4096, 64),  # capped
        (0, 4096, 1),  # unknown L2
    ],
)
def test_rotation_count(l2, operand, want):
    r = rotation_count(l2, operand)
    assert r == want
    if 1 < r < 64:
        assert r * operand > 2 * l2 >= (r - 1) * operand


def test_rotation_count_cap_and_factor():
    assert rotation_count(50 * MiB, 4096, cap=8) == 8
    assert rotation_count(50 * MiB, 30 * MiB, factor=1) == 2


@pytest.mark.parametrize("rotation", [1, 3, 7, 64])
@pytest.mark.parametrize("estimate", [None, 0.5, 13.0, 2000.0])
def test_graph_calls(rotation, estimate):
    calls = graph_calls(rotation, estimate)
    assert calls % rotation == 0 and calls >= max(rotation, 16)
    assert calls <= max(256, rotation * -(-256 // rotation))


def test_graph_calls_scale_with_the_estimate():
    assert graph_calls(1, 10.0) == 200 and graph_calls(1, 1000.0) == 16
    assert graph_calls(1, 0.1) == 256 and graph_calls(7, 10.0) == 203


def test_host_loop_runs_on_cpu():
    z = torch.zeros(1)
    assert host_loop_us(lambda: z.add_(1), torch.device("cpu"), calls=20, warmup=2) > 0
    assert z.item() == 2 + 5 * 20  # warm-up, then five timed loops (the median is reported)


def _cpu_doc(timing: str) -> dict:
    chosen = [c for c in CONTENDERS if c.name in ("torch_bf16", "gemm_int8")]
    settings = runner.Settings(reps=2, warmup=0, progress=False, timing=timing)
    return run_benchmark(settings, ["--timing", timing], "cpu", [S.Shape(8, 16, 32)], chosen)


def test_report_columns_and_empty_kernel_costs():
    doc = _cpu_doc("auto")
    assert doc["settings"]["timing"] == "auto"
    timer = doc["timer"]
    assert timer["timing"] == "auto" and timer["auto_threshold_us"] == 50.0
    assert set(timer["empty_kernel"]) == {"events_us", "graph_us", "trivial_op_host_us"}
    assert timer["empty_kernel"]["graph_us"] is None  # no graphs on the CPU
    row = doc["results"][0]
    assert row["timing"] == "events" and row["timing_estimate_us"] > 0
    e = row["contenders"]["gemm_int8"]
    assert e["timing"] == "events" and e["events_median_us"] == e["median_us"]
    assert "host_us_per_call" not in e  # CPU: the column shows "-"
    text, md = report.text_report(doc), report.markdown_report(doc)
    for header in ("timing", "events µs", "host µs/call"):
        assert header in report.HEADERS and header in text and header in md
    assert "empty-kernel cost (1-element add)" in text and "trivial op" in text
    assert "timing mode: auto" in md
    cells = report.table_rows(doc)[1]
    assert len(cells) == len(report.HEADERS)
    assert cells[2] == "events" and cells[report.HEADERS.index("host µs/call")] == "-"


def test_graph_on_cpu_falls_back_with_a_note():
    doc = _cpu_doc("graph")
    row = doc["results"][0]
    assert row["timing"] == "events" and "needs a CUDA device" in row["timing_note"]
    assert row["contenders"]["gemm_int8"]["status"] == "ok"
    assert "needs a CUDA device" in report.text_report(doc)


def test_graph_cli_on_cpu(tmp_path, capsys):
    argv = ["--device", "cpu", "--reps", "2", "--warmup", "0", "--no-progress", "--no-plot"]
    argv += ["--shapes", "4x32x64", "--timing", "graph", "--out-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["settings"]["timing"] == "graph" and doc["results"][0]["timing"] == "events"
    assert "needs a CUDA device" in capsys.readouterr().out


def test_report_reads_files_from_before_timing():
    doc = _cpu_doc("auto")
    for key in ("timing", "graph_method", "auto_threshold_us", "empty_kernel"):
        del doc["timer"][key]
    for row in doc["results"]:
        for e in row["contenders"].values():
            for key in ("timing", "events_median_us", "events_iqr_us"):
                e.pop(key, None)
    assert "timing mode" not in report.text_report(doc)
    assert report.table_rows(doc)[0][2] == "events"


def test_compare_across_timers_uses_events_medians():
    old = _cpu_doc("events")
    new = copy.deepcopy(old)
    e = new["results"][0]["contenders"]["gemm_int8"]
    e.update(timing="graph", median_us=e["median_us"] / 10, events_median_us=e["median_us"])
    b = new["results"][0]["contenders"]["torch_bf16"]
    b["median_us"] /= 2
    result = compare(old, new)
    rows = {r["contender"]: r for r in result["rows"]}
    assert rows["gemm_int8"]["ratio"] == pytest.approx(1.0)
    assert rows["gemm_int8"]["verdict"] == "same, events (events -> graph)"
    assert rows["torch_bf16"]["verdict"] == "faster"
    assert result["totals"]["gemm_int8"]["same"] == 1
    assert "same, events (events -> graph)" in compare_text(result, "a", "b")


class _Check:
    def __init__(self, ok):
        self.ok, self.detail = ok, "bit-exact" if ok else "12 mismatches"

    def as_dict(self):
        return {"ok": self.ok, "detail": self.detail}


def test_graph_phase_merges_fallbacks_and_wrong_answers(monkeypatch):
    """The graph phase's bookkeeping, with the CUDA parts replaced by stand-ins."""
    chosen = [c for c in CONTENDERS if c.name in ("torch_bf16", "gemm_int8", "torch_int64")]
    x = torch.randint(-128, 128, (4, 32), dtype=torch.int8)
    y = torch.randint(-128, 128, (16, 32), dtype=torch.int8)
    want = scaled_bf16(exact_accumulator(x, y), 0.01)
    seen = {}

    def fake_time_graphs(rings, calls, replays, device):
        seen.update(rings=rings, calls=calls, replays=replays)
        outs = {n: ring[-1]() for n, ring in rings.items()}
        times = {"torch_bf16": [2.0, 1.0, 3.0], "gemm_int8": [1.0, 1.5, 1.2]}
        return times, outs, {"torch_int64": RuntimeError("not capturable")}

    monkeypatch.setattr(graph_timing, "l2_bytes", lambda device: 3 * 4096)
    monkeypatch.setattr(graph_timing, "time_graphs", fake_time_graphs)
    settings = runner.Settings(reps=None, budget_s=0.5)
    verify = {"torch_bf16": _Check(False), "gemm_int8": _Check(True)}
    fields = graph_phase(
        chosen,
        Problem(x, y, 0.01),
        4096,
        13.0,
        settings,
        torch.device("cpu"),
        lambda out, c: verify[c.name] if torch.equal(out, want) else _Check(False),
    )
    assert len(seen["rings"]["gemm_int8"]) == 7 and seen["calls"] % 7 == 0
    assert 5 <= seen["replays"] <= 50
    g = fields["gemm_int8"]
    assert g["timing"] == "graph" and g["graph_rotation"] == 7 and g["reps"] == 3
    assert g["median_us"] == pytest.approx(1.2)
    assert fields["torch_bf16"]["status"] == "wrong"
    assert fields["torch_bf16"]["detail"].startswith("last graph call")
    fb = fields["torch_int64"]
    assert fb["timing"] == "events" and "graph capture failed" in fb["timing_note"]


def test_quantize_bandwidth_options():
    """Both timers by default; a GPU is required, and the CPU refusal is a usage error."""
    from gemm_int8.benchmark import quantize_bandwidth as qb

    assert qb._call("row", "")(torch.ones(2, 16))[0].dtype == torch.int8
    assert qb._call("row", "t")(torch.ones(2, 16)).shape == (16, 2)
    if torch.cuda.is_available():
        pytest.skip("the CPU refusal needs a machine without CUDA")
    with pytest.raises(SystemExit) as exc:
        qb.main(["--timing", "graph"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        qb.main(["--timing", "sometimes"])
