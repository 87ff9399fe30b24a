"""Bad input: a clear Python exception naming the argument, never a crash."""

import gemm_int8
import pytest
import torch
from conftest import HAS_CUDA, requires_cuda
from reference import assert_bitwise_equal, random_int8, reference_matmul


def _ok_inputs(device, m=4, n=6, k=8):
    return random_int8(m, k, device=device), random_int8(n, k, device=device)


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.bfloat16, torch.uint8, torch.int32, torch.bool, torch.float64]
)
def test_wrong_dtype(device, dtype):
    x, y = _ok_inputs(device)
    with pytest.raises(TypeError, match=r"x: expected int8, got"):
        gemm_int8.matmul(x.to(dtype), y)
    with pytest.raises(TypeError, match=r"y: expected int8, got"):
        gemm_int8.matmul(x, y.to(dtype))


def test_unsupported_dtype_is_named(device):
    x, y = _ok_inputs(device)
    with pytest.raises(TypeError, match=r"x: dtype torch.complex64 is not supported"):
        gemm_int8.matmul(x.to(torch.complex64), y)


def test_wrong_rank(device):
    x, y = _ok_inputs(device)
    with pytest.raises(ValueError, match=r"x: expected a tensor of shape \(\.\.\., K\), got a 0-d"):
        gemm_int8.matmul(x[0, 0], y)
    with pytest.raises(ValueError, match=r"y: expected a 2-D tensor of shape \(N, K\)"):
        gemm_int8.matmul(x, y[0])
    with pytest.raises(ValueError, match=r"y: expected a 2-D tensor"):
        gemm_int8.matmul(x, y[None])


def test_k_mismatch(device):
    x, y = _ok_inputs(device)
    with pytest.raises(ValueError, match=r"K mismatch: x has K=8 columns but y has 7"):
        gemm_int8.matmul(x, y[:, :7])


@pytest.mark.parametrize("alpha", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_alpha(device, alpha):
    x, y = _ok_inputs(device)
    with pytest.raises(ValueError, match=r"alpha=.* is not finite"):
        gemm_int8.matmul(x, y, alpha)


def test_alpha_outside_float32(device):
    x, y = _ok_inputs(device)
    with pytest.raises(ValueError, match=r"alpha=.* outside the float32 range"):
        gemm_int8.matmul(x, y, 1e300)


def test_k_too_large_for_int32(device):
    k = 131072
    x = torch.zeros((1, k), dtype=torch.int8, device=device)
    y = torch.zeros((1, k), dtype=torch.int8, device=device)
    with pytest.raises(ValueError, match=r"K=131072 exceeds 131071.*16384\*K"):
        gemm_int8.matmul(x, y)


def test_out_errors(device):
    x, y = _ok_inputs(device)
    with pytest.raises(ValueError, match=r"out: expected shape \[4, 6\], got \[4, 5\]"):
        gemm_int8.matmul(x, y, out=torch.empty((4, 5), dtype=torch.bfloat16, device=device))
    with pytest.raises(TypeError, match=r"out: expected bfloat16, got float32"):
        gemm_int8.matmul(x, y, out=torch.empty((4, 6), dtype=torch.float32, device=device))
    expanded = torch.empty((1, 6), dtype=torch.bfloat16, device=device).expand(4, 6)
    with pytest.raises(ValueError, match=r"out: strides .* overlap"):
        gemm_int8.matmul(x, y, out=expanded)


def test_out_aliasing_an_input(device):
    storage = random_int8(4, 16, device=device)
    x = storage[:, :8]
    y = random_int8(6, 8, device=device)
    out = storage.view(torch.bfloat16)[:, :6]  # shares bytes with x
    with pytest.raises(ValueError, match=r"out overlaps x"):
        gemm_int8.matmul(x, y, out=out)


@requires_cuda
def test_cpu_cuda_mix():
    x, y = _ok_inputs("cpu")
    with pytest.raises(ValueError, match=r"y is on cuda:0 but x is on cpu"):
        gemm_int8.matmul(x, y.cuda())
    with pytest.raises(ValueError, match=r"y is on cpu but x is on cuda:0"):
        gemm_int8.matmul(x.cuda(), y)
    out = torch.empty((4, 6), dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"out is on cpu but x is on cuda:0"):
        gemm_int8.matmul(x.cuda(), y.cuda(), out=out)


@pytest.mark.skipif(not HAS_CUDA or torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_different_cuda_devices():
    x, y = _ok_inputs("cpu")
    with pytest.raises(ValueError, match=r"y is on cuda:1 but x is on cuda:0"):
        gemm_int8.matmul(x.to("cuda:0"), y.to("cuda:1"))


@requires_cuda
def test_force_kernel_unknown_name(monkeypatch):
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "warp_drive")
    x, y = _ok_inputs("cuda")
    with pytest.raises(
        ValueError, match=r"GEMM_INT8_FORCE_KERNEL='warp_drive'.*accepted: auto, simt, sm80, sm90"
    ):
        gemm_int8.matmul(x, y)


@requires_cuda
def test_context_usable_after_errors():
    x, y = _ok_inputs("cuda")
    for bad in [
        lambda: gemm_int8.matmul(x, y[:, :3]),
        lambda: gemm_int8.matmul(x, y, float("nan")),
    ]:
        with pytest.raises(ValueError):
            bad()
    out = gemm_int8.matmul(x, y)
    torch.cuda.synchronize()
    assert_bitwise_equal(out.cpu(), reference_matmul(x.cpu(), y.cpu()))
