"""Tests of ``python -m gemm_int8.benchmark.training`` (a Llama-3-8B MLP step) on the CPU.

Nothing here judges speed; the GPU run is the command in docs/benchmark.md.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import gemm_int8.benchmark as bench
import pytest
import torch

_SRC = Path(__file__).resolve().parents[1] / "python" / "gemm_int8" / "benchmark"
if not (Path(bench.__file__).parent / "training.py").exists() and _SRC.is_dir():
    # An installed copy that predates these modules: take them from the source tree.
    bench.__path__.append(str(_SRC))

from gemm_int8.benchmark import layer_contenders as L  # noqa: E402
from gemm_int8.benchmark import training, training_report  # noqa: E402

# bf16-compile is left out: compiling on the CPU takes longer than the rest together.
FAST = "bf16,int8,int8-wgrad-bf16,int8-hadamard,int8-accum4,torchao"
TINY = ["--device", "cpu", "--tiny", "--reps", "2", "--warmup", "1"]


def _run(tmp_path, monkeypatch, *extra):
    monkeypatch.setitem(sys.modules, "torchao", None)  # `import torchao` raises ImportError
    argv = [*TINY, "--tokens", "16,64", "--out-dir", str(tmp_path), "--contenders", FAST, *extra]
    rc = training.main(argv)
    return rc, json.loads((tmp_path / "training.json").read_text())


def test_mlp_is_llama3_8b_and_seeded():
    full = [x for x in L.block_layers() if x[0] in training.MLP_LAYERS]
    assert full == [
        ("gate_proj", 4096, 14336),
        ("up_proj", 4096, 14336),
        ("down_proj", 14336, 4096),
    ]
    mlp = training.MLP.random(L.TINY_DIVISOR, torch.device("cpu"), seed=0)
    assert [(n, m.in_features, m.out_features) for n, m in mlp.named_children()] == [
        (n, k // 64, o // 64) for n, k, o in full
    ]
    assert all(p.dtype == torch.bfloat16 and p.requires_grad for p in mlp.parameters())
    x = torch.randn(5, 64, dtype=torch.bfloat16)
    assert mlp(x).shape == (5, 64)
    again = training.MLP.random(L.TINY_DIVISOR, torch.device("cpu"), seed=0)
    assert torch.equal(again.down_proj.weight, mlp.down_proj.weight)


def test_step_starts_from_no_gradients():
    """Each call sets the grads to None first: repeated calls do not accumulate."""
    mlp = training.MLP.random(L.TINY_DIVISOR, torch.device("cpu"), seed=0)
    x = torch.randn(8, 64, dtype=torch.bfloat16, requires_grad=True)
    dy = torch.randn(8, 64, dtype=torch.bfloat16)
    step = training._step(mlp, x, dy)
    first = [t.clone() for t in step()]
    second = step()
    assert len(first) == 5  # y, x.grad, gate, up and down weight grads
    assert [tuple(t.shape) for t in first[2:]] == [(224, 64), (224, 64), (64, 224)]
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_cpu_run_writes_table_and_json(tmp_path, monkeypatch, capsys):
    rc, doc = _run(tmp_path, monkeypatch)
    assert rc == 0
    assert doc["schema"] == training_report.SCHEMA
    assert [(x["name"], x["in"], x["out"]) for x in doc["layers"]] == [
        ("gate_proj", 64, 224),
        ("up_proj", 64, 224),
        ("down_proj", 224, 64),
    ]
    assert [r["tokens"] for r in doc["results"]] == [16, 64]
    for row in doc["results"]:
        c = row["contenders"]
        for name in ("bf16", "int8", "int8-wgrad-bf16"):
            assert c[name]["status"] == "ok", c[name]
            assert c[name]["median_us"] > 0 and c[name]["speedup_vs_bf16"] > 0
            assert c[name]["rel_error"] < training.FLAG_ABOVE and not c[name]["flagged"]
        assert c["bf16"]["rel_error"] == 0 and c["bf16"]["speedup_vs_bf16"] == 1
        assert 0 < c["int8"]["rel_error"]  # int8 really ran: not the bf16 path
        assert c["torchao"]["status"] == "unavailable"
        assert "pip install torchao==0.18.0" in c["torchao"]["detail"]
    out = capsys.readouterr()
    assert "torchao: unavailable" in out.err
    md = (tmp_path / "training.md").read_text()
    for text in (out.out, md):
        assert "µs / step" in text and "vs bf16" in text and "rel err" in text
        assert "int8-wgrad-bf16" in text and "unavailable: torchao not importable" in text
        assert "torch " in text and "device:" in text and "date:" in text
    assert "| 64 eager | bf16 |" in md


def test_contender_subset_keeps_bf16(tmp_path, monkeypatch):
    rc, doc = _run(tmp_path, monkeypatch, "--contenders", "int8", "--tokens", "8")
    assert rc == 0
    assert [c["name"] for c in doc["contenders"]] == ["bf16", "int8"]
    assert set(doc["results"][0]["contenders"]) == {"bf16", "int8"}


def test_wrong_gradients_are_flagged_and_fail(tmp_path, monkeypatch, capsys):
    class Doubled(torch.nn.Module):  # right y, twice the gradients
        def __init__(self, mlp):
            super().__init__()
            self.mlp = mlp

        def forward(self, x):
            y = self.mlp(x)
            return y + (y - y.detach())

    swapped = [
        L.Contender(c.name, c.description, lambda m, d: Doubled(copy.deepcopy(m)))
        if c.name == "int8"
        else c
        for c in training.CONTENDERS
    ]
    monkeypatch.setattr(training, "CONTENDERS", swapped)
    rc, doc = _run(tmp_path, monkeypatch, "--contenders", "int8", "--tokens", "8")
    assert rc == 1
    assert doc["results"][0]["contenders"]["int8"]["flagged"]
    assert "FLAG" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--contenders", "nope"], ["--tokens", "0"], ["--tokens", "x"]])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        training.build_parser().parse_args(argv)
    assert exc.value.code == 2
