"""gemm_int8.quantize: bit for bit against the float64 reference of the rule."""

import math

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, reference_quantize

DTYPES = [torch.float32, torch.bfloat16, torch.float16]
GRANULARITIES = ["tensor", "row", "col"]
# Rows in registers (K up to 2048 vectors; up to 64 rows wide CTAs of two
# vectors a thread, past that 256 threads), the long-row two-pass path, odd K
# (scalar loads), leading batch dimensions and a 1-D input.
SHAPES = [
    (1, 1),
    (4, 16),
    (33, 100),
    (16, 4095),
    (7, 4096),
    (2, 14336),
    (65, 2056),
    (3, 20000),
    (2, 3, 40),
    (5,),
]


def check(x, granularity, asymmetric, what=""):
    got = gemm_int8.quantize(x, granularity, asymmetric=asymmetric)
    expected = reference_quantize(x, granularity, asymmetric)
    assert len(got) == len(expected) == (3 if asymmetric else 2)
    for name, a, e in zip(("q", "scale", "zero_point"), got, expected, strict=False):
        assert a.device == x.device, name
        assert_bitwise_equal(a, e, f"{what} {granularity} asym={asymmetric} {name}")
    return got


def varied(shape, dtype, gen):
    """Normal values with rows spread over six orders of magnitude, plus an offset
    so asymmetric ranges are lopsided."""
    x = torch.randn(shape, generator=gen)
    if x.dim() > 1:
        x = x * 10 ** (torch.rand((*shape[:-1], 1), generator=gen) * 6 - 3)
    return (x + 0.3 * x.abs().mean()).to(dtype)


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_reference(device, gen, dtype, granularity, asymmetric):
    for shape in SHAPES:
        x = varied(shape, dtype, gen).to(device)
        check(x, granularity, asymmetric, f"{shape} {dtype}")


def test_rounding_rule_pinned(device):
    # amax 127 -> scale 1, so x / scale is x: ties go to even, clamp at 127.
    x = torch.tensor([[127.0, 0.5, 1.5, 2.5, -0.5, -2.5, 126.5, -127.0]], device=device)
    q, scale = check(x, "row", False)
    assert scale.item() == 1.0
    assert q.tolist() == [[127, 0, 2, 2, 0, -2, 126, -127]]
    # Asymmetric over [0, 255]: scale 1, zero point -128, q = x - 128.
    x = torch.tensor([[0.0, 255.0, 127.5, 128.5, 3.0]], device=device)
    q, scale, zp = check(x, "row", True)
    assert scale.item() == 1.0 and zp.item() == -128
    assert q.tolist() == [[-128, 127, 0, 0, -125]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_extremes(device, dtype):
    info = torch.finfo(dtype)
    rows = [
        [info.max, -info.max, 1.0, 0.0],
        [info.tiny, -info.tiny, info.tiny / 4, 0.0],  # subnormal ratios
        [info.smallest_normal * 127, 1e-45, 0.0, -0.0],
        [-3.0, -1.0, -2.0, -0.5],  # all negative: asymmetric range [-3, 0]
        [1.0, 1.0, 1.0, 1.0],
    ]
    x = torch.tensor(rows, dtype=torch.float32).to(dtype).to(device)
    for granularity in GRANULARITIES:
        for asymmetric in (False, True):
            check(x, granularity, asymmetric, str(dtype))


def test_zero_rows(device):
    x = torch.zeros((3, 8), device=device)
    x[1] = torch.arange(8) - 3.0
    q, scale = check(x, "row", False)
    assert scale[0].item() == scale[2].item() == 1.0 and not q[0].any() and not q[2].any()
    q, scale, zp = check(x, "row", True)
    assert scale[0].item() == 1.0 and zp[0].item() == -128 and (q[0] == -128).all()


@pytest.mark.parametrize("asymmetric", [False, True])
def test_nan_and_inf(device, asymmetric):
    nan, inf = math.nan, math.inf
    x = torch.tensor(
        [[1.0, nan, 2.0, -1.0], [inf, 1.0, 2.0, 3.0], [-inf, inf, 0.0, 1.0], [1.0, 2.0, 3.0, 4.0]],
        device=device,
    )
    for granularity in GRANULARITIES:
        check(x, granularity, asymmetric)
    scale = gemm_int8.quantize(x, "row", asymmetric=asymmetric)[1].flatten().cpu()
    assert scale[0].isnan() and scale[1].isinf() and not scale[3].isinf()
    assert scale[2].isinf() or scale[2].isnan()
    tensor_scale = gemm_int8.quantize(x, "tensor", asymmetric=asymmetric)[1]
    assert tensor_scale.isnan().item()  # NaN wins over inf


@pytest.mark.parametrize("shape", [(0, 8), (4, 0), (0,), (2, 0, 5), (0, 0)])
def test_empty(device, shape):
    x = torch.empty(shape, device=device)
    for granularity in GRANULARITIES:
        for asymmetric in (False, True):
            got = check(x, granularity, asymmetric, str(shape))
            assert (got[1] == 1).all()  # an empty group has scale 1


def test_strided_layouts(device, gen):
    base = torch.randn((70, 300), generator=gen)
    layouts = {
        "transposed": torch.randn((96, 40), generator=gen).T,
        "column step 2": base[:, ::2],
        "row step 2": base[::2, :128],
        "offset 1": base[1:, 1:129],
        "expanded": torch.randn((1, 64), generator=gen).expand(5, 64),
    }
    for name, x in layouts.items():
        for dtype in DTYPES:
            for granularity in GRANULARITIES:
                check(x.to(dtype).to(device), granularity, False, name)
    for shift in range(9):  # every misalignment of 16-byte loads of bf16
        x = base.bfloat16().to(device)[:, shift : shift + 256]
        check(x, "row", True, f"shift {shift}")


def test_dequantization_error_bound(device, gen):
    x = torch.randn((64, 512), generator=gen).to(device)
    # Half a step, plus the float32 roundings of x / scale and of the check's
    # own product and difference: a few ulps of |x|, not of the scale.
    ulps = x.abs() * 2.0**-21
    q, scale = gemm_int8.quantize(x)
    assert ((q.float() * scale - x).abs() <= scale / 2 + ulps).all()
    q, scale, zp = gemm_int8.quantize(x, "col", asymmetric=True)
    assert (((q.float() - zp) * scale - x).abs() <= scale / 2 + ulps).all()


def test_bad_inputs(device):
    with pytest.raises(TypeError, match=r"x: expected float32, bfloat16 or float16, got int8"):
        gemm_int8.quantize(torch.zeros((2, 3), dtype=torch.int8, device=device))
    with pytest.raises(TypeError, match=r"x: expected float32, bfloat16 or float16, got float64"):
        gemm_int8.quantize(torch.zeros((2, 3), dtype=torch.float64, device=device))
    with pytest.raises(TypeError, match=r"x: dtype torch.complex64 is not supported"):
        gemm_int8.quantize(torch.zeros((2, 3), dtype=torch.complex64, device=device))
    with pytest.raises(ValueError, match=r"granularity: expected 'tensor', 'row' or 'col'"):
        gemm_int8.quantize(torch.zeros((2, 3), device=device), "channel")
    with pytest.raises(ValueError, match=r"x: expected a tensor of shape \(\.\.\., K\), got a 0-d"):
        gemm_int8.quantize(torch.zeros((), device=device))


def sample_inputs(device):
    return [
        (torch.randn(8, 32, device=device), "row", False),
        (torch.randn(3, 5, 24, device=device, dtype=torch.bfloat16), "row", True),
        (torch.randn(24, 7, device=device).T, "col", False),
        (torch.randn(6, 9, device=device, dtype=torch.float16), "tensor", True),
        (torch.randn(0, 8, device=device), "row", False),
    ]


def test_opcheck(device):
    for x, granularity, asymmetric in sample_inputs(device):
        torch.library.opcheck(
            torch.ops.gemm_int8.quantize.default, (x, granularity), {"asymmetric": asymmetric}
        )


def test_fake_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty((3, 4, 64), dtype=torch.bfloat16)
        q, scale, zp = gemm_int8.quantize(x, "col", asymmetric=True)
        assert q.shape == x.shape and q.dtype == torch.int8
        assert scale.shape == (1, 1, 64) and zp.shape == (1, 1, 64) and zp.dtype == torch.int32
        assert gemm_int8.quantize(x)[1].shape == (3, 4, 1)
        assert gemm_int8.quantize(x, "tensor")[1].shape == ()


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_torch_compile_fullgraph_dynamic(device, granularity):
    torch._dynamo.reset()

    def dequantized(x):
        q, scale, zp = gemm_int8.quantize(x, granularity, asymmetric=True)
        return (q.float() - zp) * scale

    compiled = torch.compile(dequantized, fullgraph=True, dynamic=True)
    for rows in (5, 17, 64):
        x = torch.randn(rows, 48, device=device)
        assert_bitwise_equal(compiled(x), dequantized(x), f"rows={rows}")


@requires_cuda
def test_cuda_graph_replay():
    x = torch.randn(16, 1024, device="cuda", dtype=torch.bfloat16)
    gemm_int8.quantize(x, "tensor")  # warm up outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outs = [gemm_int8.quantize(x, g, asymmetric=True) for g in GRANULARITIES]
    x.copy_(torch.randn(16, 1024, device="cuda") * 7)
    graph.replay()
    torch.cuda.synchronize()
    for g, got in zip(GRANULARITIES, outs, strict=True):
        for a, e in zip(got, reference_quantize(x, g, True), strict=True):
            assert_bitwise_equal(a, e, f"graph {g}")
