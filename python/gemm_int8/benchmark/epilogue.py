"""The operands of the fused-epilogue contenders: per-token and per-channel scales, a bias."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Epilogue", "epilogue_operands"]


@dataclass
class Epilogue:
    """Per-token x_scale (M,), per-channel y_scale (N,) and bias (N,), all float32.

    ``refs`` caches the exact expected outputs (one per out dtype) for the checks.
    """

    x_scale: torch.Tensor
    y_scale: torch.Tensor
    bias: torch.Tensor
    refs: dict = field(default_factory=dict, repr=False)


def epilogue_operands(x: torch.Tensor, y: torch.Tensor, seed: int) -> Epilogue:
    """Deterministic operands for int8 x (M, K) and y (N, K): the same for a shape and seed."""
    (m, k), n, dev = x.shape, y.shape[0], x.device
    gen = torch.Generator(device=dev)
    # Seeded like the int8 inputs (integers only: str hashes vary between processes),
    # offset so the scales do not reuse the x/y stream.
    gen.manual_seed(hash((seed, m, n, k, 1)) & (2**63 - 1))

    def scales(count):
        # Quantisation-sized scales with full random mantissas, so every rounding is
        # exercised; small enough that float16 outputs stay finite up to K = 28672.
        mantissa = torch.rand(count, generator=gen, device=dev) + 0.5
        exponent = torch.randint(-10, -6, (count,), generator=gen, device=dev)
        return mantissa * torch.exp2(exponent.float())

    x_scale, y_scale = scales(m), scales(n)
    bias = torch.randn(n, generator=gen, device=dev) * 8  # comparable to the scaled products
    return Epilogue(x_scale, y_scale, bias)
