"""The Llama-3-8B block of ``gemm_int8.benchmark.layers`` and the implementations raced on it.

A *block* runs the seven Linear layers of one decoder block (q, k, v, o, gate, up,
down; no bias) with random weights and nothing between them: attention, the norms
and the SwiGLU product cost the same whatever the Linear is, so they are left out.
Each layer reads the input it has in the model: q/k/v the attention norm's output,
o the attention output, gate/up the MLP norm's output, down the SwiGLU product
(T, intermediate). Four distinct random tensors stand for them, so the
shared-quantization contender shares exactly what a real block lets it share.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from gemm_int8.benchmark.shapes import MODELS
from gemm_int8.nn import Int8Linear, fuse_siblings
from gemm_int8.ops import quantize, scaled_mm

__all__ = [
    "CONTENDERS",
    "LAYER_INPUT",
    "TINY_DIVISOR",
    "Block",
    "Contender",
    "Unavailable",
    "block_layers",
    "make_inputs",
]

# Which of the four block inputs each layer reads (see the module docstring).
LAYER_INPUT = {
    "q_proj": 0,
    "k_proj": 0,
    "v_proj": 0,
    "o_proj": 1,
    "gate_proj": 2,
    "up_proj": 2,
    "down_proj": 3,
}
TINY_DIVISOR = 64  # --tiny: every width / 64, small enough for a CPU test


def block_layers(divisor: int = 1) -> list[tuple[str, int, int]]:
    """(name, in_features, out_features) of the Llama-3-8B block's Linear layers."""
    model = MODELS["llama3-8b"]
    return [(name, k // divisor, n // divisor) for name, n, k in model.linears(fused=False)]


def make_inputs(layers, tokens: int, device, seed: int) -> tuple[torch.Tensor, ...]:
    """The block's four bf16 inputs of ``tokens`` rows, seeded by the token count."""
    widths = {}
    for name, k, _ in layers:
        widths[LAYER_INPUT[name]] = k
    gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + tokens)
    return tuple(
        torch.randn(tokens, widths[i], generator=gen, device=device).to(torch.bfloat16)
        for i in sorted(widths)
    )


class Block(nn.Module):
    """The seven layers, each called on its input; returns their outputs in order."""

    def __init__(self, layers: dict[str, nn.Module]):
        super().__init__()
        self.layers = nn.ModuleDict(layers)

    @classmethod
    @torch.no_grad()
    def random(cls, layers, device, seed: int) -> Block:
        """bf16 nn.Linear layers drawn like nn.Linear's own init, from ``seed``."""
        gen = torch.Generator(device=device).manual_seed(seed)
        mods = {}
        for name, k, n in layers:
            linear = nn.Linear(k, n, bias=False, device=device, dtype=torch.bfloat16)
            bound = 1 / math.sqrt(k)
            w = torch.rand(n, k, generator=gen, device=device) * (2 * bound) - bound
            linear.weight.copy_(w)
            mods[name] = linear
        return cls(mods).eval()

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        return [layer(inputs[LAYER_INPUT[name]]) for name, layer in self.layers.items()]


class Unavailable(Exception):
    """A contender's package is missing or does not load: its rows say so."""


@dataclass(frozen=True)
class Contender:
    name: str
    description: str
    build: Callable[[Block, torch.device], Callable]  # -> fn(inputs) -> list of outputs
    # Capture its CUDA graph in a child process: a failed capture can leave the
    # CUDA context of the process unusable (seen with bitsandbytes).
    isolate_graph: bool = False


def _bf16(block, device):
    return block


def _gemm_int8(block, device):
    return Block({n: Int8Linear.from_linear(m) for n, m in block.layers.items()}).eval()


def _gemm_int8_fused(block, device):
    fused = _gemm_int8(block, device)
    fuse_siblings(fused)
    return fused


def _gemm_int8_shared(block, device):
    layers = _gemm_int8(block, device).layers

    def forward(inputs):
        # Layers reading the same tensor share one quantize launch: what a fused
        # QKV / gate-up projection, or a quantizing norm, would give.
        quantized, outs = {}, []
        for name, layer in layers.items():
            slot = LAYER_INPUT[name]
            x = inputs[slot]
            if slot not in quantized:
                q, scale = quantize(x, "row")
                quantized[slot] = (q, scale.reshape(-1))
            q, scale = quantized[slot]
            outs.append(scaled_mm(q, layer.weight, scale, layer.weight_scale, out_dtype=x.dtype))
        return outs

    return forward


def _import(package: str, pip_name: str):
    try:
        return __import__(package)
    except Exception as exc:  # ImportError, or a wheel that fails to load its libraries
        raise Unavailable(f"{package} not importable ({exc}); pip install {pip_name}") from None


def _torchao(block, device):
    _import("torchao", "torchao==0.18.0")
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    # Each token count compiles its own static graph; without a higher limit dynamo
    # would silently fall back to eager after 8 of them.
    cfg = torch._dynamo.config
    for attr in ("recompile_limit", "cache_size_limit"):
        if hasattr(cfg, attr):
            setattr(cfg, attr, max(getattr(cfg, attr), 64))
    model = copy.deepcopy(block)
    quantize_(model, Int8DynamicActivationInt8WeightConfig())
    return torch.compile(model, dynamic=False)


def _bnb(block, device):
    bnb = _import("bitsandbytes", "bitsandbytes==0.50.2")
    # MatMul8bitLt logs a warning on every bf16 call (it casts inputs to fp16);
    # printing it would be timed. The cast itself stays: bf16 users pay it.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    mods = {}
    for name, linear in block.layers.items():
        layer = bnb.nn.Linear8bitLt(
            linear.in_features,
            linear.out_features,
            bias=False,
            has_fp16_weights=False,
            threshold=0.0,
        )
        layer.load_state_dict({"weight": linear.weight.detach().cpu()})
        mods[name] = layer.to(device)  # Int8Params quantize on the move from the CPU
    return Block(mods).eval()


CONTENDERS = [
    Contender("bf16", "torch nn.Linear in bf16 (cuBLAS): the baseline", _bf16),
    Contender(
        "gemm_int8",
        "gemm_int8.nn.Int8Linear.from_linear: quantized_linear per layer (layers reading "
        "the same tensor share its quantization)",
        _gemm_int8,
    ),
    Contender(
        "gemm_int8_fused",
        "Int8Linear as convert(model, fuse_siblings=True) makes it: q/k/v and gate/up run as "
        "one GEMM each over weights stored back to back",
        _gemm_int8_fused,
    ),
    Contender(
        "gemm_int8_shared",
        "Int8Linear weights, written by hand: one quantize per block input, then scaled_mm "
        "per layer (what Int8Linear's sharing should match)",
        _gemm_int8_shared,
    ),
    Contender(
        "torchao",
        "torchao quantize_(Int8DynamicActivationInt8WeightConfig()) + torch.compile",
        _torchao,
    ),
    Contender(
        "bnb",
        "bitsandbytes Linear8bitLt(has_fp16_weights=False, threshold=0.0)",
        _bnb,
        isolate_graph=True,
    ),
]
