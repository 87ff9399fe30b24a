"""Exact references and bitwise comparison shared by the tests."""

from __future__ import annotations

import torch


def reference_matmul(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """bf16((x @ y.T) as float32 * float32(alpha)), computed exactly.

    float64 sums of int8 products are exact (|sum| < 2^31 < 2^53) in any
    order, so a float64 GEMM on either device is an exact int reference; the
    casts then round exactly as the kernels' epilogue does.
    """
    # Through int64: a float64 GEMM can yield -0.0 (e.g. -3.0 * 0.0) where the
    # int32 accumulator is a plain 0, and the sign would survive the scaling.
    acc = (x.to(torch.float64) @ y.to(torch.float64).T).to(torch.int64)
    alpha32 = torch.tensor(alpha, dtype=torch.float32, device=acc.device)
    return (acc.to(torch.float32) * alpha32).to(torch.bfloat16)


def assert_bitwise_equal(actual: torch.Tensor, expected: torch.Tensor, what: str = "") -> None:
    """Equal bit for bit (so -0.0 vs 0.0 and NaN payloads count); reports the first mismatch."""
    assert actual.shape == expected.shape, (
        f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    )
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    a = actual.contiguous().view(torch.int16)
    e = expected.contiguous().view(torch.int16)
    mismatch = a != e
    if bool(mismatch.any()):
        count = int(mismatch.sum())
        index = tuple(int(i) for i in mismatch.nonzero()[0])
        raise AssertionError(
            f"{what}: {count} of {a.numel()} elements differ; first at {index}: "
            f"got {actual[index].item()!r}, expected {expected[index].item()!r}"
        )


def random_int8(*shape: int, device: str = "cpu", generator: torch.Generator | None = None):
    return torch.randint(-128, 128, shape, dtype=torch.int8, device=device, generator=generator)
