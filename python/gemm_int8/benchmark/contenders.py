"""What the benchmark races: one ``Contender`` entry per implementation.

Adding an op (an Int8Linear layer, ...) means adding one entry to
``CONTENDERS``: a ``make`` that turns the shared inputs into a zero-argument
callable, and an ``Expect`` saying how its output is checked against the
exact reference. Operand preparation (casts, transposes, weight packing)
happens in ``make``, outside the timed region, as it would at model load.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from gemm_int8.benchmark.epilogue import Epilogue, epilogue_operands
from gemm_int8.benchmark.failures import describe_failure

__all__ = [
    "CONTENDERS",
    "Contender",
    "Epilogue",
    "Expect",
    "Problem",
    "describe_failure",
    "FAMILIES",
    "expand_kernels",
    "kernel_contenders",
    "select",
    "table_rows",
]


@dataclass
class Problem:
    """The inputs every contender gets: int8 x (M, K), int8 y (N, K), float alpha.

    Contenders with a fused epilogue also take ``epilogue``, drawn from ``seed``
    and the shape on first use, so a shape sees the same scales whatever else runs.
    """

    x: torch.Tensor
    y: torch.Tensor
    alpha: float
    seed: int = 0
    _cache: dict = field(default_factory=dict, repr=False)
    _epilogue: Epilogue | None = field(default=None, repr=False)

    def cast(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """x and y in ``dtype``, converted once per shape and shared between contenders."""
        if dtype not in self._cache:
            self._cache[dtype] = (self.x.to(dtype), self.y.to(dtype))
        return self._cache[dtype]

    @property
    def epilogue(self) -> Epilogue:
        if self._epilogue is None:
            self._epilogue = epilogue_operands(self.x, self.y, self.seed)
        return self._epilogue


@dataclass(frozen=True)
class Expect:
    """How an output is checked.

    exact: bit-for-bit equality with the exact result; otherwise relative
        (Frobenius) error at most ``tolerance``.
    scaled: the output includes alpha (acc * alpha) rather than being the bare acc.
    epilogue: the output is x_scale[m] * y_scale[n] * acc + bias[n] over
        ``Problem.epilogue`` (alpha unused); exact means scaled_mm's rounding.
    dtype: the output dtype.
    """

    dtype: torch.dtype
    exact: bool
    scaled: bool
    tolerance: float = 1e-2
    epilogue: bool = False


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
    plain: str | None = None  # the contender this one adds work to: the report's "/ plain" ratio


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


def _gemm_int8_prepacked(p: Problem):
    import gemm_int8

    x, y, alpha = p.x, gemm_int8.prepack(p.y), p.alpha
    return lambda: gemm_int8.matmul(x, y, alpha)


def _scaled_mm(dtype: torch.dtype):
    def make(p: Problem):
        import gemm_int8

        x, y, e = p.x, p.y, p.epilogue
        return lambda: gemm_int8.scaled_mm(x, y, e.x_scale, e.y_scale, bias=e.bias, out_dtype=dtype)

    return make


def _gemm_int8_i32(p: Problem):
    import gemm_int8

    x, y = p.x, p.y
    return lambda: gemm_int8.matmul(x, y, out_dtype=torch.int32)


def _int_mm_epilogue(dtype: torch.dtype):
    def make(p: Problem):
        yt, e = p.y.t(), p.epilogue
        xs, ys, bias = e.x_scale[:, None], e.y_scale[None, :], e.bias
        return lambda: (torch._int_mm(p.x, yt) * xs * ys + bias).to(dtype)

    return make


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
_INT32_EXACT = Expect(torch.int32, exact=True, scaled=False)


def _epilogue_expect(dtype: torch.dtype, exact: bool) -> Expect:
    # Non-exact: several float32 roundings then one to dtype; a few units of the
    # last place of dtype (bf16 2**-8, fp16 2**-11) is ample, a lost bias or scale is not.
    tolerance = 1e-2 if dtype == torch.bfloat16 else 2e-3
    return Expect(dtype, exact=exact, scaled=False, tolerance=tolerance, epilogue=True)


_EPILOGUE_TEXT = "x_scale (M,) per token, y_scale (N,) per channel, bias (N,), float32"

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
        "gemm_int8_prepacked",
        "gemm_int8 prepacked",
        "gemm_int8.matmul(x, gemm_int8.prepack(y), alpha): y laid out once in rows 16 bytes "
        "apart, as a weight reused across calls is (the same as gemm_int8 when K % 16 == 0)",
        _BF16_EXACT,
        _gemm_int8_prepacked,
        math="int8",
        devices=("cuda", "cpu"),
        opt_in="prepack",
        plain="gemm_int8",
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
        _INT32_EXACT,
        _int_mm,
        math="int8",
    ),
    Contender(
        "scaled_mm_bf16",
        "gemm_int8 scaled bf16",
        f"gemm_int8.scaled_mm(x, y, x_scale, y_scale, bias=bias): {_EPILOGUE_TEXT}",
        _epilogue_expect(torch.bfloat16, exact=True),
        _scaled_mm(torch.bfloat16),
        math="int8",
        devices=("cuda", "cpu"),
        opt_in="epilogue",
        plain="gemm_int8",
    ),
    Contender(
        "scaled_mm_fp16",
        "gemm_int8 scaled fp16",
        "gemm_int8.scaled_mm as scaled_mm_bf16, with out_dtype=torch.float16",
        _epilogue_expect(torch.float16, exact=True),
        _scaled_mm(torch.float16),
        math="int8",
        devices=("cuda", "cpu"),
        opt_in="epilogue",
        plain="gemm_int8",
    ),
    Contender(
        "gemm_int8_i32",
        "gemm_int8 (i32)",
        "gemm_int8.matmul(x, y, out_dtype=torch.int32): the exact accumulator, no epilogue",
        _INT32_EXACT,
        _gemm_int8_i32,
        math="int8",
        devices=("cuda", "cpu"),
        opt_in="epilogue",
        plain="gemm_int8",
    ),
    Contender(
        "int_mm_epilogue_bf16",
        "torch._int_mm+epi bf16",
        "(torch._int_mm(x, y.T) * x_scale[:, None] * y_scale[None, :] + bias).to(bfloat16)",
        _epilogue_expect(torch.bfloat16, exact=False),
        _int_mm_epilogue(torch.bfloat16),
        math="int8",
        opt_in="epilogue",
    ),
    Contender(
        "int_mm_epilogue_fp16",
        "torch._int_mm+epi fp16",
        "int_mm_epilogue_bf16 with .to(float16) at the end",
        _epilogue_expect(torch.float16, exact=False),
        _int_mm_epilogue(torch.float16),
        math="int8",
        opt_in="epilogue",
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


FAMILIES = ("simt", "sm80", "sm90", "skinny", "gemv")  # as GEMM_INT8_FORCE_KERNEL names them
_FORCE = "GEMM_INT8_FORCE_KERNEL"


def table_rows(family: str, rows: list[str] | None = None) -> list[str]:
    """The library's kernel rows of one family, as GEMM_INT8_FORCE_KERNEL takes them."""
    rows = torch.ops.gemm_int8.kernel_configs() if rows is None else rows
    return [n for n in rows if n.startswith(family + "_")]


def expand_kernels(names: list[str]) -> list[str]:
    """``auto``, family names, row names and ``family:*`` (every row of a family, read from
    the library's table), in order, repeats dropped; anything else is a ValueError."""
    rows = torch.ops.gemm_int8.kernel_configs()
    out: list[str] = []
    for name in names:
        if name.endswith(":*") and name[:-2] in FAMILIES:
            expanded = table_rows(name[:-2], rows)
        elif name == "auto" or name in FAMILIES or name in rows:
            expanded = [name]
        else:
            raise ValueError(
                f"--kernels: unknown kernel '{name}'; accepted: auto, "
                f"{', '.join(FAMILIES)}, family:* or a row ({', '.join(rows)})"
            )
        out += [r for r in expanded if r not in out]
    return out


def _forced(row: str):
    """gemm_int8.matmul with GEMM_INT8_FORCE_KERNEL=row for the call: the planner reads
    it on every call (and in a CUDA-graph capture, so replays keep the row)."""

    def make(p: Problem):
        import gemm_int8

        x, y, alpha = p.x, p.y, p.alpha

        def call():
            saved = os.environ.get(_FORCE)
            os.environ[_FORCE] = row
            try:
                return gemm_int8.matmul(x, y, alpha)
            finally:
                if saved is None:
                    os.environ.pop(_FORCE, None)
                else:
                    os.environ[_FORCE] = saved

        return call

    return make


def kernel_contenders(names: list[str]) -> list[Contender]:
    """One gemm_int8 contender per kernel of ``names`` (see expand_kernels): the tuning
    sweeps that choose csrc/core/dispatch.cpp's boundaries."""
    return [
        Contender(
            f"gemm_int8@{row}",
            row,
            f"gemm_int8.matmul(x, y, alpha) with {_FORCE}={row}",
            _BF16_EXACT,
            _forced(row),
            math="int8",
            plain="gemm_int8",
        )
        for row in expand_kernels(names)
    ]


def select(
    device: str,
    names: list[str] | None = None,
    opt_ins: set[str] = frozenset(),
    kernels: list[str] | None = None,
):
    """Contenders that run on ``device``: all of them, or those ``names`` lists; with
    ``kernels``, one per kernel row, beside ``names`` (torch bf16 alone if not given)."""
    if kernels:
        names = names if names is not None else ["torch_bf16"]
    chosen = [c for c in CONTENDERS if device in c.devices]
    if names is not None:
        known = [c.name for c in CONTENDERS]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown contender(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        chosen = [c for c in chosen if c.name in names]
    else:
        chosen = [c for c in chosen if c.opt_in is None or c.opt_in in opt_ins]
    if kernels:
        chosen += [c for c in kernel_contenders(kernels) if device in c.devices]
    return chosen
