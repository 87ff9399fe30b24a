"""gemm_int8.matmul's out_dtype and the forms alpha may take."""

import gemm_int8
import numpy as np
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, exact_accumulator, random_int8, reference_matmul

OUT_DTYPES = [torch.bfloat16, torch.float16, torch.float32, torch.int32]


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 13, 33), (100, 257, 129)])
def test_out_dtype(target, gen, out_dtype, m, n, k):
    x, y = random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)
    alpha = 1.0 if out_dtype == torch.int32 else -0.375
    out = gemm_int8.matmul(x.to(target), y.to(target), alpha, out_dtype=out_dtype)
    assert out.dtype == out_dtype and out.device.type == target
    assert_bitwise_equal(out, reference_matmul(x, y, alpha, out_dtype), f"{m}x{n}x{k}")


@pytest.mark.parametrize("k", [1, 4096, 131071])
def test_int32_is_the_exact_accumulator(target, k):
    x = torch.full((2, k), -128, dtype=torch.int8)
    x[1, ::2] = 127
    y = torch.full((3, k), -128, dtype=torch.int8)
    out = gemm_int8.matmul(x.to(target), y.to(target), out_dtype=torch.int32)
    assert_bitwise_equal(out, exact_accumulator(x, y).to(torch.int32), f"k={k}")


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
def test_out_variant_dtypes(target, gen, out_dtype):
    x, y = random_int8(9, 40, generator=gen), random_int8(11, 40, generator=gen)
    poison = -7 if out_dtype == torch.int32 else float("nan")
    out = torch.full((9, 11), poison, dtype=out_dtype, device=target)
    result = gemm_int8.matmul(x.to(target), y.to(target), out_dtype=out_dtype, out=out)
    assert result.data_ptr() == out.data_ptr()
    assert_bitwise_equal(out, reference_matmul(x, y, 1.0, out_dtype))


@pytest.mark.parametrize(
    "alpha", [2, -3, 0.5, np.float32(0.25), np.float64(-1.5)], ids=lambda a: repr(a)
)
def test_alpha_numbers(target, gen, alpha):
    x, y = random_int8(5, 24, generator=gen), random_int8(6, 24, generator=gen)
    out = gemm_int8.matmul(x.to(target), y.to(target), alpha)
    assert_bitwise_equal(out, reference_matmul(x, y, float(alpha)))


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("out_dtype", OUT_DTYPES[:3], ids=str)
def test_alpha_tensor_on_the_device(target, gen, shape, out_dtype):
    x, y = random_int8(5, 24, generator=gen), random_int8(6, 24, generator=gen)
    alpha = torch.full(shape, -0.75, dtype=torch.float32, device=target)
    xd, yd = x.to(target), y.to(target)
    if target == "cuda":
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        out = gemm_int8.matmul(xd, yd, alpha, out_dtype=out_dtype)
    finally:
        if target == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    assert_bitwise_equal(out, reference_matmul(x, y, -0.75, out_dtype))
    into = torch.empty((5, 6), dtype=out_dtype, device=target)
    gemm_int8.matmul(xd, yd, alpha, out_dtype=out_dtype, out=into)
    assert_bitwise_equal(into, reference_matmul(x, y, -0.75, out_dtype))


@requires_cuda
def test_cpu_alpha_tensor_with_cuda_inputs(gen):
    x, y = random_int8(5, 24, generator=gen), random_int8(6, 24, generator=gen)
    xd, yd = x.cuda(), y.cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = gemm_int8.matmul(xd, yd, torch.tensor(1.5))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert_bitwise_equal(out, reference_matmul(x, y, 1.5))


@requires_cuda
def test_cuda_alpha_tensor_with_cpu_inputs_is_refused():
    x, y = random_int8(2, 8), random_int8(3, 8)
    with pytest.raises(ValueError, match=r"alpha is on cuda:0 but x is on cpu"):
        gemm_int8.matmul(x, y, torch.tensor([2.0], device="cuda"))


@pytest.mark.parametrize("alpha", ["2.0", True, False, None, [1.0], 1 + 2j])
def test_alpha_of_a_wrong_type(device, alpha):
    x, y = random_int8(2, 8, device=device), random_int8(3, 8, device=device)
    with pytest.raises(TypeError, match=r"alpha: expected a float, an int or a one-element"):
        gemm_int8.matmul(x, y, alpha)


@pytest.mark.parametrize(
    "alpha",
    [torch.tensor(1.0, dtype=torch.float64), torch.tensor(2), torch.ones(2), torch.ones(0)],
    ids=["float64", "int64", "two values", "empty"],
)
def test_alpha_tensor_of_a_wrong_kind(device, alpha):
    x, y = random_int8(2, 8, device=device), random_int8(3, 8, device=device)
    with pytest.raises(TypeError, match=r"alpha: expected a one-element float32 tensor"):
        gemm_int8.matmul(x, y, alpha.to(device))


def test_alpha_with_int32_output_is_refused(device):
    x, y = random_int8(2, 8, device=device), random_int8(3, 8, device=device)
    with pytest.raises(ValueError, match=r"alpha: int32 output is the exact accumulator"):
        gemm_int8.matmul(x, y, 2.0, out_dtype=torch.int32)
    with pytest.raises(ValueError, match=r"alpha: int32 output is the exact accumulator"):
        gemm_int8.matmul(x, y, torch.ones((), device=device), out_dtype=torch.int32)
    out = gemm_int8.matmul(x, y, 1, out_dtype=torch.int32)  # alpha = 1 is the identity
    assert_bitwise_equal(out, exact_accumulator(x.cpu(), y.cpu()).to(torch.int32))
