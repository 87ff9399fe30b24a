"""Exact references and bitwise comparison shared by the tests."""

from __future__ import annotations

import torch


def exact_accumulator(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """int64 x @ y.T for 2-D int8 x, y.

    float64 sums of int8 products are exact (|sum| < 2^31 < 2^53) in any
    order, so a float64 GEMM on either device is an exact int reference. Going
    through int64 drops the -0.0 a float64 GEMM can yield (e.g. -3.0 * 0.0)
    where the int32 accumulator is a plain 0.
    """
    return (x.to(torch.float64) @ y.to(torch.float64).T).to(torch.int64)


def reference_matmul(
    x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, out_dtype=torch.bfloat16
) -> torch.Tensor:
    """out_dtype((x @ y.T) as float32 * float32(alpha)), computed exactly."""
    return reference_scaled_mm(x, y, alpha=alpha, out_dtype=out_dtype)


def _wrap_int32(v: torch.Tensor) -> torch.Tensor:
    return ((v + 2**31) % 2**32 - 2**31).to(torch.int32)


def reference_scaled_mm(
    x: torch.Tensor,
    y: torch.Tensor,
    x_scale: torch.Tensor | None = None,
    y_scale: torch.Tensor | None = None,
    *,
    bias: torch.Tensor | None = None,
    x_zero_point: torch.Tensor | None = None,
    y_sums: torch.Tensor | None = None,
    alpha: float = 1.0,
    out_dtype: torch.dtype = torch.bfloat16,
) -> torch.Tensor:
    """The epilogue of epilogue_math.h for 2-D x, y, computed exactly.

    corrected = int32 wraparound of acc - zp * y_sums; s = float32(xs * ys)
    (a float64 product of two float32 is exact, so one rounding); then
    float32(float64(s) * float64(float32(corrected)) + float64(bias)): the
    product is exact in float64, so this equals fmaf except where the double
    rounding of the sum lands on a float32 tie (about 2^-29 of random cases).
    Absent bias is -0.0, as in the kernels; the last cast rounds to nearest even.
    """
    acc = exact_accumulator(x, y)
    corrected = acc
    if x_zero_point is not None:
        zp = x_zero_point.reshape(-1, 1).to(torch.int64)
        corrected = acc - zp * y_sums.reshape(1, -1).to(torch.int64)
    corrected = _wrap_int32(corrected)
    if out_dtype == torch.int32:
        return corrected
    device = acc.device
    xs = (
        torch.tensor(alpha, dtype=torch.float32, device=device)
        if x_scale is None
        else x_scale.to(device).reshape(-1, 1)
    )
    ys = torch.ones((), dtype=torch.float32) if y_scale is None else y_scale.reshape(1, -1)
    s = (xs.to(torch.float64) * ys.to(device, torch.float64)).to(torch.float32)
    b = torch.tensor(-0.0, dtype=torch.float64) if bias is None else bias.reshape(1, -1)
    v = s.to(torch.float64) * corrected.to(torch.float32).to(torch.float64)
    return (v + b.to(device, torch.float32).to(torch.float64)).to(torch.float32).to(out_dtype)


_BITS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def assert_bitwise_equal(actual: torch.Tensor, expected: torch.Tensor, what: str = "") -> None:
    """Equal bit for bit (so -0.0 vs 0.0 counts), except that any NaN matches any
    NaN (payloads are not compared); reports the first mismatch."""
    assert actual.shape == expected.shape, (
        f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    )
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    actual, expected = actual.cpu(), expected.cpu()
    bits = _BITS[actual.element_size()]
    a = actual.contiguous().view(bits)
    e = expected.contiguous().view(bits)
    mismatch = a != e
    if actual.is_floating_point():
        mismatch &= ~(actual.isnan() & expected.isnan())
    if bool(mismatch.any()):
        count = int(mismatch.sum())
        index = tuple(int(i) for i in mismatch.nonzero()[0])
        raise AssertionError(
            f"{what}: {count} of {a.numel()} elements differ; first at {index}: "
            f"got {actual[index].item()!r}, expected {expected[index].item()!r}"
        )


def random_int8(*shape: int, device: str = "cpu", generator: torch.Generator | None = None):
    return torch.randint(-128, 128, shape, dtype=torch.int8, device=device, generator=generator)
