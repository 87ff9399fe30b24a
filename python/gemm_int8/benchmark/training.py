"""``python -m gemm_int8.benchmark.training``: one training step of a Llama-3-8B MLP block.

One timed call is the forward ``y = down(silu(gate(x)) * up(x))`` (gate, up
4096->14336, down 14336->4096, no bias, bf16) and ``y.backward(dy)`` with a fixed
random ``dy``, the gradients of x and of the three weights set to None first (for
every contender alike). Timing, reports and failure handling are those of the
layers benchmark (layers.py): CUDA events with L2 flushed, contenders interleaved,
median per token count; eager calls only. y and the four gradients are checked
against the bf16 block. docs/benchmark.md has the command.
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from torch import nn

from gemm_int8.benchmark import layer_contenders as L
from gemm_int8.benchmark.layers import (  # FLAG_ABOVE re-exported: what _time flags rows above
    FLAG_ABOVE,
    _check_device,
    _failed,
    _time,
    add_common_arguments,
    add_speedups,
    build_contenders,
    document,
    finish,
    parse_command_line,
    run_head,
    run_token_counts,
    timing_setup,
)
from gemm_int8.benchmark.layers_report import package_versions
from gemm_int8.benchmark.training_report import (
    SCHEMA,
    markdown_report,
    text_report,
    wrong_rows,
)
from gemm_int8.nn import convert

__all__ = ["CONTENDERS", "FLAG_ABOVE", "MLP", "build_parser", "main", "run"]

MLP_LAYERS = ("gate_proj", "up_proj", "down_proj")


class MLP(nn.Module):
    """Llama's SwiGLU MLP: down(silu(gate(x)) * up(x))."""

    def __init__(self, gate_proj: nn.Linear, up_proj: nn.Linear, down_proj: nn.Linear):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = gate_proj, up_proj, down_proj

    @classmethod
    def random(cls, divisor: int, device, seed: int) -> MLP:
        """bf16 layers drawn like nn.Linear's init (L.Block.random), from ``seed``."""
        layers = [x for x in L.block_layers(divisor) if x[0] in MLP_LAYERS]
        block = L.Block.random(layers, device, seed)
        return cls(*(block.layers[name] for name in MLP_LAYERS)).train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def _compiled(model: nn.Module) -> nn.Module:
    # One static graph per token count, for each compiled contender (they share
    # MLP.forward's code object): raise dynamo's limit of 8 so none falls back to eager.
    cfg = torch._dynamo.config
    for attr in ("recompile_limit", "cache_size_limit"):
        if hasattr(cfg, attr):
            setattr(cfg, attr, max(getattr(cfg, attr), 64))
    return torch.compile(model, dynamic=False)


class _Accumulating(nn.Module):
    """Bumps the weights' version counters every ``every`` forwards, as an
    optimizer step after ``every`` accumulated micro-batches would (without
    the optimizer's own cost, which no contender here pays), so a layer that
    reuses its weight quantization redoes it once per ``every`` steps."""

    def __init__(self, model: nn.Module, every: int):
        super().__init__()
        self.model, self.every, self.calls = model, every, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.calls % self.every == 0:
            for p in self.model.parameters():
                torch.autograd.graph.increment_version(p)
        self.calls += 1
        return self.model(x)


def _gemm_int8(grad_weight: str, hadamard: bool = False, accumulate: int = 0):
    """convert(training=True); with ``accumulate``, weight quantization reused
    and the weights updated every ``accumulate`` steps (_Accumulating)."""

    def build(mlp, device):
        model = copy.deepcopy(mlp)
        done = convert(model, training=True, forward="int8", grad_input="int8",
                       grad_weight=grad_weight, hadamard=hadamard,
                       reuse_weight_quantization=accumulate > 0)  # fmt: skip
        assert done == list(MLP_LAYERS), done
        return _Accumulating(model, accumulate) if accumulate else model

    return build


def _torchao(mlp, device):
    L._import("torchao", "torchao==0.18.0")
    try:
        from torchao.prototype.quantized_training import int8_mixed_precision_training
        from torchao.quantization import quantize_
    except Exception as exc:
        raise L.Unavailable(f"torchao int8 mixed-precision training not found ({exc})") from None
    model = copy.deepcopy(mlp)
    # All three GEMMs int8 (the config's default). module_swap=True: in torchao 0.18 the
    # default tensor-subclass weight registers its F.linear override with `implements`,
    # which since torchao 0.15 (pytorch/ao#2866) only covers aten ops: its steps run in bf16.
    quantize_(model, int8_mixed_precision_training(module_swap=True))
    swapped = {type(m).__name__ for m in model.children()}
    if swapped != {"Int8MixedPrecisionTrainingLinear"}:
        raise RuntimeError(
            f"quantize_ left {sorted(swapped)}, not Int8MixedPrecisionTrainingLinear"
        )
    return _compiled(model)


CONTENDERS = [
    L.Contender("bf16", "torch nn.Linear in bf16, eager autograd: the baseline", lambda m, d: m),
    L.Contender(
        "bf16-compile",
        "the bf16 block under torch.compile(dynamic=False)",
        lambda m, d: _compiled(copy.deepcopy(m)),
    ),
    L.Contender(
        "int8",
        'gemm_int8.nn.convert(training=True, forward="int8", grad_input="int8", '
        'grad_weight="int8"): all three GEMMs int8',
        _gemm_int8("int8"),
    ),
    L.Contender(
        "int8-wgrad-bf16",
        'gemm_int8.nn.convert(training=True, forward="int8", grad_input="int8", '
        'grad_weight="bf16"): dW in bf16',
        _gemm_int8("bf16"),
    ),
    L.Contender(
        "int8-hadamard",
        'gemm_int8.nn.convert(training=True, ..., grad_weight="int8", hadamard=True): '
        "all three GEMMs int8 with HALO's Hadamard rotation along K",
        _gemm_int8("int8", hadamard=True),
    ),
    L.Contender(
        "int8-accum4",
        "all three GEMMs int8, reuse_weight_quantization=True, weights updated every 4th "
        "step: gradient accumulation over 4 micro-batches (time per micro-batch)",
        _gemm_int8("int8", accumulate=4),
    ),
    L.Contender(
        "torchao",
        "torchao quantize_(int8_mixed_precision_training(module_swap=True)) + "
        "torch.compile(dynamic=False): all three GEMMs int8",
        _torchao,
    ),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gemm_int8.benchmark.training",
        description="Llama-3-8B MLP block, forward + backward: gemm_int8 int8 training "
        "(Int8TrainableLinear) vs bf16 and torchao, per token count.",
    )
    add_common_arguments(p, CONTENDERS, "2048,8192", "bench_out/training")
    return p


def _step(model: nn.Module, x: torch.Tensor, dy: torch.Tensor):
    """One training step on leaf ``x``; returns [y, x.grad, the weights' grads]."""
    params = list(model.parameters())  # gate, up, down (a compiled module's are its original's)

    def step():
        x.grad = None
        for p in params:
            p.grad = None
        y = model(x)
        y.backward(dy)
        return [y.detach(), x.grad, *(p.grad for p in params)]

    return step


def _run_tokens(t, models, args, device, timer, cfg) -> dict:
    gen = torch.Generator(device=device).manual_seed(args.seed * 1_000_003 + t)
    hidden = models["bf16"].gate_proj.in_features
    x = torch.randn(t, hidden, generator=gen, device=device).to(torch.bfloat16)
    dy = torch.randn(t, hidden, generator=gen, device=device).to(torch.bfloat16)

    def leaf():  # each contender its own x, so its x.grad survives the others' calls
        return x.clone().requires_grad_()

    refs = [r.clone() for r in _step(models["bf16"], leaf(), dy)()]
    entries, ready = {}, {}
    for name, model in models.items():
        if isinstance(model, dict):  # unavailable, or failed to build
            entries[name] = dict(model)
            continue
        try:
            step = _step(model, leaf(), dy)
            step()  # the first call compiles where a contender does
            _check_device(device)
            ready[name], entries[name] = step, {"status": "ok"}
        except Exception as exc:
            _check_device(device)
            entries[name] = _failed(exc)
    if ready:
        _time(timer, ready, entries, refs, cfg)
    add_speedups(entries)
    return {"tokens": t, "mode": "eager", "contenders": entries}


def run(args, device) -> dict:
    cfg, timer = timing_setup(args, device)
    head = run_head(SCHEMA, device, {"torchao": package_versions()["torchao"]})
    mlp = MLP.random(L.TINY_DIVISOR if args.tiny else 1, device, args.seed)
    models = build_contenders(CONTENDERS, args.contenders, mlp, device)
    results, stopped = run_token_counts(
        args.tokens, lambda t: [_run_tokens(t, models, args, device, timer, cfg)], device
    )
    layers = [
        {"name": n, "in": m.in_features, "out": m.out_features} for n, m in mlp.named_children()
    ]
    return document("training", args, device, cfg, timer, head, layers, CONTENDERS,
                    results, stopped)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args, device = parse_command_line(argv, build_parser)
    doc = run(args, device)
    return finish(doc, args.out_dir, "training", markdown_report, text_report, wrong_rows)


if __name__ == "__main__":
    raise SystemExit(main())
