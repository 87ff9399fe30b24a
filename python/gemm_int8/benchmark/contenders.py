"""What the benchmark races: one ``Contender`` entry per implementation.

Adding an op (scaled_mm, an Int8Linear layer, ...) means adding one entry to
``CONTENDERS``: a ``make`` that turns the shared inputs into a zero-argument
callable, and an ``Expect`` saying how its output is checked against the
exact reference. Operand preparation (casts, transposes, weight packing)
happens in ``make``, outside the timed region, as it would at model load.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["CONTENDERS", "Contender", "Expect", "Problem", "describe_failure", "select"]


@dataclass
class Problem:
    """The inputs every contender gets: int8 x (M, K), int8 y (N, K), float alpha."""

    x: torch.Tensor
    y: torch.Tensor
    alpha: float
    _cache: dict = field(default_factory=dict, repr=False)

    def cast(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """x and y in ``dtype``, converted once per shape and shared between contenders."""
        if dtype not in self._cache:
            self._cache[dtype] = (self.x.to(dtype), self.y.to(dtype))
        return self._cache[dtype]


@dataclass(frozen=True)
class Expect:
    """How an output is checked.

    exact: bit-for-bit equality with the exact result; otherwise relative
        (Frobenius) error at most ``tolerance``.
    scaled: the output includes alpha (acc * alpha) rather than being the bare acc.
    dtype: the output dtype.
    """

    dtype: torch.dtype
    exact: bool
    scaled: bool
    tolerance: float = 1e-2


@dataclass(frozen=True)
class Contender:
    name: str  # key in the JSON and for --contenders
    label: str  # table column text
    description: str
    expect: Expect
    make: Callable[[Problem], Callable[[], torch.Tensor]]
    math: str | None  # "int8" / "bf16": which dense peak "% peak" refers to
    devices: tuple[str, ...] = ("cuda",)
    baseline: bool = False  # the one "vs bf16" speedups divide by
    opt_in: str | None = None  # run only when this CLI flag is given (e.g. "compile")


def _bf16(p: Problem):
    xb, yb = p.cast(torch.bfloat16)
    yt = yb.t()
    return lambda: torch.matmul(xb, yt)


def _int_mm(p: Problem):
    yt = p.y.t()  # column-major (K, N): the layout cuBLASLt's int8 path wants
    return lambda: torch._int_mm(p.x, yt)


def _int_mm_scaled(p: Problem):
    yt, alpha = p.y.t(), p.alpha
    return lambda: (torch._int_mm(p.x, yt).float() * alpha).to(torch.bfloat16)


def _gemm_int8(p: Problem):
    import gemm_int8

    x, y, alpha = p.x, p.y, p.alpha
    return lambda: gemm_int8.matmul(x, y, alpha)


def _compiled(p: Problem):
    import torch._dynamo

    # Each shape compiles afresh: dynamo's per-function recompile limit would
    # otherwise silently fall back to eager after a handful of shapes.
    torch._dynamo.reset()
    alpha = p.alpha  # a closure constant, so inductor sees a literal, not a graph input

    def int_mm_scale_cast(x, yt):
        return (torch._int_mm(x, yt).float() * alpha).to(torch.bfloat16)

    fn = torch.compile(int_mm_scale_cast, mode="max-autotune-no-cudagraphs", dynamic=False)
    yt = p.y.t()
    return lambda: fn(p.x, yt)


def _int64(p: Problem):
    x64, y64 = p.cast(torch.int64)
    yt, alpha = y64.t(), p.alpha
    return lambda: ((x64 @ yt).to(torch.float32) * alpha).to(torch.bfloat16)


_BF16_EXACT = Expect(torch.bfloat16, exact=True, scaled=True)

CONTENDERS: list[Contender] = [
    Contender(
        "torch_bf16",
        "torch bf16",
        "torch.matmul on x.bfloat16() @ y.bfloat16().T (cuBLAS); casts done beforehand",
        Expect(torch.bfloat16, exact=False, scaled=False),
        _bf16,
        math="bf16",
        devices=("cuda", "cpu"),
        baseline=True,
    ),
    Contender(
        "gemm_int8",
        "gemm_int8",
        "gemm_int8.matmul(x, y, alpha): this library",
        _BF16_EXACT,
        _gemm_int8,
        math="int8",
        devices=("cuda", "cpu"),
    ),
    Contender(
        "int_mm_scaled",
        "torch._int_mm+scale",
        "(torch._int_mm(x, y.T).float() * alpha).to(bfloat16): plain PyTorch",
        _BF16_EXACT,
        _int_mm_scaled,
        math="int8",
    ),
    Contender(
        "compiled",
        "torch.compile",
        'torch.compile(mode="max-autotune-no-cudagraphs") of _int_mm + scale + cast (Triton)',
        _BF16_EXACT,
        _compiled,
        math="int8",
        opt_in="compile",
    ),
    Contender(
        "int_mm",
        "torch._int_mm (i32)",
        "torch._int_mm(x, y.T) alone, int32 output (cuBLASLt)",
        Expect(torch.int32, exact=True, scaled=False),
        _int_mm,
        math="int8",
    ),
    Contender(
        "torch_int64",
        "torch int64",
        "((x.long() @ y.long().T).float() * alpha).to(bfloat16); casts done beforehand",
        _BF16_EXACT,
        _int64,
        math=None,
        devices=("cpu",),
    ),
]


def select(device: str, names: list[str] | None = None, opt_ins: set[str] = frozenset()):
    """Contenders that run on ``device``: all of them, or those ``names`` lists."""
    chosen = [c for c in CONTENDERS if device in c.devices]
    if names is not None:
        known = [c.name for c in CONTENDERS]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown contender(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        return [c for c in chosen if c.name in names]
    return [c for c in chosen if c.opt_in is None or c.opt_in in opt_ins]


# Messages of torch._int_mm's shape checks (aten/src/ATen/native/cuda/Blas.cpp) -> table text.
_KNOWN_REFUSALS = [
    (re.compile(r"self\.size\(0\) needs to be greater than 16"), "M<=16"),
    (re.compile(r"self\.size\(1\) needs to be greater than 0 and a multiple of 8"), "K%8!=0"),
    (re.compile(r"mat2\.size\(1\) needs to be greater than 0 and a multiple of 8"), "N%8!=0"),
    (re.compile(r"CUBLAS_STATUS_NOT_SUPPORTED"), "cuBLAS: not supported"),
]


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(status, short reason) for an exception a contender raised on its first call.

    "refused" is an op declining the shape or arguments (a synchronous check);
    "failed" is anything else (out of memory, a CUDA fault, a compile error).
    """
    text = str(exc).strip()
    for pattern, reason in _KNOWN_REFUSALS:
        if pattern.search(text):
            return "refused", reason
    if isinstance(exc, torch.OutOfMemoryError):
        return "failed", "out of memory"
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first if len(first) <= 80 else first[:77] + "..."
    if "CUDA error" in text or type(exc).__name__ == "AcceleratorError":
        return "failed", first
    if type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
        return "failed", f"compile: {first}"
    if isinstance(exc, (RuntimeError, ValueError, TypeError, NotImplementedError)):
        return "refused", first
    return "failed", f"{type(exc).__name__}: {first}"
