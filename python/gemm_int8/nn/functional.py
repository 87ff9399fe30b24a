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

import threading
import weakref

import torch
import torch.nn.functional as F

from gemm_int8.ops import hadamard as rotate
from gemm_int8.ops import quantize, quantize_with_transpose, scaled_mm

MODES = ("int8", "bf16")
GRANULARITIES = ("row", "tensor")
_FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _check_float(t: torch.Tensor, what: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what}: expected a tensor, got {type(t).__name__}")
    if t.dtype not in _FLOAT_DTYPES:
        name = str(t.dtype).removeprefix("torch.")
        raise TypeError(f"{what}: expected float32, bfloat16 or float16, got {name}")


def check_modes(
    forward: str,
    grad_input: str,
    grad_weight: str,
    granularity: str = "row",
    hadamard=False,
    reuse_weight_quantization: bool = False,
) -> None:
    for name, mode in (("forward", forward), ("grad_input", grad_input),
                       ("grad_weight", grad_weight)):  # fmt: skip
        if mode not in MODES:
            raise ValueError(f"{name}: expected 'int8' or 'bf16', got {mode!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity: expected 'row' or 'tensor', got {granularity!r}")
    if not isinstance(hadamard, bool):
        raise TypeError(f"hadamard: expected a bool, got {type(hadamard).__name__}")
    if reuse_weight_quantization and hadamard:
        raise ValueError(
            "reuse_weight_quantization: not with hadamard=True (the rotated weight is "
            "recomputed every forward)"
        )


def _capturing(t: torch.Tensor) -> bool:
    """Whether t's CUDA stream is capturing a graph (work must then be recorded, not reused)."""
    return t.is_cuda and torch.cuda.is_current_stream_capturing()


def _current_stream(t: torch.Tensor) -> int:
    """The current stream on t's device, as a cache key part (0 on the CPU)."""
    return torch._C._cuda_getCurrentRawStream(t.get_device()) if t.is_cuda else 0


_CAPTURE_ID = torch.ops.gemm_int8._capture_id.default


def _stream_key(t: torch.Tensor) -> tuple[int, int]:
    """Where work on t runs, as a cache key part: the current stream and the CUDA
    graph capture it records into (0 if none). Captures share torch's capture
    stream, and a tensor one capture recorded holds what only that graph's
    replays write: an entry must not be reused by another capture."""
    if not t.is_cuda:
        return 0, 0
    return _current_stream(t), (_CAPTURE_ID(t) if _capturing(t) else 0)


def check_rotatable(in_features: int) -> None:
    """Raises the core's error if rows of in_features values cannot be rotated."""
    rotate(torch.zeros(1, in_features))


def _scaled(a_q, a_scale, b_q, b_scale, out_dtype, bias=None):
    """``a @ b.T`` from int8 a (M, R) and b (P, R), each quantized along R."""
    return scaled_mm(
        a_q, b_q, a_scale.reshape(-1), b_scale.reshape(-1), bias=bias, out_dtype=out_dtype
    )


def _quantize_for(t, granularity, rows: bool, transposed: bool):
    """The int8 operands of ``t`` that the step needs: (q, scale) along t's rows
    and/or (qt, qt_scale), t's transpose along its rows; None for those not needed.
    Both from one call when both are needed (t is read twice, not three times)."""
    if transposed:
        q, scale, qt, qt_scale = quantize_with_transpose(t, granularity)
        return (q, scale) if rows else None, (qt, qt_scale)
    return (quantize(t, granularity) if rows else None), None


class _LastQuantization(threading.local):
    """The last activation quantized in this thread and what was made of it, for
    the next layer that reads the same input (q, k and v; gate and up).

    Callers may pass a fresh view of the input each time (a reshape), so a hit
    is the same elements rather than the same object: the same base tensor
    (held weakly), data pointer, shape, strides and dtype, unmodified since
    (the version counter a view shares with its base), on the same CUDA stream
    and graph capture (see _stream_key), made the same way (``how``), and
    ``usable`` for this call. Callers skip it for inference tensors (no version
    counter) and under torch.compile.
    """

    key: tuple | None = None
    value: object = None

    def get(self, x: torch.Tensor, how, make, usable=None):
        """The kept value for x if there is one, else make() (kept in its place)."""
        base = x._base if x._base is not None else x
        now = (x.data_ptr(), x.shape, x.stride(), x.dtype, x._version, _stream_key(x), how)
        key = self.key
        if key is not None and key[0]() is base and key[1] == now:
            if usable is None or usable(self.value):
                return self.value
        self.value = make()
        self.key = (weakref.ref(base), now)
        return self.value

    def clear(self) -> None:
        self.key = self.value = None


# int8_linear's: the (q, scale) and (qt, qt_scale) pairs of the layer input,
# which the forward GEMM and the saved Xᵀ need alike.
_last_activation = _LastQuantization()


def _activation_quantized(x2d, granularity, rows: bool, transposed: bool):
    """_quantize_for on the layer input, shared with the layers before it that read it."""
    if torch.compiler.is_compiling() or x2d.is_inference():
        return _quantize_for(x2d, granularity, rows, transposed)
    have_rows, have_t = _last_activation.get(
        x2d,
        granularity,
        lambda: _quantize_for(x2d, granularity, rows, transposed),
        lambda v: (v[0] is not None or not rows) and (v[1] is not None or not transposed),
    )
    return (have_rows if rows else None), (have_t if transposed else None)


class _WeightQuantizations:
    """Quantized master weights kept from one forward to the next while the
    weight is unchanged: with gradient accumulation, a weight is quantized
    once per optimizer step instead of once per micro-batch.

    An entry is used only for the same tensor object at the same version
    counter (every in-place update, an optimizer step included, bumps it), on
    the same CUDA stream, with the same granularity and every part the call
    needs. Never while a CUDA graph is captured (a graph must contain the
    quantization, since its replays follow weight updates) or under
    torch.compile. An entry dies with its weight.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple] = {}

    def get(self, weight, granularity, need_rows, need_t, quantize_fn):
        if torch.compiler.is_compiling() or _capturing(weight):
            return quantize_fn()
        stream = _current_stream(weight)
        key = id(weight)
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry[0]() is weight
            and entry[1:4] == (weight._version, stream, granularity)
            and (entry[4] is not None or not need_rows)
            and (entry[5] is not None or not need_t)
        ):
            return entry[4], entry[5]
        rows, t = quantize_fn()
        ref = weakref.ref(weight, lambda _, key=key: self._entries.pop(key, None))
        self._entries[key] = (ref, weight._version, stream, granularity, rows, t)
        return rows, t


_weight_quantizations = _WeightQuantizations()


class _Int8LinearFunction(torch.autograd.Function):
    # Operand layouts: every int8 GEMM here gets both operands K-major, as
    # Hopper's 8-bit wgmma needs, straight from a quantize call:
    #   forward      Y  = q(X)  q(W)^T      X, W along K (their rows)
    #   grad_input   dX = q(dY) q(W^T)^T    dY along N (rows), W^T along N (qt of W)
    #   grad_weight  dW = q(dY^T) q(X^T)^T  both along T (qt of dY and of X)
    # The forward saves X^T and W^T already quantized (int8: half of X's
    # bf16 bytes) when the backward will need them.

    @staticmethod
    def forward(ctx, x2d, weight, bias, forward, grad_input, grad_weight, granularity, reuse):
        need_dx, need_dw = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.modes = (grad_input, grad_weight, granularity)
        ctx.has_bias = bias is not None
        ctx.bias_dtype = bias.dtype if bias is not None else None
        ctx.x_dtype, ctx.w_dtype = x2d.dtype, weight.dtype
        int8_fwd = forward == "int8"
        x_rows, x_t = _activation_quantized(
            x2d, granularity, int8_fwd, need_dw and grad_weight == "int8"
        )
        w_needs = (int8_fwd, need_dx and grad_input == "int8")
        if reuse:
            w_rows, w_t = _weight_quantizations.get(
                weight,
                granularity,
                *w_needs,
                lambda: _quantize_for(weight, granularity, any(w_needs), w_needs[1]),
            )
        else:
            w_rows, w_t = _quantize_for(weight, granularity, *w_needs)
        saved_x = x_t if x_t is not None else ((x2d,) if need_dw else ())
        saved_w = w_t if w_t is not None else ((weight,) if need_dx else ())
        ctx.save_for_backward(*saved_x, *saved_w)
        ctx.split = len(saved_x)
        if int8_fwd:
            # scaled_mm adds a float32 bias or one in the output's dtype exactly as
            # float32: cast (a copy per call) only a bias of another dtype.
            b = bias
            if b is not None and b.dtype not in (torch.float32, x2d.dtype):
                b = b.to(torch.float32)
            return _scaled(*x_rows, *w_rows, x2d.dtype, bias=b)
        dtype = x2d.dtype
        return F.linear(x2d, weight.to(dtype), None if bias is None else bias.to(dtype))

    @staticmethod
    def backward(ctx, grad_out):
        saved = ctx.saved_tensors
        saved_x, saved_w = saved[: ctx.split], saved[ctx.split :]
        grad_input, grad_weight, granularity = ctx.modes
        need_dx, need_dw = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dy = grad_out.contiguous()  # (T, N)
        dy_rows, dy_t = _quantize_for(
            dy,
            granularity,
            need_dx and grad_input == "int8",
            need_dw and grad_weight == "int8",
        )
        dx = dw = db = None
        if need_dx:
            if grad_input == "int8":
                dx = _scaled(*dy_rows, *saved_w, ctx.x_dtype)  # saved_w: W^T (K, N), scales
            else:
                dx = dy.to(ctx.x_dtype) @ saved_w[0].to(ctx.x_dtype)
        if need_dw:
            if grad_weight == "int8":
                dw = _scaled(*dy_t, *saved_x, ctx.w_dtype)  # dY^T (N, T) times X^T (K, T)
            else:
                x2d = saved_x[0]
                dw = (dy.to(x2d.dtype).t() @ x2d).to(ctx.w_dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dy.sum(0, dtype=torch.float32).to(ctx.bias_dtype)
        return dx, dw, db, None, None, None, None, None


def int8_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    forward: str = "int8",
    grad_input: str = "int8",
    grad_weight: str = "bf16",
    granularity: str = "row",
    hadamard: bool = False,
    reuse_weight_quantization: bool = False,
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
        grad_input: ``"int8"``: dX = q(dY) per token times q(W^T) per input
            channel (W^T written by the forward's quantization of W, no
            transpose); ``"bf16"``: ``dY @ W`` in x's dtype.
        grad_weight: ``"int8"``: dW = q(dY^T) times q(X^T), both quantized per
            channel along the tokens (X^T saved int8 by the forward);
            ``"bf16"`` (default, as the reduction over tokens is the most
            sensitive): ``dY^T @ X`` in x's dtype.
        granularity: ``"row"`` (default): every int8 operand has a scale per
            row along its GEMM's reduction dimension (per token, per channel);
            ``"tensor"``: one scale per operand (HALO's choice). Either way the
            scales stay on the device.
        hadamard: HALO's outlier control: x and the weight are rotated along K
            by the normalized Hadamard matrix R (:func:`gemm_int8.hadamard`;
            K = 2^k, 12, 20 or 28 times 2^k) before the GEMMs. Since R R^T = I
            the product is the same, ``(x R)(W R)^T = x W^T``, with outliers
            spread over the row before quantization; the backward GEMMs run on
            the rotated operands and the rotation is undone on dX and dW
            (``dX = dX_R R``, ``dW = dW_R R``: the autograd of the rotation).
        reuse_weight_quantization: keep the weight's int8 forms (per output
            channel and its transpose) until the weight changes (its version
            counter: an optimizer step or any in-place update), so that with
            gradient accumulation the weight is quantized once per step, not
            once per micro-batch. Costs the weight's int8 bytes twice per layer
            between forwards; never used during CUDA-graph capture or under
            torch.compile; not with ``hadamard`` (the rotated weight is a new
            tensor every forward).

    The backward is a straight-through estimator (quantizers act as the
    identity). All scales stay on the device: no host synchronization. The
    output has x's dtype and shape (..., N); gradients have their inputs'
    dtypes.
    """
    _check_float(x, "x")
    _check_float(weight, "weight")
    check_modes(forward, grad_input, grad_weight, granularity, hadamard, reuse_weight_quantization)
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
    x2d = x.reshape(-1, in_features)
    if hadamard:
        x2d, weight = rotate(x2d), rotate(weight)
    out = _Int8LinearFunction.apply(
        x2d, weight, bias, forward, grad_input, grad_weight, granularity, reuse_weight_quantization
    )
    return out.reshape(*lead, out_features)
