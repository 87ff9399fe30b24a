"""The exact reference and the check every contender's output goes through.

The reference never uses an int8 GEMM (the things under test): it multiplies
in float32 over K-slices of at most 1024 and sums the slices in float64.
With |x|, |y| <= 128 every product is at most 2**14, so every partial sum of
a slice is an integer of magnitude <= 1024 * 2**14 = 2**24, which float32
holds exactly whatever order, blocking or TF32 mode the BLAS uses; the float64
total (< 2**53) is exact as well. That keeps the reference exact and fast on
any device, including GPUs with little float64 throughput.

The fused-epilogue contenders are held to scaled_mm's contract, computed
exactly from that accumulator (``scaled_epilogue``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gemm_int8.benchmark.contenders import Epilogue, Expect

__all__ = ["Check", "check_output", "exact_accumulator", "scaled_bf16", "scaled_epilogue"]

_K_SLICE = 1024  # 1024 * 128 * 128 = 2**24: the largest slice float32 sums exactly
_CHUNK_BYTES = 1 << 30  # bounds the temporaries of one row block


def exact_accumulator(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """float64 (M, N) holding the exact integer x @ y.T for int8 x (M, K), y (N, K)."""
    m, k = x.shape
    n = y.shape[0]
    # Accumulating into +0.0 also normalises any -0.0 a BLAS returns for an all-zero
    # dot product (+0 + -0 = +0), so a zero sum reads +0 as the int32 path gives it.
    acc = torch.zeros((m, n), dtype=torch.float64, device=x.device)
    yf = y.to(torch.float32)
    rows = max(1, min(m, _CHUNK_BYTES // max(1, 12 * n + 4 * k)))
    for r0 in range(0, m, rows):
        xf = x[r0 : r0 + rows].to(torch.float32)
        block = acc[r0 : r0 + rows]
        for k0 in range(0, k, _K_SLICE):
            part = xf[:, k0 : k0 + _K_SLICE] @ yf[:, k0 : k0 + _K_SLICE].t()
            block += part.to(torch.float64)
    return acc


def scaled_bf16(acc: torch.Tensor, alpha: float) -> torch.Tensor:
    """The library's contract: float32(acc) * float32(alpha), rounded once to bfloat16.

    float64 -> float32 rounds the exact integer to nearest even, as int32 ->
    float32 does, so this equals the int32 path bit for bit.
    """
    alpha32 = torch.tensor(alpha, dtype=torch.float32, device=acc.device)
    return (acc.to(torch.float32) * alpha32).to(torch.bfloat16)


def scaled_epilogue(acc, x_scale, y_scale, bias, dtype: torch.dtype) -> torch.Tensor:
    """scaled_mm's contract: fmaf(float32(xs * ys), float32(acc), bias), rounded to ``dtype``.

    The float32 product of two float32 is exact in float64, so the fma's only
    rounding is that of the sum. A float64 sum rounded again to float32 would
    round twice (wrong on ties, ~2**-29 of cases: some per large shape), so the
    sum is rounded to odd instead (Boldo & Melquiond): exact float64 sum error by
    TwoSum, and an inexact result with an even last bit moved one ulp toward the
    exact value. 53 >= 24 + 2 bits makes the float32 rounding of that correct.
    """
    m, n = acc.shape
    out = torch.empty((m, n), dtype=dtype, device=acc.device)
    xs, ys, c = x_scale.double()[:, None], y_scale.double()[None, :], bias.double()[None, :]
    rows = max(1, min(m, _CHUNK_BYTES // (64 * max(1, n))))
    for r0 in range(0, m, rows):
        s = (xs[r0 : r0 + rows] * ys).float().double()  # float32(xs * ys): one rounding
        # float64 -> float32 rounds the exact integer to nearest even, as int32 -> float32.
        p = s * acc[r0 : r0 + rows].float().double()
        total = p + c
        back = total - p
        err = (p - (total - back)) + (c - back)
        even = (total.view(torch.int64) & 1) == 0
        toward = torch.where(err > 0, torch.inf, -torch.inf).to(torch.float64)
        total = torch.where((err != 0) & even, torch.nextafter(total, toward), total)
        out[r0 : r0 + rows] = total.float().to(dtype)
    return out


def _epilogue_value(acc, e: Epilogue) -> torch.Tensor:
    """float64 x_scale[m] * y_scale[n] * acc + bias[n]: what approximate contenders approach."""
    return e.x_scale.double()[:, None] * e.y_scale.double()[None, :] * acc + e.bias.double()


@dataclass
class Check:
    ok: bool
    method: str  # "bitwise" or "relative error"
    detail: str  # what went wrong, or the error measured
    mismatches: int | None = None
    rel_error: float | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "method": self.method,
            "detail": self.detail,
            "mismatches": self.mismatches,
            "rel_error": self.rel_error,
        }


def check_output(
    out, acc: torch.Tensor, alpha: float, expect: Expect, exact_bf16=None, epilogue=None
) -> Check:
    """Compares ``out`` to the exact result; ``exact_bf16`` may pass a cached scaled_bf16.

    ``epilogue``: the ``Epilogue`` operands, needed when ``expect.epilogue``.
    """
    method = "bitwise" if expect.exact else "relative error"
    if expect.epilogue and epilogue is None:
        raise ValueError("an epilogue contender's check needs the Epilogue operands")
    if not isinstance(out, torch.Tensor):
        return Check(False, method, f"returned {type(out).__name__}, not a tensor")
    if tuple(out.shape) != tuple(acc.shape):
        return Check(False, method, f"shape {tuple(out.shape)}, expected {tuple(acc.shape)}")
    if out.dtype != expect.dtype:
        return Check(False, method, f"dtype {out.dtype}, expected {expect.dtype}")
    if out.device != acc.device:
        return Check(False, method, f"on {out.device}, expected {acc.device}")
    if expect.exact:
        return _bitwise(out, acc, alpha, expect, exact_bf16, epilogue)
    if expect.epilogue:
        target = _epilogue_value(acc, epilogue)
    else:
        target = acc * alpha if expect.scaled else acc
    diff = torch.linalg.vector_norm(out.to(torch.float64) - target)
    norm = torch.linalg.vector_norm(target)
    rel = float(diff / norm) if float(norm) > 0 else float(diff)
    ok = rel <= expect.tolerance  # False for NaN
    return Check(ok, method, f"rel. error {rel:.2e} (limit {expect.tolerance:g})", rel_error=rel)


def _bitwise(out, acc, alpha, expect, exact_bf16, epilogue) -> Check:
    if expect.epilogue and expect.dtype in (torch.bfloat16, torch.float16):
        e = epilogue
        if expect.dtype not in e.refs:
            e.refs[expect.dtype] = scaled_epilogue(acc, e.x_scale, e.y_scale, e.bias, expect.dtype)
        want = e.refs[expect.dtype]
        got_bits, want_bits = out.view(torch.int16), want.view(torch.int16)
    elif expect.dtype == torch.bfloat16:
        if exact_bf16 is not None and expect.scaled:
            want = exact_bf16
        else:
            want = scaled_bf16(acc, alpha if expect.scaled else 1.0)
        got_bits, want_bits = out.view(torch.int16), want.view(torch.int16)
    elif expect.dtype in (torch.int32, torch.int64):
        want = acc.to(expect.dtype)
        got_bits, want_bits = out, want
    else:
        raise ValueError(f"no bitwise check for {expect.dtype}")
    differ = got_bits != want_bits
    count = int(differ.sum())
    if count == 0:
        return Check(True, "bitwise", "bit-exact", mismatches=0)
    # argmax rather than nonzero(): a wholly wrong output would make nonzero() huge.
    flat = int(differ.flatten().to(torch.uint8).argmax())
    first = (flat // out.shape[1], flat % out.shape[1])
    detail = (
        f"{count} of {out.numel()} elements differ; first at {first}: "
        f"got {out[first].item()}, expected {want[first].item()}"
    )
    return Check(False, "bitwise", detail, mismatches=count)
