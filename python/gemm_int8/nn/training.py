"""Int8TrainableLinear: nn.Linear trained with int8 GEMMs (float master weight)."""

from __future__ import annotations

import torch
from torch import nn

from gemm_int8.nn.functional import _check_float, check_modes, check_rotatable, int8_linear


class Int8TrainableLinear(nn.Linear):
    """An :class:`torch.nn.Linear` whose forward and backward GEMMs run in int8.

    It keeps nn.Linear's float ``weight`` and ``bias`` Parameters (the master
    copy the optimizer updates; same ``state_dict`` as nn.Linear) and calls
    :func:`gemm_int8.nn.functional.int8_linear` with the per-GEMM options
    ``forward``, ``grad_input`` and ``grad_weight`` (each ``"int8"`` or
    ``"bf16"``), the scales' ``granularity`` (``"row"`` or ``"tensor"``) and
    ``hadamard`` (rotate x and the weight along K first: HALO's outlier
    control; in_features must be 2^k, 12, 20 or 28 times 2^k) and
    ``reuse_weight_quantization`` (quantize the weight once per optimizer step
    when gradients accumulate over several forwards).
    Nothing quantized outlives a step: each forward quantizes the weight
    afresh, in one call both ways (per output channel for the forward, its
    transpose per input channel for dX).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        forward: str = "int8",
        grad_input: str = "int8",
        grad_weight: str = "bf16",
        granularity: str = "row",
        hadamard: bool = False,
        reuse_weight_quantization: bool = False,
    ) -> None:
        check_modes(
            forward, grad_input, grad_weight, granularity, hadamard, reuse_weight_quantization
        )
        if hadamard:
            check_rotatable(in_features)
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.forward_mode = forward
        self.grad_input_mode = grad_input
        self.grad_weight_mode = grad_weight
        self.granularity = granularity
        self.hadamard = hadamard
        self.reuse_weight_quantization = reuse_weight_quantization

    @classmethod
    def from_linear(
        cls,
        linear: nn.Linear,
        *,
        forward: str = "int8",
        grad_input: str = "int8",
        grad_weight: str = "bf16",
        granularity: str = "row",
        hadamard: bool = False,
        reuse_weight_quantization: bool = False,
    ) -> Int8TrainableLinear:
        """An Int8TrainableLinear sharing linear's weight and bias Parameters (no copy:
        tied weights stay tied, and an optimizer built on them keeps working)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear: expected torch.nn.Linear, got {type(linear).__name__}")
        _check_float(linear.weight, "linear.weight")
        layer = cls(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            device="meta",
            dtype=linear.weight.dtype,
            forward=forward,
            grad_input=grad_input,
            grad_weight=grad_weight,
            granularity=granularity,
            hadamard=hadamard,
            reuse_weight_quantization=reuse_weight_quantization,
        )
        layer.weight = linear.weight
        layer.bias = linear.bias
        layer.train(linear.training)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return int8_linear(
            x,
            self.weight,
            self.bias,
            forward=self.forward_mode,
            grad_input=self.grad_input_mode,
            grad_weight=self.grad_weight_mode,
            granularity=self.granularity,
            hadamard=self.hadamard,
            reuse_weight_quantization=self.reuse_weight_quantization,
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, forward={self.forward_mode}, "
            f"grad_input={self.grad_input_mode}, grad_weight={self.grad_weight_mode}, "
            f"granularity={self.granularity}"
            + (", hadamard=True" if self.hadamard else "")
            + (", reuse_weight_quantization=True" if self.reuse_weight_quantization else "")
        )
