"""Python entry points and fake (meta) implementations of the gemm_int8 ops.

The C++ core validates real calls; the fake implementations below check only
the metadata torch.compile and FakeTensor tracing need, with the same words.
"""

from __future__ import annotations

import torch

__all__ = ["matmul"]


def matmul(
    x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """bfloat16 ``(x @ y.T) * alpha`` for int8 ``x`` (..., K) and ``y`` (N, K).

    The product accumulates exactly in int32; the accumulator is converted to
    float32, multiplied by ``alpha`` in float32 and rounded once (to nearest
    even) to bfloat16. Works on CPU and CUDA tensors of any strides.

    Args:
        x: int8 tensor of shape (..., K).
        y: int8 tensor of shape (N, K).
        alpha: finite scale applied in float32.
        out: optional bfloat16 tensor of shape (..., N) to write into.

    Returns:
        bfloat16 tensor of shape (..., N) (``out`` if given).
    """
    if out is None:
        return torch.ops.gemm_int8.matmul.default(x, y, float(alpha))
    torch.ops.gemm_int8.matmul_out.default(x, y, float(alpha), out=out)
    return out


def _check_meta(x: torch.Tensor, y: torch.Tensor) -> list:
    torch._check(x.dim() >= 1, lambda: "x: expected a tensor of shape (..., K), got a 0-d tensor")
    torch._check(
        y.dim() == 2, lambda: f"y: expected a 2-D tensor of shape (N, K), got {tuple(y.shape)}"
    )
    torch._check(x.dtype == torch.int8, lambda: f"x: expected int8, got {x.dtype}")
    torch._check(y.dtype == torch.int8, lambda: f"y: expected int8, got {y.dtype}")
    torch._check(
        x.shape[-1] == y.shape[1],
        lambda: f"K mismatch: x has K={x.shape[-1]} columns but y has {y.shape[1]}",
    )
    return [*x.shape[:-1], y.shape[0]]


@torch.library.register_fake("gemm_int8::matmul")
def _matmul_fake(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    return x.new_empty(_check_meta(x, y), dtype=torch.bfloat16)


@torch.library.register_fake("gemm_int8::matmul_out")
def _matmul_out_fake(
    x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, *, out: torch.Tensor
) -> None:
    shape = _check_meta(x, y)
    torch._check(out.dtype == torch.bfloat16, lambda: f"out: expected bfloat16, got {out.dtype}")
    torch._check(
        list(out.shape) == shape, lambda: f"out: expected shape {shape}, got {list(out.shape)}"
    )
