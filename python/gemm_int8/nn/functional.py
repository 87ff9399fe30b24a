"""int8_linear: a differentiable ``x @ W.T + b`` whose three GEMMs can each run in int8.

A training step of a linear layer runs three GEMMs::

    forward      Y  = X W^T     (T, N): reduction over K (in_features)
    grad_input   dX = dY W      (T, K): reduction over N (out_features)
    grad_weight  dW = dY^T X    (N, K): reduction over T (tokens)

Each one runs either in int8 (symmetric absmax quantization of both operands
along their reduction dimension, then :func:`gemm_int8.scaled_mm`) or as the
plain float GEMM (``"bf16"``: the tensors' own dtype, as F.linear would). The
backward pass is a straight-through estimator: the quantizers are treated as
the identity, so the gradients are those of the float product, computed with
int8 operands. The master weight stays float; nothing is stored quantized
between steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gemm_int8.ops import quantize, scaled_mm

MODES = ("int8", "bf16")
_FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _check_float(t: torch.Tensor, what: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what}: expected a tensor, got {type(t).__name__}")
    if t.dtype not in _FLOAT_DTYPES:
        name = str(t.dtype).removeprefix("torch.")
        raise TypeError(f"{what}: expected float32, bfloat16 or float16, got {name}")


def check_modes(forward: str, grad_input: str, grad_weight: str) -> None:
    for name, mode in (("forward", forward), ("grad_input", grad_input),
                       ("grad_weight", grad_weight)):  # fmt: skip
        if mode not in MODES:
            raise ValueError(f"{name}: expected 'int8' or 'bf16', got {mode!r}")


def _int8_mm(a_q, a_scale, b_q, b_scale, out_dtype):
    """``a @ b.T`` from int8 a (M, R) and b (P, R) quantized along R (row scales)."""
    return scaled_mm(a_q, b_q, a_scale.reshape(-1), b_scale.reshape(-1), out_dtype=out_dtype)


class _Int8LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2d, weight, bias, forward, grad_input, grad_weight):
        # x2d: (T, K) with leading dims flattened; weight: (N, K) float master.
        ctx.modes = (grad_input, grad_weight)
        ctx.has_bias = bias is not None
        ctx.bias_dtype = bias.dtype if bias is not None else None
        ctx.save_for_backward(x2d, weight)
        if forward == "int8":
            xq, xs = quantize(x2d, "row")  # per token, along K
            wq, ws = quantize(weight, "row")  # per output channel, along K
            b = None if bias is None else bias.to(torch.float32)
            return scaled_mm(xq, wq, xs.reshape(-1), ws.reshape(-1), bias=b, out_dtype=x2d.dtype)
        dtype = x2d.dtype
        return F.linear(x2d, weight.to(dtype), None if bias is None else bias.to(dtype))

    @staticmethod
    def backward(ctx, grad_out):
        x2d, weight = ctx.saved_tensors
        grad_input, grad_weight = ctx.modes
        dy = grad_out.contiguous()  # (T, N)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            if grad_input == "int8":
                # dX[t, k] = sum_n dY[t, n] W[n, k] = scaled_mm(q(dY), q(W^T)):
                # dY per token (row, along N), W per input channel (column, along N).
                # q(W^T) is the transposed view of W's column quantization: no copy
                # here, but a strided (K, N) operand, which the kernel may stage through
                # a transposed scratch copy (a transpose-free layout is future work).
                dyq, dys = quantize(dy, "row")
                wq, ws = quantize(weight, "col")  # (N, K) int8, scales (1, K)
                dx = _int8_mm(dyq, dys, wq.t(), ws, x2d.dtype)
            else:
                dx = dy.to(x2d.dtype) @ weight.to(x2d.dtype)
        if ctx.needs_input_grad[1]:
            if grad_weight == "int8":
                # dW[n, k] = sum_t dY[t, n] X[t, k] = scaled_mm(q(dY^T), q(X^T)):
                # both quantized along the token dimension (column scales), passed as
                # transposed views (same strided-operand caveat as above).
                dyq_c, dys_c = quantize(dy, "col")  # (T, N), scales (1, N)
                xq_c, xs_c = quantize(x2d, "col")  # (T, K), scales (1, K)
                dw = _int8_mm(dyq_c.t(), dys_c, xq_c.t(), xs_c, weight.dtype)
            else:
                dtype = x2d.dtype
                dw = (dy.to(dtype).t() @ x2d).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dy.sum(0, dtype=torch.float32).to(ctx.bias_dtype)
        return dx, dw, db, None, None, None


def int8_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    forward: str = "int8",
    grad_input: str = "int8",
    grad_weight: str = "bf16",
) -> torch.Tensor:
    """``x @ weight.T + bias`` with int8 GEMMs in the forward and backward passes.

    Args:
        x: float32, bfloat16 or float16 (..., K); leading dims are flattened.
        weight: the float master weight (N, K) (any float dtype; its gradient has
            its dtype).
        bias: float (N,) or None; its gradient is dY summed over tokens in
            float32, then cast to bias's dtype.
        forward: ``"int8"``: x quantized per token, weight per output channel,
            :func:`gemm_int8.scaled_mm` with the bias fused, output in x's dtype;
            ``"bf16"``: F.linear in x's dtype.
        grad_input: ``"int8"``: dX = q(dY) per token times q(W) per input
            channel; ``"bf16"``: ``dY @ W`` in x's dtype.
        grad_weight: ``"int8"``: dW = q(dY^T) times q(X^T), both quantized per
            channel along the tokens; ``"bf16"`` (default, as the reduction over
            tokens is the most sensitive): ``dY^T @ X`` in x's dtype.

    The backward is a straight-through estimator (quantizers act as the
    identity). All scales stay on the device: no host synchronization. The
    output has x's dtype and shape (..., N); gradients have their inputs'
    dtypes.
    """
    _check_float(x, "x")
    _check_float(weight, "weight")
    check_modes(forward, grad_input, grad_weight)
    if weight.dim() != 2:
        raise ValueError(
            f"weight: expected shape (out_features, in_features), got {tuple(weight.shape)}"
        )
    out_features, in_features = weight.shape
    if x.dim() == 0 or x.shape[-1] != in_features:
        raise ValueError(
            f"x: expected shape (..., in_features={in_features}), got {tuple(x.shape)}"
        )
    if bias is not None:
        _check_float(bias, "bias")
        if bias.shape != (out_features,):
            raise ValueError(
                f"bias: expected shape (out_features={out_features},), got {tuple(bias.shape)}"
            )
    if x.device != weight.device or (bias is not None and bias.device != weight.device):
        raise ValueError(
            f"x is on {x.device} but weight is on {weight.device}"
            + ("" if bias is None else f" and bias on {bias.device}")
        )
    lead = x.shape[:-1]
    out = _Int8LinearFunction.apply(
        x.reshape(-1, in_features), weight, bias, forward, grad_input, grad_weight
    )
    return out.reshape(*lead, out_features)
