"""Python entry points of the gemm_int8 ops.

The C++ core validates real calls and names the offending argument; these
wrappers only map Python arguments onto the ops (alpha's forms, out= against
out_dtype). Fake (meta) implementations for torch.compile live in _fake.py.
"""

from __future__ import annotations

import numbers

import torch

from gemm_int8 import _fake  # noqa: F401  (registers the fake implementations)

__all__ = [
    "hadamard",
    "matmul",
    "prepack",
    "quantize",
    "quantize_with_transpose",
    "row_sums",
    "scaled_mm",
]

# The op overloads, looked up once: the common calls below go straight to
# them, positionally, since the argument checks and keyword parsing cost about
# a microsecond per call of an eager decode step (docs/performance.md, "Issue
# 12 — host overhead").
_MATMUL = torch.ops.gemm_int8.matmul.default
_SCALED_MM = torch.ops.gemm_int8.scaled_mm.default


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _check_out(out: torch.Tensor, out_dtype: torch.dtype) -> None:
    if out.dtype != out_dtype:
        raise TypeError(
            f"out: expected {_name(out_dtype)}, got {_name(out.dtype)} "
            f"(out_dtype is {_name(out_dtype)}; pass out_dtype={out.dtype} to write {out.dtype})"
        )


def matmul(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float | torch.Tensor = 1.0,
    *,
    out_dtype: torch.dtype = torch.bfloat16,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(x @ y.T) * alpha`` in ``out_dtype`` for int8 ``x`` (..., K) and ``y`` (N, K).

    The product accumulates exactly in int32; the accumulator is converted to
    float32, multiplied by ``alpha`` in float32 and rounded once (to nearest
    even) to ``out_dtype``. ``out_dtype=torch.int32`` returns the exact
    accumulator (alpha must then be 1). Works on CPU and CUDA tensors of any
    strides.

    Args:
        x: int8 tensor of shape (..., K).
        y: int8 tensor of shape (N, K).
        alpha: a finite Python float or int, or a one-element float32 tensor.
            On the inputs' device it is read by the kernel (no host sync, so
            CUDA graphs see new values on replay); a CPU tensor with CUDA
            inputs is read on the host.
        out_dtype: bfloat16, float16, float32 or int32.
        out: optional tensor of ``out_dtype`` and shape (..., N) to write into.

    Returns:
        tensor of shape (..., N) (``out`` if given).
    """
    if out is None and out_dtype is torch.bfloat16 and type(alpha) is float:
        return _MATMUL(x, y, alpha)
    if isinstance(alpha, torch.Tensor):
        if alpha.dtype != torch.float32 or alpha.numel() != 1:
            raise TypeError(
                "alpha: expected a one-element float32 tensor, got "
                f"{_name(alpha.dtype)} of shape {list(alpha.shape)}"
            )
        if alpha.device != x.device and alpha.device.type != "cpu":
            raise ValueError(f"alpha is on {alpha.device} but x is on {x.device}")
        if alpha.device == x.device:
            if out_dtype == torch.int32:
                raise ValueError(
                    "alpha: int32 output is the exact accumulator; a tensor alpha needs a "
                    "floating out_dtype (bfloat16, float16 or float32)"
                )
            return scaled_mm(x, y, alpha.reshape(1), None, out_dtype=out_dtype, out=out)
        alpha = alpha.item()  # a CPU tensor: reading it does not synchronize
    elif isinstance(alpha, bool) or not isinstance(
        alpha, (numbers.Real, torch.SymFloat, torch.SymInt)
    ):
        raise TypeError(
            "alpha: expected a float, an int or a one-element float32 tensor, "
            f"got {type(alpha).__name__}"
        )
    if out is None:
        return _MATMUL(x, y, float(alpha), out_dtype=out_dtype)
    _check_out(out, out_dtype)
    torch.ops.gemm_int8.matmul_out.default(x, y, float(alpha), out=out)
    return out


def scaled_mm(
    x: torch.Tensor,
    y: torch.Tensor,
    x_scale: torch.Tensor | None,
    y_scale: torch.Tensor | None,
    *,
    bias: torch.Tensor | None = None,
    x_zero_point: torch.Tensor | None = None,
    y_sums: torch.Tensor | None = None,
    out_dtype: torch.dtype = torch.bfloat16,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scaled int8 GEMM with a fused epilogue, for int8 ``x`` (..., K) and ``y`` (N, K)::

        out[m, n] = x_scale[m] * y_scale[n] * (acc[m, n] - x_zero_point[m] * y_sums[n]) + bias[n]

    ``acc = x @ y.T`` is exact in int32; the zero-point correction wraps in
    int32; the rest is float32 (``xs * ys`` rounded once, then one fused
    multiply-add with the bias) and one rounding to ``out_dtype``. M is the
    product of x's leading dimensions. Absent operands are neutral.

    Args:
        x_scale: float32 of shape (M,), (M, 1), (1,) or (), or None.
        y_scale: float32 of shape (N,), (N, 1), (1,) or (), or None.
        bias: (N,) float32 or ``out_dtype``.
        x_zero_point: int32 (M,) or (1,); needs ``y_sums``.
        y_sums: int32 (N,), the row sums of y (see :func:`row_sums`).
        out_dtype: bfloat16, float16, float32 or int32 (int32: no scales or bias).
        out: optional tensor of ``out_dtype`` and shape (..., N) to write into.

    All tensors live on x's device; nothing is read on the host, so the call
    is capturable in CUDA graphs.
    """
    if out is None and bias is None and x_zero_point is None and y_sums is None:
        if out_dtype is torch.bfloat16:
            return _SCALED_MM(x, y, x_scale, y_scale)
        return _SCALED_MM(x, y, x_scale, y_scale, out_dtype=out_dtype)
    kwargs = {"bias": bias, "x_zero_point": x_zero_point, "y_sums": y_sums}
    if out is None:
        return _SCALED_MM(x, y, x_scale, y_scale, out_dtype=out_dtype, **kwargs)
    _check_out(out, out_dtype)
    torch.ops.gemm_int8.scaled_mm_out.default(x, y, x_scale, y_scale, out=out, **kwargs)
    return out


def prepack(y: torch.Tensor) -> torch.Tensor:
    """An int8 (N, K) operand laid out once for reuse: y's values in rows 16 bytes apart.

    The Hopper kernels read an operand in place when its base and row pitch
    are multiples of 16 bytes, whatever K is; any other layout (a contiguous
    K that is not a multiple of 16, a transposed view) is copied into padded
    workspace on every call. ``prepack`` makes that copy once, for a weight
    used across calls: the result has y's shape and values, in zero-padded
    storage whose rows are K rounded up to 16 bytes apart (a view, so
    ``.contiguous()`` undoes it). A y already laid out so is returned as is.
    :class:`gemm_int8.nn.Int8Linear` prepacks its weight.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y: expected a tensor, got {type(y).__name__}")
    if y.dtype != torch.int8:
        raise TypeError(f"y: expected int8, got {_name(y.dtype)}")
    if y.dim() != 2:
        raise ValueError(f"y: expected shape (N, K), got {tuple(y.shape)}")
    n, k = y.shape
    pitch = -(-k // 16) * 16
    rows_contiguous = k <= 1 or y.stride(1) == 1
    pitch_aligned = n <= 1 or (y.stride(0) % 16 == 0 and y.stride(0) >= k)
    if rows_contiguous and pitch_aligned and y.data_ptr() % 16 == 0:
        return y
    packed = torch.zeros((n, pitch), dtype=torch.int8, device=y.device)[:, :k]
    return packed.copy_(y)


def row_sums(y: torch.Tensor) -> torch.Tensor:
    """int32 (N,) row sums of an int8 (N, K) tensor (any strides): ``y_sums`` for scaled_mm."""
    return torch.ops.gemm_int8.row_sums.default(y)


def quantize(
    x: torch.Tensor, granularity: str = "row", *, asymmetric: bool = False, hadamard: bool = False
) -> tuple[torch.Tensor, ...]:
    """Quantizes float ``x`` (..., K) to int8: ``(q, scale)``, or ``(q, scale, zero_point)``
    when ``asymmetric``, such that ``x ~= (q - zero_point) * scale``.

    Per group (``"tensor"``: all of x; ``"row"``: each row of K values, i.e.
    per token; ``"col"``: each of the K columns), in float32 with one rounding
    per operation and round-half-to-even ``rint``::

        symmetric:  scale = max|x| / 127        q = clamp(rint(x / scale), -127, 127)
        asymmetric: lo, hi = min(min x, 0), max(max x, 0)
                    scale = (hi - lo) / 255     zp = clamp(-128 - rint(lo / scale), -128, 127)
                    q = clamp(rint(x / scale) + zp, -128, 127)

    A scale that comes out 0 (an empty or all-zero group) is 1, so q = zp
    (0 when symmetric). NaN in a group gives it a NaN scale, inf an inf
    scale (so the dequantized values are not finite either); ``rint(NaN)``
    is 0.

    Args:
        x: float32, bfloat16 or float16, at least 1-D, any strides.
        granularity: ``"tensor"``, ``"row"`` or ``"col"``.
        asymmetric: use the full [-128, 127] range with an int32 zero point.
        hadamard: quantize each row rotated by the normalized Hadamard matrix
            (:func:`hadamard`, computed in float32 and never rounded to x's
            dtype; ``"row"`` granularity only). Rotating both operands of a
            GEMM along K leaves their product unchanged and spreads outliers.

    Returns:
        q: int8 of x's shape. scale: float32 of shape () (tensor),
        (..., 1) (row) or (1, ..., 1, K) (col), broadcasting against x.
        zero_point (asymmetric only): int32 of scale's shape.

    On CUDA the scales never leave the device (no host sync; capturable in
    CUDA graphs); per-row quantization reads x once.
    """
    q, scale, zero_point = torch.ops.gemm_int8.quantize.default(
        x, granularity, asymmetric=asymmetric, hadamard=hadamard
    )
    return (q, scale, zero_point) if asymmetric else (q, scale)


def hadamard(x: torch.Tensor) -> torch.Tensor:
    """``x @ H / sqrt(n)`` along x's last dimension (n values), in x's dtype.

    ``H = H_m (x) H_p`` (Kronecker) with Sylvester's H_p (p = 2^k) and a fixed
    symmetric Hadamard matrix H_m, m in {1, 12, 20, 28}: every n = m * 2^k up
    to 32768 (4096, 5120 = 20 * 2^8, 12288 = 12 * 2^10, 14336 = 28 * 2^9).
    The rotation is orthonormal and symmetric, hence its own inverse:
    ``hadamard(hadamard(x)) ~= x`` and ``hadamard(a) @ hadamard(b).T ~= a @ b.T``.
    Computed in float32 (butterflies, then the dense factor summed in a fixed
    order, then one multiply by 1/sqrt(n)) with one rounding to x's dtype;
    the CPU and CUDA paths give the same bits. HALO's outlier control and
    rotated W8A8 inference (:func:`quantize` with ``hadamard=True``).
    """
    return torch.ops.gemm_int8.hadamard.default(x)


def _hadamard_backward(ctx, grad: torch.Tensor) -> torch.Tensor:
    # The rotation is linear, symmetric and orthonormal: its vector-Jacobian
    # product is the rotation itself.
    return torch.ops.gemm_int8.hadamard.default(grad)


torch.library.register_autograd("gemm_int8::hadamard", _hadamard_backward)


def quantize_with_transpose(
    x: torch.Tensor, granularity: str = "row"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Quantizes float ``x`` (..., K) both ways for training: ``(q, scale, qt, qt_scale)``.

    ``q, scale`` are exactly ``quantize(x, granularity)`` (symmetric). ``qt``
    is x's transpose, int8 (K, M) with M = x.numel() // K, contiguous,
    quantized along its own rows, i.e. per column of x with ``qt_scale`` (K, 1)
    for ``"row"``, or with x's one scale (shape ()) for ``"tensor"``: bit for
    bit ``quantize(x.reshape(-1, K).T, granularity)``. So ``q`` is the K-major
    operand of GEMMs that reduce over x's columns and ``qt`` of those that
    reduce over x's rows (a weight gradient ``dY.T @ X``), with no transpose
    afterwards. On CUDA x is read twice (the maxima, then both roundings) and
    nothing syncs with the host.
    """
    return torch.ops.gemm_int8.quantize_with_transpose.default(x, granularity)


def quantized_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    weight_scale: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``x @ W.T + bias`` in W8A8 int8, with ``W = weight * weight_scale[:, None]``.

    ``x`` (..., K) (float32, bfloat16 or float16) is quantized per token
    exactly as ``quantize(x, "row")`` does, multiplied by the int8 ``weight``
    (N, K) with exact int32 accumulation, and scaled by both scales in
    float32 with ``bias`` (N,) (float32 or x's dtype) added before the one
    rounding to x's dtype. The same result as::

        q, s = quantize(x, "row")
        scaled_mm(q, weight, s.reshape(-1), weight_scale, bias=bias, out_dtype=x.dtype)

    in one call: :class:`gemm_int8.nn.Int8Linear`'s forward.
    """
    return torch.ops.gemm_int8.quantized_linear.default(x, weight, weight_scale, bias)
