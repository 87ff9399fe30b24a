"""How an exception a contender raised reads in the table: refused or failed, and why."""

from __future__ import annotations

import re

import torch

__all__ = ["describe_failure"]


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
