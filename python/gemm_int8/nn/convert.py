"""convert / unconvert: swap a model's nn.Linear layers for Int8Linear (or, for
training, Int8TrainableLinear) and back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import torch
from torch import nn

from gemm_int8.nn.functional import check_modes
from gemm_int8.nn.linear import Int8Linear
from gemm_int8.nn.siblings import fuse_siblings as _fuse_siblings
from gemm_int8.nn.training import Int8TrainableLinear

Filter = str | Iterable[str] | Callable[[str, nn.Module], bool] | None

# The output projection of a language model is the most sensitive layer and is
# often tied to the embedding, so it stays in float unless asked for.
DEFAULT_EXCLUDE = (r"(^|\.)lm_head($|\.)",)


def _matcher(spec: Filter, what: str) -> Callable[[str, nn.Module], bool]:
    if callable(spec):
        return spec
    patterns = [spec] if isinstance(spec, str) else list(spec)
    for p in patterns:
        if not isinstance(p, str):
            raise TypeError(
                f"{what}: expected a regular expression, a list of them or a callable "
                f"(name, module) -> bool, got an item of type {type(p).__name__}"
            )
    compiled = [re.compile(p) for p in patterns]
    return lambda name, _module: any(c.search(name) for c in compiled)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, new)


def convert(
    model: nn.Module,
    *,
    include: Filter = None,
    exclude: Filter = None,
    training: bool = False,
    forward: str | None = None,
    grad_input: str | None = None,
    grad_weight: str | None = None,
    granularity: str | None = None,
    hadamard: bool | None = None,
    reuse_weight_quantization: bool | None = None,
    fuse_siblings: bool = False,
) -> list[str]:
    """Replaces ``model``'s nn.Linear layers by :class:`Int8Linear`, in place, or
    with ``training=True`` by :class:`Int8TrainableLinear`.

    A layer is converted when its qualified name (as in ``named_modules()``)
    matches ``include`` and not ``exclude``. Each filter is a regular
    expression (``re.search`` on the name), a list of them, or a callable
    ``(name, module) -> bool``. ``include=None`` takes every layer;
    ``exclude=None`` leaves out layers whose name has an ``lm_head``
    component (pass ``exclude=()`` to convert those too).

    Only exact nn.Linear modules are converted: subclasses (such as
    MultiheadAttention's ``out_proj``, whose weight its parent reads directly)
    are left alone. A layer shared under several names becomes one shared
    Int8Linear.

    ``training=True`` keeps the float weights (the new layers share the
    nn.Linear's Parameters, so convert before building the optimizer or
    after, either works) and runs the forward and backward GEMMs in int8 as
    chosen by ``forward``, ``grad_input`` and ``grad_weight`` (``"int8"`` or
    ``"bf16"``; defaults ``"int8"``, ``"int8"``, ``"bf16"``) with scales per
    ``granularity`` (``"row"``, default, or ``"tensor"``), optionally with
    HALO's Hadamard rotation and with the weights quantized
    once per optimizer step under gradient accumulation
    (``reuse_weight_quantization=True``); see
    :func:`gemm_int8.nn.functional.int8_linear`. These options need
    ``training=True``.

    ``hadamard=True`` rotates each converted layer along K by the normalized
    Hadamard matrix (:func:`gemm_int8.hadamard`): rotated W8A8 for
    :class:`Int8Linear`, HALO's outlier control for training. Every converted
    layer's in_features must be 2^k, 12, 20 or 28 times 2^k (a ValueError names
    the first that is not).

    ``fuse_siblings=True`` then runs sibling layers that read the same input
    (q/k/v, gate/up) as one GEMM each: :func:`gemm_int8.nn.fuse_siblings`
    (outputs become column slices of the group's output).

    Returns:
        the names of the converted layers, in ``named_modules()`` order.
    """
    if type(model) is nn.Linear:
        raise TypeError(
            "model: convert replaces submodules in place; for a single nn.Linear use "
            "Int8Linear.from_linear"
        )
    modes = {
        "forward": forward,
        "grad_input": grad_input,
        "grad_weight": grad_weight,
        "granularity": granularity,
        "reuse_weight_quantization": reuse_weight_quantization,
    }
    if training:
        defaults = {
            "forward": "int8",
            "grad_input": "int8",
            "grad_weight": "bf16",
            "granularity": "row",
            "reuse_weight_quantization": False,
        }
        modes = {k: defaults[k] if v is None else v for k, v in modes.items()}
        modes["hadamard"] = bool(hadamard)
        check_modes(**modes)
        if fuse_siblings:
            raise ValueError("fuse_siblings: only for inference layers (training=False)")
    else:
        given = [k for k, v in modes.items() if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: only meaningful with training=True")
    wanted = _matcher(include, "include") if include is not None else None
    unwanted = _matcher(DEFAULT_EXCLUDE if exclude is None else exclude, "exclude")
    converted: dict[int, nn.Module] = {}
    names = []
    for name, module in list(model.named_modules(remove_duplicate=False)):
        if type(module) is not nn.Linear:
            continue
        if (wanted is not None and not wanted(name, module)) or unwanted(name, module):
            continue
        if id(module) not in converted:
            try:
                if training:
                    converted[id(module)] = Int8TrainableLinear.from_linear(module, **modes)
                else:
                    converted[id(module)] = Int8Linear.from_linear(module, hadamard=bool(hadamard))
            except ValueError as exc:
                if not hadamard:
                    raise
                raise ValueError(f"{name}: {exc} (exclude the layer to convert the rest)") from None
        _replace(model, name, converted[id(module)])
        names.append(name)
    if fuse_siblings:
        _fuse_siblings(model)
    return names


@torch.no_grad()
def unconvert(model: nn.Module) -> list[str]:
    """Replaces every :class:`Int8Linear` of ``model`` by an nn.Linear holding its
    dequantized weight (``weight * weight_scale``, in the layer's ``float_dtype``)
    and bias, and every :class:`Int8TrainableLinear` by an nn.Linear sharing its
    Parameters, in place. Returns the names of the replaced layers."""
    if isinstance(model, Int8Linear):
        raise TypeError(
            "model: unconvert replaces submodules in place; for a single Int8Linear use "
            "dequantize_weight()"
        )
    restored: dict[int, nn.Linear] = {}
    names = []
    for name, module in list(model.named_modules(remove_duplicate=False)):
        if isinstance(module, Int8TrainableLinear):
            if id(module) not in restored:
                linear = nn.Linear(
                    module.in_features,
                    module.out_features,
                    bias=module.bias is not None,
                    device="meta",
                    dtype=module.weight.dtype,
                )
                linear.weight = module.weight
                linear.bias = module.bias
                linear.train(module.training)
                restored[id(module)] = linear
            _replace(model, name, restored[id(module)])
            names.append(name)
            continue
        if not isinstance(module, Int8Linear):
            continue
        if id(module) not in restored:
            dtype = module.float_dtype
            linear = nn.Linear(
                module.in_features,
                module.out_features,
                bias=module.bias is not None,
                device="meta",
                dtype=dtype,
            )
            linear.weight = nn.Parameter(module.dequantize_weight(dtype))
            if module.bias is not None:
                linear.bias = nn.Parameter(module.bias.to(dtype, copy=True))
            restored[id(module)] = linear
        _replace(model, name, restored[id(module)])
        names.append(name)
    return names
