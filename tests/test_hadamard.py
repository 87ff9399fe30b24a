"""gemm_int8.hadamard and quantize(..., hadamard=True): bit-exact against a
float32 reference with the same order of operations, orthonormal and its own
inverse, on CPU and CUDA."""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, reference_hadamard, reference_quantize

FLOATS = [torch.float32, torch.bfloat16, torch.float16]
# 2^k, 12 * 2^k, 20 * 2^k, 28 * 2^k, including the Llama-3 widths.
SIZES = [1, 2, 16, 12, 24, 20, 80, 28, 56, 1024, 4096, 14336]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_bitwise_against_reference(device, n, dtype):
    g = torch.Generator().manual_seed(n)
    x = (torch.randn(3, 5, n, generator=g) * 3).to(dtype).to(device)
    got = gemm_int8.hadamard(x)
    assert got.dtype == dtype and got.shape == x.shape and got.device == x.device
    assert_bitwise_equal(got, reference_hadamard(x).to(dtype), f"n={n}")


@pytest.mark.parametrize("n", [12, 20, 28, 64, 28 * 16])
def test_orthonormal_symmetric_involution(device, n):
    eye = torch.eye(n, dtype=torch.float32, device=device)
    h = gemm_int8.hadamard(eye).double()
    torch.testing.assert_close(h, h.T, rtol=0, atol=0)
    torch.testing.assert_close(
        h @ h, torch.eye(n, dtype=torch.float64, device=device), atol=1e-6, rtol=0
    )
    x = torch.randn(7, n, device=device)
    torch.testing.assert_close(gemm_int8.hadamard(gemm_int8.hadamard(x)), x, atol=2e-6, rtol=1e-5)


def test_rotation_keeps_products(device):
    a, b = torch.randn(9, 4096, device=device), torch.randn(5, 4096, device=device)
    ra, rb = gemm_int8.hadamard(a), gemm_int8.hadamard(b)
    torch.testing.assert_close(ra @ rb.T, a @ b.T, atol=2e-3, rtol=1e-4)


def test_strided_and_batched_inputs(device):
    x = torch.randn(40, 24, device=device)
    for view in (x.T, x[::2], x[:, :12].unsqueeze(0)):
        assert_bitwise_equal(gemm_int8.hadamard(view), reference_hadamard(view), str(view.shape))


def test_empty_and_special_values(device):
    assert gemm_int8.hadamard(torch.empty(0, 64, device=device)).shape == (0, 64)
    x = torch.zeros(3, 16, device=device)
    x[0, 3], x[1, 5] = float("nan"), float("inf")
    got = gemm_int8.hadamard(x)
    assert torch.isnan(got[0]).all() and not torch.isfinite(got[1]).any()
    assert (got[2] == 0).all()


@pytest.mark.parametrize("n", [16, 24, 4096, 14336])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("asymmetric", [False, True])
def test_quantize_rotated_rows_bitwise(device, n, dtype, asymmetric):
    g = torch.Generator().manual_seed(7 * n)
    x = (torch.randn(2, 9, n, generator=g) * 5).to(dtype).to(device)
    x[0, 0] = 0  # an all-zero row
    got = gemm_int8.quantize(x, hadamard=True, asymmetric=asymmetric)
    expected = reference_quantize(reference_hadamard(x), "row", asymmetric)
    for a, e, name in zip(got, expected, ("q", "scale", "zero_point"), strict=False):
        assert_bitwise_equal(a, e, f"{name} n={n}")


def test_rotation_spreads_an_outlier(device):
    # One activation channel 100x the rest: per-token int8 loses the small
    # ones; rotated, the error of x @ w.T shrinks.
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(64, 1024, generator=g), torch.randn(256, 1024, generator=g)
    x[:, 17] *= 100
    x, w = x.to(device), w.to(device)
    exact = x.double() @ w.double().T

    def error(hadamard):
        qx, sx = gemm_int8.quantize(x, hadamard=hadamard)
        qw, sw = gemm_int8.quantize(w, hadamard=hadamard)
        out = gemm_int8.scaled_mm(qx, qw, sx, sw, out_dtype=torch.float32).double()
        return ((out - exact).norm() / exact.norm()).item()

    plain, rotated = error(False), error(True)
    assert rotated < 0.5 * plain, (plain, rotated)


def test_bad_inputs(device):
    with pytest.raises(ValueError, match=r"x: a Hadamard rotation needs rows of n = 2\^k.*n = 100"):
        gemm_int8.hadamard(torch.randn(2, 100, device=device))
    with pytest.raises(ValueError, match=r"n <= 32768"):
        gemm_int8.hadamard(torch.randn(1, 65536, device=device))
    with pytest.raises(TypeError, match="x: expected float32, bfloat16 or float16, got int8"):
        gemm_int8.hadamard(torch.zeros(2, 16, dtype=torch.int8, device=device))
    with pytest.raises(ValueError, match="0-d"):
        gemm_int8.hadamard(torch.tensor(1.0, device=device))
    with pytest.raises(ValueError, match="hadamard: a rotation needs row granularity"):
        gemm_int8.quantize(torch.randn(4, 16, device=device), "tensor", hadamard=True)
    with pytest.raises(ValueError, match="got n = 36"):
        gemm_int8.quantize(torch.randn(4, 36, device=device), hadamard=True)


def test_opcheck(device):
    for x in (
        torch.randn(5, 24, device=device),
        torch.randn(2, 3, 64, device=device, dtype=torch.bfloat16),
        torch.randn(0, 16, device=device),
    ):
        torch.library.opcheck(torch.ops.gemm_int8.hadamard.default, (x,))
        torch.library.opcheck(torch.ops.gemm_int8.quantize.default, (x, "row"), {"hadamard": True})


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()

    def rotate_and_quantize(x):
        qx, sx = gemm_int8.quantize(x * 2, hadamard=True)
        return gemm_int8.hadamard(x + 1), qx, sx

    compiled = torch.compile(rotate_and_quantize, fullgraph=True)
    x = torch.randn(6, 56, device=device)
    for a, e in zip(compiled(x), rotate_and_quantize(x), strict=True):
        assert_bitwise_equal(a, e)


@requires_cuda
def test_cuda_graph_replay():
    x = torch.randn(8, 14336, device="cuda", dtype=torch.bfloat16)
    gemm_int8.quantize(x, hadamard=True)
    gemm_int8.hadamard(x)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        rotated = gemm_int8.hadamard(x)
        q, scale = gemm_int8.quantize(x, hadamard=True)
    x.copy_(torch.randn_like(x) * 3)
    graph.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(rotated, reference_hadamard(x).to(x.dtype))
    eq, es = reference_quantize(reference_hadamard(x), "row")
    assert_bitwise_equal(q, eq)
    assert_bitwise_equal(scale, es)
