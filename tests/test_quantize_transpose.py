"""gemm_int8.quantize_with_transpose: both operands of a training GEMM, bit for bit."""

import math

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, reference_quantize
from test_quantize import DTYPES, varied

GRANULARITIES = ["row", "tensor"]
# One tile (64 x 128) and less, ragged tile edges both ways, several tiles,
# odd sizes (scalar loads and byte stores), batch dimensions, a 1-D input and
# empty inputs.
SHAPES = [(1, 1), (4, 16), (64, 128), (65, 129), (33, 100), (130, 300), (300, 1000),
          (2, 3, 40), (5,), (0, 8), (8, 0)]  # fmt: skip


def expected(x, granularity):
    k = x.shape[-1]
    q, scale = reference_quantize(x, granularity)
    qt, qt_scale = reference_quantize(x.reshape(math.prod(x.shape[:-1]), k).T, granularity)
    return q, scale, qt, qt_scale


def check(x, granularity, what=""):
    got = gemm_int8.quantize_with_transpose(x, granularity)
    for name, a, e in zip(("q", "scale", "qt", "qt_scale"), got, expected(x, granularity),
                          strict=True):  # fmt: skip
        assert a.device == x.device, name
        assert_bitwise_equal(a, e, f"{what} {granularity} {name}")
    assert got[2].is_contiguous()
    return got


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_reference(device, gen, dtype, granularity):
    for shape in SHAPES:
        x = varied(shape, dtype, gen).to(device)
        check(x, granularity, f"{shape} {dtype}")


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_equals_quantize_both_ways(device, gen, granularity):
    # q and scale are quantize's; qt and qt_scale are quantize of the transpose.
    x = varied((96, 200), torch.bfloat16, gen).to(device)
    q, scale, qt, qt_scale = gemm_int8.quantize_with_transpose(x, granularity)
    q_plain, scale_plain = gemm_int8.quantize(x, granularity)
    qt_plain, qt_scale_plain = gemm_int8.quantize(x.T.contiguous(), granularity)
    for a, e in ((q, q_plain), (scale, scale_plain), (qt, qt_plain), (qt_scale, qt_scale_plain)):
        assert_bitwise_equal(a, e, granularity)


def test_strided_and_misaligned_inputs(device, gen):
    base = varied((70, 260), torch.bfloat16, gen).to(device)
    for x in (base[:, 1:], base[:, ::2], base.T, base[3:, 5:133]):
        for granularity in GRANULARITIES:
            check(x, granularity, f"strides {x.stride()}")


def test_non_finite_values_follow_quantize(device):
    x = torch.randn(40, 140, device=device)
    x[3, 7] = float("nan")
    x[10, 100] = float("inf")
    x[20, 130] = -float("inf")
    q, scale, qt, qt_scale = check(x, "row")
    assert scale[3].isnan().all() and qt_scale[7].isnan().all()
    assert scale[10].isinf().all() and qt_scale[100].isinf().all()
    check(x, "tensor")


def test_extremes(device):
    # Every value the same magnitude: q and qt are +-127 exactly.
    x = torch.full((65, 129), -128.0, device=device)
    x[::2] = 128.0
    q, scale, qt, qt_scale = check(x, "row")
    assert set(q.unique().tolist()) <= {-127, 127} and set(qt.unique().tolist()) == {-127, 127}
    check(torch.zeros(17, 33, device=device), "row")


def test_shapes_of_outputs(device):
    x = torch.randn(2, 3, 40, device=device)
    q, scale, qt, qt_scale = gemm_int8.quantize_with_transpose(x)
    assert q.shape == x.shape and scale.shape == (2, 3, 1)
    assert qt.shape == (40, 6) and qt_scale.shape == (40, 1) and qt.dtype == torch.int8
    _, scale, _, qt_scale = gemm_int8.quantize_with_transpose(x, "tensor")
    assert scale.shape == () and qt_scale.shape == ()


def test_bad_inputs(device):
    x = torch.randn(4, 8, device=device)
    with pytest.raises(ValueError, match="granularity: expected 'row' or 'tensor'|granularity: "):
        gemm_int8.quantize_with_transpose(x, "col")
    with pytest.raises(ValueError, match="granularity"):
        gemm_int8.quantize_with_transpose(x, "rows")
    with pytest.raises(TypeError, match="^x: expected float32, bfloat16 or float16"):
        gemm_int8.quantize_with_transpose(x.to(torch.int8))
    with pytest.raises(ValueError, match="^x: "):
        gemm_int8.quantize_with_transpose(torch.tensor(1.0, device=device))
    check(x, "row")  # the library still works afterwards


def test_opcheck(device):
    for x, granularity in [
        (torch.randn(33, 100, device=device), "row"),
        (torch.randn(2, 5, 16, device=device, dtype=torch.bfloat16), "tensor"),
        (torch.randn(24, 7, device=device).T, "row"),
        (torch.randn(0, 8, device=device), "row"),
    ]:
        torch.library.opcheck(torch.ops.gemm_int8.quantize_with_transpose.default, (x, granularity))


def test_fake_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty((3, 4, 64), dtype=torch.bfloat16)
        q, scale, qt, qt_scale = gemm_int8.quantize_with_transpose(x)
        assert q.shape == x.shape and scale.shape == (3, 4, 1)
        assert qt.shape == (64, 12) and qt_scale.shape == (64, 1) and qt.dtype == torch.int8


def test_torch_compile_fullgraph_dynamic(device):
    torch._dynamo.reset()

    def dequantized(x):
        q, scale, qt, qt_scale = gemm_int8.quantize_with_transpose(x)
        return q.float() * scale, qt.float() * qt_scale

    compiled = torch.compile(dequantized, fullgraph=True, dynamic=True)
    for rows in (5, 17, 64):
        x = torch.randn(rows, 48, device=device)
        for a, e in zip(compiled(x), dequantized(x), strict=True):
            assert_bitwise_equal(a, e, f"rows={rows}")


@requires_cuda
def test_cuda_graph_replay_without_sync():
    x = torch.randn(100, 300, device="cuda", dtype=torch.bfloat16)
    gemm_int8.quantize_with_transpose(x)  # warm up outside the capture
    torch.cuda.set_sync_debug_mode("error")
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outs = [gemm_int8.quantize_with_transpose(x, g) for g in GRANULARITIES]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    x.copy_(torch.randn(100, 300, device="cuda") * 7)
    graph.replay()
    torch.cuda.synchronize()
    for g, got in zip(GRANULARITIES, outs, strict=True):
        for a, e in zip(got, expected(x, g), strict=True):
            assert_bitwise_equal(a, e, f"graph {g}")


# Strips of several tiles through the second pass's copy ring, ragged last
# strips, every qt store width (rows % 16 == 0, 4, odd), three dtypes, and a
# transposed (strided) x that takes element loads.
LARGE = [
    ((2048 + 5, 4096 + 8), torch.bfloat16, False),
    ((8192 + 4, 2048 + 3), torch.float16, False),
    ((4096 + 64, 1024 + 8), torch.float32, False),
    ((1030, 8200), torch.bfloat16, True),
]


@requires_cuda
@pytest.mark.parametrize(("shape", "dtype", "transposed"), LARGE)
def test_large_matches_two_plain_quantizations(gen, shape, dtype, transposed):
    # Many tiles and the atomics' order: the same bits as two plain calls.
    x = varied(shape, dtype, gen).cuda()
    if transposed:
        x = x.T
    q, scale, qt, qt_scale = gemm_int8.quantize_with_transpose(x)
    q_plain, scale_plain = gemm_int8.quantize(x)
    assert_bitwise_equal(q, q_plain, "q")
    assert_bitwise_equal(scale, scale_plain, "scale")
    qt_plain, qt_scale_plain = gemm_int8.quantize(x, "col")
    assert_bitwise_equal(qt, qt_plain.T, "qt")
    assert_bitwise_equal(qt_scale, qt_scale_plain.reshape(-1, 1), "qt_scale")
    assert math.prod(qt.shape) == x.numel()
    qt_tensor = gemm_int8.quantize_with_transpose(x, "tensor")[2]
    assert_bitwise_equal(qt_tensor, gemm_int8.quantize(x.T.contiguous(), "tensor")[0], "tensor")
