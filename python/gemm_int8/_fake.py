"""Fake (meta) implementations of the gemm_int8 ops for torch.compile.

They check only the metadata FakeTensor tracing needs (ranks, dtypes, K and
out shapes), in the core's words; real calls are validated by the C++ core.
"""

from __future__ import annotations

import math

import torch

_OUT_DTYPES = (torch.bfloat16, torch.float16, torch.float32, torch.int32)


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


def _new_out(x: torch.Tensor, y: torch.Tensor, out_dtype: torch.dtype | None) -> torch.Tensor:
    dtype = torch.bfloat16 if out_dtype is None else out_dtype
    torch._check(
        dtype in _OUT_DTYPES,
        lambda: f"out: expected bfloat16, float16, float32 or int32, got {dtype}",
    )
    return x.new_empty(_check_meta(x, y), dtype=dtype)


def _check_out(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
    shape = _check_meta(x, y)
    torch._check(
        out.dtype in _OUT_DTYPES,
        lambda: f"out: expected bfloat16, float16, float32 or int32, got {out.dtype}",
    )
    torch._check(
        list(out.shape) == shape, lambda: f"out: expected shape {shape}, got {list(out.shape)}"
    )


@torch.library.register_fake("gemm_int8::matmul")
def _matmul(x, y, alpha=1.0, *, out_dtype=None):
    return _new_out(x, y, out_dtype)


@torch.library.register_fake("gemm_int8::matmul_out")
def _matmul_out(x, y, alpha=1.0, *, out):
    _check_out(x, y, out)


@torch.library.register_fake("gemm_int8::scaled_mm")
def _scaled_mm(
    x, y, x_scale, y_scale, *, bias=None, x_zero_point=None, y_sums=None, out_dtype=None
):
    return _new_out(x, y, out_dtype)


@torch.library.register_fake("gemm_int8::scaled_mm_out")
def _scaled_mm_out(x, y, x_scale, y_scale, *, bias=None, x_zero_point=None, y_sums=None, out):
    _check_out(x, y, out)


@torch.library.register_fake("gemm_int8::row_sums")
def _row_sums(y):
    torch._check(
        y.dim() == 2, lambda: f"y: expected a 2-D tensor of shape (N, K), got {tuple(y.shape)}"
    )
    torch._check(y.dtype == torch.int8, lambda: f"y: expected int8, got {y.dtype}")
    return y.new_empty((y.shape[0],), dtype=torch.int32)


@torch.library.register_fake("gemm_int8::quantized_linear")
def _quantized_linear(x, weight, weight_scale, bias=None):
    torch._check(x.dim() >= 1, lambda: "x: expected a tensor of shape (..., K), got a 0-d tensor")
    torch._check(
        x.dtype in (torch.float32, torch.bfloat16, torch.float16),
        lambda: f"x: expected float32, bfloat16 or float16, got {x.dtype}",
    )
    torch._check(
        weight.dim() == 2 and weight.shape[1] == x.shape[-1],
        lambda: f"weight: expected shape (N, K={x.shape[-1]}), got {tuple(weight.shape)}",
    )
    torch._check(weight.dtype == torch.int8, lambda: f"weight: expected int8, got {weight.dtype}")
    return x.new_empty([*x.shape[:-1], weight.shape[0]])


@torch.library.register_fake("gemm_int8_CUDA::int8_matmul")
def _int8_matmul(A, B, alpha):  # noqa: N803  (the original schema's names)
    return _new_out(A, B, None)


_QUANTIZE_INPUTS = (torch.float32, torch.bfloat16, torch.float16)


def quantize_scale_shape(x: torch.Tensor, granularity: str) -> list:
    """The shape of quantize's scales: they broadcast against x."""
    if granularity == "tensor":
        return []
    if granularity == "row":
        return [*x.shape[:-1], 1]
    return [1] * (x.dim() - 1) + [x.shape[-1]]


@torch.library.register_fake("gemm_int8::quantize")
def _quantize(x, granularity="row", *, asymmetric=False, hadamard=False):
    torch._check(
        granularity in ("tensor", "row", "col"),
        lambda: f"granularity: expected 'tensor', 'row' or 'col', got {granularity!r}",
    )
    torch._check(
        not hadamard or granularity == "row",
        lambda: f"hadamard: a rotation needs row granularity, got {granularity}",
    )
    torch._check(x.dim() >= 1, lambda: "x: expected a tensor of shape (..., K), got a 0-d tensor")
    torch._check(
        x.dtype in _QUANTIZE_INPUTS,
        lambda: f"x: expected float32, bfloat16 or float16, got {x.dtype}",
    )
    shape = quantize_scale_shape(x, granularity)
    q = x.new_empty(x.shape, dtype=torch.int8)
    scales = x.new_empty(shape, dtype=torch.float32)
    zero_points = x.new_empty(shape, dtype=torch.int32) if asymmetric else None
    return q, scales, zero_points


@torch.library.register_fake("gemm_int8::hadamard")
def _hadamard(x):
    torch._check(x.dim() >= 1, lambda: "x: expected a tensor of shape (..., n), got a 0-d tensor")
    torch._check(
        x.dtype in _QUANTIZE_INPUTS,
        lambda: f"x: expected float32, bfloat16 or float16, got {x.dtype}",
    )
    return x.new_empty(x.shape)


@torch.library.register_fake("gemm_int8::quantize_with_transpose")
def _quantize_with_transpose(x, granularity="row"):
    torch._check(
        granularity in ("tensor", "row"),
        lambda: f"granularity: expected 'row' or 'tensor' with a transpose, got {granularity!r}",
    )
    q, scales, _ = _quantize(x, granularity)
    qt = x.new_empty((x.shape[-1], math.prod(x.shape[:-1])), dtype=torch.int8)
    qt_scales = x.new_empty(
        [] if granularity == "tensor" else [x.shape[-1], 1], dtype=torch.float32
    )
    return q, scales, qt, qt_scales


@torch.library.register_fake("gemm_int8::_capture_id")
def _capture_id(like):
    return 0  # traced code never captures: the nn caches are bypassed under torch.compile
