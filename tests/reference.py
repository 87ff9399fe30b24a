"""Exact references and bitwise comparison shared by the tests."""

from __future__ import annotations

import math

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


def _scale_shape(x: torch.Tensor, granularity: str) -> list:
    if granularity == "tensor":
        return []
    if granularity == "row":
        return [*x.shape[:-1], 1]
    return [1] * (x.dim() - 1) + [x.shape[-1]]


def _f32(t: torch.Tensor) -> torch.Tensor:
    """float64 -> float32 -> float64: one float32 rounding. For +, -, / of
    float32 operands the float64 result rounded to float32 is the correctly
    rounded float32 result (53 >= 2 * 24 + 2 bits)."""
    return t.to(torch.float32).to(torch.float64)


def _rint(t: torch.Tensor) -> torch.Tensor:
    """Round half to even, NaN -> 0 (infinities are clamped by the caller)."""
    return torch.nan_to_num(torch.round(t), nan=0.0)


def reference_quantize(x: torch.Tensor, granularity: str = "row", asymmetric: bool = False):
    """The rule of gemm_int8/quantize.h on the CPU in float64; returns (q, scale[, zp])."""
    rows = math.prod(x.shape[:-1])
    x2 = x.cpu().to(torch.float32).to(torch.float64).reshape(rows, x.shape[-1])
    dims = {"tensor": (0, 1), "row": (1,), "col": (0,)}[granularity]
    out_shape = [1 if d in dims else n for d, n in enumerate(x2.shape)]
    empty = any(x2.shape[d] == 0 for d in dims)

    def reduce(t, op):
        return (
            torch.zeros(out_shape, dtype=torch.float64) if empty else op(t, dim=dims, keepdim=True)
        )

    if not asymmetric:
        scale = _f32(reduce(x2.abs(), torch.amax) / 127)
        scale = torch.where(scale == 0, 1.0, scale)
        q = _rint(_f32(x2 / scale)).clamp(-127, 127)
        zp = None
    else:
        hi = torch.maximum(reduce(x2, torch.amax), torch.zeros(()))  # maximum keeps NaN
        lo = torch.minimum(reduce(x2, torch.amin), torch.zeros(()))
        scale = _f32(_f32(hi - lo) / 255)
        scale = torch.where(scale == 0, 1.0, scale)
        zp = (-128 - _rint(_f32(lo / scale)).clamp(-255, 0)).to(torch.int32)
        q = (_rint(_f32(x2 / scale)).clamp(-512, 512) + zp).clamp(-128, 127)
    shape = _scale_shape(x, granularity)
    result = [q.to(torch.int8).reshape(x.shape), scale.to(torch.float32).reshape(shape)]
    if asymmetric:
        result.append(zp.reshape(shape))
    return tuple(result)


def _paley_hadamard(q: int) -> list[list[int]]:
    """Paley's second construction over GF(q), q in {5, 9, 13}: a symmetric
    Hadamard matrix of order 2(q + 1) (GF(9) = GF(3)[i] with i^2 = -1)."""
    if q == 9:
        elements = [(a, b) for a in range(3) for b in range(3)]

        def sub(u, v):
            return ((u[0] - v[0]) % 3, (u[1] - v[1]) % 3)

        def mul(u, v):
            return ((u[0] * v[0] - u[1] * v[1]) % 3, (u[0] * v[1] + u[1] * v[0]) % 3)

        zero = (0, 0)
    else:
        elements = list(range(q))

        def sub(u, v):
            return (u - v) % q

        def mul(u, v):
            return (u * v) % q

        zero = 0
    squares = {mul(e, e) for e in elements if e != zero}

    def chi(e):
        return 0 if e == zero else (1 if e in squares else -1)

    n = q + 1
    conference = [[0] + [1] * q] + [[1] + [chi(sub(b, a)) for b in elements] for a in elements]
    block_c, block_i = [[1, 1], [1, -1]], [[1, -1], [-1, -1]]
    return [
        [
            conference[i // 2][j // 2] * block_c[i % 2][j % 2]
            + (block_i[i % 2][j % 2] if i // 2 == j // 2 else 0)
            for j in range(2 * n)
        ]
        for i in range(2 * n)
    ]


def reference_hadamard(x: torch.Tensor) -> torch.Tensor:
    """gemm_int8/hadamard.h's rotation in float32 with its order of operations
    (each butterfly output is one float32 add, the dense factor sums a = 0..m-1
    from +0.0), so the result is bit-exact; returns float32 of x's shape."""
    n = x.shape[-1]
    m = next((m for m in (12, 20, 28) if n % m == 0 and (n // m) & (n // m - 1) == 0), 1)
    p = n // m
    assert p & (p - 1) == 0, f"unsupported n = {n}"
    v = x.detach().cpu().to(torch.float32).reshape(-1, m, p).clone()
    h = 1
    while h < p:
        blocks = v.reshape(v.shape[0], m, p // (2 * h), 2, h)
        u, w = blocks[..., 0, :], blocks[..., 1, :]
        v = torch.stack((u + w, u - w), dim=-2).reshape(v.shape[0], m, p)
        h *= 2
    if m > 1:
        signs = _paley_hadamard({12: 5, 20: 9, 28: 13}[m])
        rows = []
        for out in range(m):
            acc = torch.zeros_like(v[:, 0, :])
            for a in range(m):
                acc = acc - v[:, a, :] if signs[out][a] < 0 else acc + v[:, a, :]
            rows.append(acc)
        v = torch.stack(rows, dim=1)
    norm = torch.tensor(1.0 / math.sqrt(n), dtype=torch.float64).to(torch.float32)
    return (v.reshape(x.shape) * norm).to(torch.float32)
