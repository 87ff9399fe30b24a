"""Int8Linear: nn.Linear with an int8 weight and per-token int8 activations."""

from __future__ import annotations

import math

import torch
from torch import nn

from gemm_int8.nn.functional import (
    _capturing,
    _last_activation,
    _LastQuantization,
    check_rotatable,
)
from gemm_int8.ops import hadamard as rotate
from gemm_int8.ops import prepack, quantize

# The op overloads, looked up once (a decode step calls them per layer).
_SCALED_MM = torch.ops.gemm_int8.scaled_mm.default
_QUANTIZED_LINEAR = torch.ops.gemm_int8.quantized_linear.default
_FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# Eagerly, up to this many rows (tokens) each layer calls quantized_linear: one
# op per layer, which quantizes inside its GEMM for one or two rows and
# launches quantize + GEMM from the one call above that. Eager decode is
# host-bound, and a quantization shared between layers costs more Python-level
# ops than it saves launches there (H200, Llama-3-8B block, eager, 8..128
# tokens: 0.77-0.85x bf16 shared, 0.95-1.09x one op per layer;
# docs/performance.md, "Issue 10 — sibling layers as one GEMM"). Above it, and
# while a CUDA graph is captured, layers reading the same tensor share one
# quantize launch.
_EAGER_ONE_OP_ROWS = 128


def _check_float(dtype: torch.dtype, what: str) -> None:
    if dtype not in _FLOAT_DTYPES:
        name = str(dtype).removeprefix("torch.")
        raise TypeError(f"{what}: expected float32, bfloat16 or float16, got {name}")


# Int8Linear's: the (q, per-token scale) of the layer input (functional._LastQuantization).
_last_input = _LastQuantization()


def _shared_quantization(x: torch.Tensor, hadamard: bool) -> tuple[torch.Tensor, torch.Tensor]:
    def make():
        q, scale = quantize(x, "row", hadamard=hadamard)
        return q, scale.view(-1)

    return _last_input.get(x, hadamard, make)


def clear_quantization_cache() -> None:
    """Drops the quantized activation that Int8Linear layers (and int8_linear in
    training) keep for the next layer reading the same input (this thread)."""
    _last_input.clear()
    _last_activation.clear()


class Int8Linear(nn.Module):
    """A drop-in for :class:`torch.nn.Linear` computing ``x @ W.T + b`` in int8 (W8A8).

    The weight is stored as int8 (N, K) with one float32 scale per output
    channel (symmetric absmax, :func:`gemm_int8.quantize` per row): half the
    bytes of bfloat16. Each call quantizes ``x`` per token (per row of K
    values) and runs :func:`gemm_int8.scaled_mm` with both scales and the
    float32 bias fused; the output has x's dtype (float32, bfloat16 or
    float16) and x's leading dimensions.

    Buffers (all in ``state_dict``): ``weight`` int8 (N, K), ``weight_scale``
    float32 (N,), ``bias`` float32 (N,) or None. ``.to(dtype)`` leaves them
    as they are (only ``.to(device)`` moves them); the input's dtype picks the
    output's.

    ``dtype`` is the float dtype of the layer this one stands for: the one
    :meth:`dequantize_weight` and :func:`gemm_int8.nn.unconvert` return.

    Eagerly, up to 128 rows (tokens), each call is one
    :func:`gemm_int8.quantized_linear` op (eager decode is host-bound: the
    fewest ops win). Above that, and while a CUDA graph is captured, layers
    called on the same tensor in a row (q, k, v; gate, up) quantize it
    once: the last quantized input is kept per thread (not under
    ``torch.compile``, which merges the duplicate work itself, nor for
    inference tensors); :func:`gemm_int8.nn.clear_quantization_cache` frees
    it. Set ``share_input_quantization = False`` on a layer to opt out.
    :func:`gemm_int8.nn.fuse_siblings` goes further: such layers run one GEMM.

    ``hadamard=True`` stores the weight rotated along K by the normalized
    Hadamard matrix R (:func:`gemm_int8.hadamard`; in_features must be 2^k,
    12, 20 or 28 times 2^k) and quantizes each activation row rotated the same
    way (``quantize(x, hadamard=True)``): since R R^T = I the product is the
    same, with activation outliers spread over the row before rounding
    (QuaRot-style W8A8). Such a layer has one more buffer, ``hadamard_rotation``
    (a bool), so that its state_dict does not load into a plain layer or back.
    """

    share_input_quantization = True
    # Set by gemm_int8.nn.fuse_siblings: the SiblingGroup this layer's buffers are views of.
    _siblings = None
    _sibling_index = 0

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        hadamard: bool = False,
    ) -> None:
        super().__init__()
        if dtype is not None:
            _check_float(dtype, "dtype")
        if hadamard:
            check_rotatable(in_features)
        self.hadamard = hadamard
        self.in_features = in_features
        self.out_features = out_features
        self.float_dtype = dtype or torch.get_default_dtype()
        shape = (out_features, in_features)
        self.register_buffer("weight", prepack(torch.empty(shape, dtype=torch.int8, device=device)))
        self.register_buffer(
            "weight_scale", torch.empty(out_features, dtype=torch.float32, device=device)
        )
        bias_tensor = torch.empty(out_features, dtype=torch.float32, device=device)
        self.register_buffer("bias", bias_tensor if bias else None)
        if hadamard:
            self.register_buffer(
                "hadamard_rotation", torch.ones((), dtype=torch.bool, device=device)
            )
        if self.weight.device.type != "meta":
            self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """nn.Linear's initialization, quantized."""
        weight = torch.empty(self.weight.shape, dtype=torch.float32, device=self.weight.device)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        self.set_weight(weight)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    @torch.no_grad()
    def set_weight(self, weight: torch.Tensor) -> None:
        """Quantizes a float (out_features, in_features) weight into this layer."""
        if weight.shape != self.weight.shape:
            raise ValueError(
                f"weight: expected shape {tuple(self.weight.shape)}, got {tuple(weight.shape)}"
            )
        q, scale = quantize(weight.detach().to(self.weight.device), "row", hadamard=self.hadamard)
        self.weight.copy_(q)
        self.weight_scale.copy_(scale.reshape(-1))

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, hadamard: bool = False) -> Int8Linear:
        """An Int8Linear on linear's device holding its quantized weight and float32 bias
        (with ``hadamard``, the weight rotated along K before quantizing)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear: expected torch.nn.Linear, got {type(linear).__name__}")
        weight = linear.weight
        _check_float(weight.dtype, "linear.weight")
        layer = cls(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            device="meta",
            dtype=weight.dtype,
            hadamard=hadamard,
        )
        with torch.no_grad():
            q, scale = quantize(weight.detach(), "row", hadamard=hadamard)
            if hadamard:
                layer.hadamard_rotation = torch.ones((), dtype=torch.bool, device=q.device)
            layer.weight = prepack(q)
            layer.weight_scale = scale.reshape(-1)
            if linear.bias is not None:
                layer.bias = linear.bias.detach().to(torch.float32, copy=True)
        return layer

    def dequantize_weight(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The float weight this layer multiplies by: weight * weight_scale[:, None]
        (rotated back along K for a ``hadamard`` layer)."""
        weight = self.weight.to(torch.float32) * self.weight_scale[:, None]
        if self.hadamard:
            weight = rotate(weight)
        return weight.to(dtype or self.float_dtype)

    @property
    def siblings(self):
        """The :class:`gemm_int8.nn.SiblingGroup` this layer was fused into, or None;
        calling it on x returns every member's output from one GEMM."""
        return self._siblings

    def _check_input(self, x: torch.Tensor) -> None:
        weight = self._buffers["weight"]
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"x: expected shape (..., in_features={self.in_features}), got {tuple(x.shape)}"
            )
        if x.device != weight.device:
            raise ValueError(
                f"x is on {x.device} but the layer's weight is on {weight.device}; "
                "move one of them with .to()"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The buffers straight from _buffers: Module.__getattr__ costs about a
        # microsecond per access, a real share of a decode layer's host time.
        buffers = self._buffers
        self._check_input(x)
        group = self._siblings
        if group is not None and not torch.compiler.is_compiling():
            out = group.forward(self, x)
            if out is not None:
                return out
        return self._multiply(x, buffers["weight"], buffers["weight_scale"], buffers["bias"])

    def _multiply(self, x, weight, weight_scale, bias) -> torch.Tensor:
        """x @ weight.T with this layer's quantization of x (weight may be a sibling group's)."""
        if (
            self.share_input_quantization
            and not torch.compiler.is_compiling()  # first: dynamo cannot trace _capturing
            and (x.numel() > _EAGER_ONE_OP_ROWS * self.in_features or _capturing(x))
            and x.dtype in _FLOAT_DTYPES
            and not x.is_inference()
        ):
            q, scale = _shared_quantization(x, self.hadamard)
        elif self.hadamard:  # quantized_linear has no rotation: quantize, then scaled_mm
            q, scale = quantize(x, "row", hadamard=True)
            scale = scale.reshape(-1)
        else:
            return _QUANTIZED_LINEAR(x, weight, weight_scale, bias)
        return _SCALED_MM(q, weight, scale, weight_scale, bias=bias, out_dtype=x.dtype)

    def _apply(self, fn, recurse=True):
        # Module.to(dtype) would cast the float32 scales and bias; keep their
        # dtype and apply only the device part of the conversion.
        def keep_dtype(t: torch.Tensor) -> torch.Tensor:
            out = fn(t)
            return out if out.dtype == t.dtype else t.to(device=out.device)

        module = super()._apply(keep_dtype, recurse)
        # A moved copy of the prepacked weight comes back contiguous.
        self.weight = prepack(self.weight)
        if self._siblings is not None:
            self._siblings.drop_if_stale()
        return module

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        # A buffer that does not own its storage (a prepacked weight's padded
        # rows, a sibling group's rows) is saved as a contiguous tensor of its
        # own: safetensors takes neither padding nor tensors sharing memory.
        # Loading copies into the buffer as it is.
        for name in ("weight", "weight_scale", "bias"):
            t = destination.get(prefix + name)
            if t is not None and t.untyped_storage().nbytes() != t.nbytes:
                destination[prefix + name] = t.clone(memory_format=torch.contiguous_format)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        weight = state_dict.get(prefix + "weight")
        if weight is not None and weight.dtype != torch.int8:
            name = str(weight.dtype).removeprefix("torch.")
            raise TypeError(
                f"{prefix}weight: expected an int8 weight, got {name}; to quantize a "
                "float nn.Linear use Int8Linear.from_linear or gemm_int8.nn.convert"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.weight = prepack(self.weight)  # load_state_dict(assign=True) puts in the loaded one
        if self._siblings is not None:
            self._siblings.drop_if_stale()

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, weight=int8 per-channel, activations=int8 per-token"
            + (", hadamard=True" if self.hadamard else "")
            + (
                f", one GEMM with {len(self._siblings.members) - 1} sibling(s)"
                if self._siblings is not None
                else ""
            )
        )
