"""Tests of ``python -m gemm_int8.benchmark.layers`` (the Llama-3-8B block) on the CPU.

Nothing here judges speed; the GPU run is the command in docs/benchmark.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gemm_int8.benchmark as bench
import pytest
import torch

_SRC = Path(__file__).resolve().parents[1] / "python" / "gemm_int8" / "benchmark"
if not (Path(bench.__file__).parent / "layers.py").exists() and _SRC.is_dir():
    # An installed copy that predates these modules: take them from the source tree.
    bench.__path__.append(str(_SRC))

from gemm_int8.benchmark import layer_contenders as L  # noqa: E402
from gemm_int8.benchmark import layers, layers_graph, layers_report  # noqa: E402

TINY = ["--device", "cpu", "--tiny", "--reps", "2", "--warmup", "1"]


def _run(tmp_path, monkeypatch, *extra, missing=("torchao", "bitsandbytes")):
    for name in missing:  # None in sys.modules makes `import name` raise ImportError
        monkeypatch.setitem(sys.modules, name, None)
    rc = layers.main([*TINY, "--tokens", "1,4", "--out-dir", str(tmp_path), *extra])
    return rc, json.loads((tmp_path / "layers.json").read_text())


def test_layer_list_is_llama3_8b():
    assert L.block_layers() == [
        ("q_proj", 4096, 4096),
        ("k_proj", 4096, 1024),  # GQA: 8 KV heads of 128
        ("v_proj", 4096, 1024),
        ("o_proj", 4096, 4096),
        ("gate_proj", 4096, 14336),
        ("up_proj", 4096, 14336),
        ("down_proj", 14336, 4096),
    ]
    tiny = L.block_layers(L.TINY_DIVISOR)
    assert [(n, k * 64, o * 64) for n, k, o in tiny] == L.block_layers()


def test_block_runs_each_layer_on_its_input():
    layers_ = L.block_layers(L.TINY_DIVISOR)
    inputs = L.make_inputs(layers_, 3, torch.device("cpu"), seed=0)
    assert [tuple(x.shape) for x in inputs] == [(3, 64), (3, 64), (3, 64), (3, 224)]
    assert all(x.dtype == torch.bfloat16 for x in inputs)
    block = L.Block.random(layers_, torch.device("cpu"), seed=0)
    with torch.no_grad():
        outs = block(inputs)
    assert [tuple(o.shape) for o in outs] == [(3, n) for _, _, n in layers_]
    again = L.Block.random(layers_, torch.device("cpu"), seed=0)  # seeded: same weights
    assert torch.equal(again.layers["down_proj"].weight, block.layers["down_proj"].weight)


def test_cpu_run_writes_table_and_json(tmp_path, monkeypatch, capsys):
    rc, doc = _run(tmp_path, monkeypatch)
    assert rc == 0
    assert doc["schema"] == layers_report.SCHEMA
    assert doc["settings"]["modes"] == ["eager"]  # CUDA graphs need a GPU
    assert [(x["name"], x["in"], x["out"]) for x in doc["layers"]] == L.block_layers(64)
    assert [(r["tokens"], r["mode"]) for r in doc["results"]] == [(1, "eager"), (4, "eager")]
    for row in doc["results"]:
        c = row["contenders"]
        for name in ("bf16", "gemm_int8", "gemm_int8_fused", "gemm_int8_shared"):
            assert c[name]["status"] == "ok", c[name]
            assert c[name]["median_us"] > 0 and c[name]["speedup_vs_bf16"] > 0
            assert c[name]["rel_error"] < layers.FLAG_ABOVE and not c[name]["flagged"]
        assert c["bf16"]["rel_error"] == 0 and c["bf16"]["speedup_vs_bf16"] == 1
        assert c["torchao"]["status"] == "unavailable"
        assert "pip install torchao==0.18.0" in c["torchao"]["detail"]
        assert c["bnb"]["status"] == "unavailable"
        assert "pip install bitsandbytes==0.50.2" in c["bnb"]["detail"]
    out = capsys.readouterr()
    assert "torchao: unavailable" in out.err
    md = (tmp_path / "layers.md").read_text()
    for text in (out.out, md):
        assert "µs / block" in text and "vs bf16" in text and "rel err" in text
        assert "gemm_int8_shared" in text and "unavailable: torchao not importable" in text
        assert "1 tokens, eager: gemm_int8" in text and "torch " in text and "device:" in text
        assert "; fused siblings " in text
    assert "| 4 eager | bf16 |" in md


def test_contender_subset_keeps_bf16(tmp_path, monkeypatch):
    rc, doc = _run(tmp_path, monkeypatch, "--contenders", "gemm_int8")
    assert rc == 0
    assert [c["name"] for c in doc["contenders"]] == ["bf16", "gemm_int8"]
    assert set(doc["results"][0]["contenders"]) == {"bf16", "gemm_int8"}


def test_wrong_output_is_flagged_and_fails(tmp_path, monkeypatch, capsys):
    def doubled(block, device):
        return lambda inputs: [2 * o for o in block(inputs)]

    swapped = [
        L.Contender(c.name, c.description, doubled) if c.name == "gemm_int8" else c
        for c in L.CONTENDERS
    ]
    monkeypatch.setattr(L, "CONTENDERS", swapped)
    rc, doc = _run(tmp_path, monkeypatch, "--contenders", "gemm_int8")
    assert rc == 1
    assert doc["results"][0]["contenders"]["gemm_int8"]["flagged"]
    assert "FLAG" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["--modes", "fast"], ["--contenders", "nope"], ["--tokens", "0"], ["--tokens", "x"]]
)
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        layers.build_parser().parse_args(argv)
    assert exc.value.code == 2


def test_isolated_graph_rows_are_merged(monkeypatch):
    """The child's rows (bnb's graph) replace the parent's pending entries."""

    def fake_run(cmd, **kwargs):
        assert cmd[cmd.index("--graph-calls") + 1] == "3"  # the child captures as the parent
        out = Path(cmd[cmd.index("--out-dir") + 1])
        child = {
            "results": [
                {
                    "tokens": 8,
                    "mode": "graph",
                    "contenders": {
                        "bnb": {"status": "ok", "median_us": 50.0, "speedup_vs_bf16": 1.2}
                    },
                }
            ]
        }
        (out / "layers.json").write_text(json.dumps(child))
        return type("Done", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(layers_graph.subprocess, "run", fake_run)
    pending = {"status": "pending", "detail": "subprocess"}
    results = [
        {"tokens": t, "mode": "graph", "contenders": {"bf16": {"status": "ok"}, "bnb": pending}}
        for t in (8, 16)
    ]
    args = layers.build_parser().parse_args(["--tiny", "--graph-calls", "3"])
    layers_graph.isolated_graphs(args, torch.device("cuda", 0), results, ["bf16", "bnb"])
    assert results[0]["contenders"]["bnb"]["median_us"] == 50.0
    assert "subprocess" in results[0]["contenders"]["bnb"]["note"]
    assert results[1]["contenders"]["bnb"]["status"] == "failed"  # the child gave no row
    assert results[0]["contenders"]["bf16"] == {"status": "ok"}


def test_graph_replays_report_time_per_block_call():
    """A replay of --graph-calls block calls is timed whole and reported per call."""
    refs = [torch.ones(2, 3)]

    class FakeTimer:
        def rounds(self, fns, count):
            return {n: [80.0, 96.0] for n in fns}, {n: refs for n in fns}, 1e-3

    entries = {"gemm_int8": {"status": "ok"}}
    cfg = {"warmup": 1, "reps": 2, "budget_s": 0.1, "rep_range": (2, 2)}
    layers._time(FakeTimer(), {"gemm_int8": lambda: refs}, entries, refs, cfg, calls=8)
    assert entries["gemm_int8"]["median_us"] == pytest.approx(11.0)
    assert entries["gemm_int8"]["min_us"] == pytest.approx(10.0)
    assert layers.build_parser().parse_args([]).graph_calls == layers.GRAPH_CALLS == 8


def test_target_lines():
    def row(t, mode, ours, **others):
        c = {"gemm_int8": {"median_us": ours, "speedup_vs_bf16": 100 / ours}}
        c.update({k: {"median_us": v} if v else {"status": "failed"} for k, v in others.items()})
        return {"tokens": t, "mode": mode, "contenders": c}

    doc = {"results": [row(2048, "eager", 50, torchao=60), row(8, "graph", 60, bnb=40, torchao=0)]}
    lines = layers_report.target_lines(doc)
    assert lines[0].startswith("2048 tokens, eager: gemm_int8 2.00x bf16 (target 1.7x: met)")
    assert "1.20x faster than torchao" in lines[0]
    assert "(target 1.8x: MISSED)" in lines[1] and "0.67x faster than bnb (SLOWER)" in lines[1]
    assert "torchao: failed" in lines[1]
