"""quantized_linear's one-kernel path for one or two rows (the gemv family,
sm_80 and newer; on by default, GEMM_INT8_FUSED_LINEAR=0 turns it off): the
bits of quantize(x, "row") + scaled_mm, whatever the dispatch picks."""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal
from torch.profiler import ProfilerActivity, profile

pytestmark = requires_cuda

HAS_GEMV = torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0)
FUSED_KERNEL = "gemv_kernel"


@pytest.fixture(autouse=True)
def fusion_on(monkeypatch):
    monkeypatch.delenv("GEMM_INT8_FUSED_LINEAR", raising=False)
    monkeypatch.delenv("GEMM_INT8_FORCE_KERNEL", raising=False)


def two_step(x, weight, weight_scale, bias):
    """What quantized_linear means: per-token quantize, then scaled_mm."""
    q, s = gemm_int8.quantize(x, "row")
    return gemm_int8.scaled_mm(q, weight, s.reshape(-1), weight_scale, bias=bias, out_dtype=x.dtype)


def weights(n, k, gen):
    q, s = gemm_int8.quantize(torch.randn((n, k), generator=gen), "row")
    return q.cuda(), s.reshape(-1).cuda()


def poison_allocator(nbytes):
    """Leaves NaN in the caching allocator's next blocks, so an output the
    kernel fails to write shows up."""
    torch.full((nbytes // 4 + 1024,), float("nan"), device="cuda")
    torch.cuda.synchronize()


def kernel_names(fn):
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return [e.name for e in prof.events() if e.device_type.name == "CUDA"]


# N: a ragged last tile (17, 33, 1000), fewer tiles than resident CTAs (1024)
# and more (4096, 14336); K: less than a warp's share (16), ragged shares
# (1008, 4112), the decode widths (4096, 14336), past the shared-memory budget
# of the fused kernel at two rows (16400: two launches). M = 3 and more take
# two launches.
SHAPES = [
    (17, 16),
    (33, 4112),
    (1000, 1008),
    (1024, 4096),
    (4096, 4096),
    (4096, 14336),
    (64, 16400),
]


@pytest.mark.parametrize("n, k", SHAPES)
@pytest.mark.parametrize("m", [1, 2, 3, 8])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_bits_of_quantize_then_scaled_mm(gen, m, n, k, dtype):
    weight, weight_scale = weights(n, k, gen)
    x = (torch.randn((m, k), generator=gen) * 4).to(dtype).cuda()
    bias = torch.randn(n, generator=gen).cuda()
    want = two_step(x, weight, weight_scale, bias)
    poison_allocator(m * n * 4)
    got = gemm_int8.quantized_linear(x, weight, weight_scale, bias)
    assert_bitwise_equal(got, want, f"{m}x{n}x{k} {dtype}")
    got = gemm_int8.quantized_linear(x, weight, weight_scale)
    assert_bitwise_equal(got, two_step(x, weight, weight_scale, None), "no bias")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_special_rows(gen, dtype):
    # Zero, NaN, inf, huge and tiny rows, and one that rounds at every half.
    weight, weight_scale = weights(64, 256, gen)
    x = torch.randn((7, 256), generator=gen).to(dtype)
    x[0] = 0
    x[1, 3] = float("nan")
    x[2, 7] = float("inf")
    x[3] = 3e38
    x[4] = 1e-30
    x[5] = torch.arange(256) - 127.5
    x[6, ::2] = -x[6, ::2].abs().max()
    x = x.cuda()
    for rows in [slice(i, i + 1) for i in range(7)] + [slice(i, i + 2) for i in range(0, 6, 2)]:
        want = two_step(x[rows], weight, weight_scale, None)
        got = gemm_int8.quantized_linear(x[rows], weight, weight_scale)
        assert_bitwise_equal(got, want, f"special rows {rows}")


def test_strided_and_misaligned_x(gen):
    weight, weight_scale = weights(256, 512, gen)
    wide = torch.randn((4, 1024), generator=gen).bfloat16().cuda()
    views = (wide[:2, :512], wide[::2, 8:520], wide[:2, 1:513], wide.view(2, 2, 1024)[:1, :, :512])
    for x in views:
        want = two_step(x, weight, weight_scale, None)
        got = gemm_int8.quantized_linear(x, weight, weight_scale)
        assert got.shape == (*x.shape[:-1], 256)
        assert_bitwise_equal(got, want, f"strides {x.stride()}")


def launches(fn):
    """The kernels fn launches, the fused one (a gemv kernel on float x) marked."""
    names = kernel_names(fn)
    return len(names), any(FUSED_KERNEL in n and "signed char" not in n for n in names)


@pytest.mark.skipif(not HAS_GEMV, reason="the fused kernel runs on sm_80 and newer")
@pytest.mark.parametrize("m", [1, 2])
def test_one_launch(gen, monkeypatch, m):
    weight, weight_scale = weights(4096, 4096, gen)
    x = torch.randn((m, 4096), generator=gen).bfloat16().cuda()
    assert launches(lambda: gemm_int8.quantized_linear(x, weight, weight_scale)) == (1, True)
    monkeypatch.setenv("GEMM_INT8_FUSED_LINEAR", "0")  # off: quantize, then the GEMM
    assert launches(lambda: gemm_int8.quantized_linear(x, weight, weight_scale)) == (2, False)
    monkeypatch.delenv("GEMM_INT8_FUSED_LINEAR")
    x = torch.randn((3, 4096), generator=gen).bfloat16().cuda()  # three rows: two launches
    assert launches(lambda: gemm_int8.quantized_linear(x, weight, weight_scale)) == (2, False)


@pytest.mark.skipif(not HAS_GEMV, reason="the fused kernel runs on sm_80 and newer")
@torch.no_grad()
def test_two_launches_inside_a_cuda_graph(gen):
    # In a graph, quantize + GEMM measured faster than the fused kernel.
    weight, weight_scale = weights(4096, 4096, gen)
    x = torch.randn((1, 4096), generator=gen).bfloat16().cuda()
    gemm_int8.quantized_linear(x, weight, weight_scale)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = gemm_int8.quantized_linear(x, weight, weight_scale)
    assert launches(graph.replay) == (2, False)
    assert_bitwise_equal(out, two_step(x, weight, weight_scale, None), "graph")


@pytest.mark.skipif(not HAS_GEMV, reason="the fused kernel runs on sm_80 and newer")
def test_forced_kernel_turns_fusion_off(gen, monkeypatch):
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "skinny")
    weight, weight_scale = weights(512, 256, gen)
    x = torch.randn((2, 256), generator=gen).cuda()
    assert launches(lambda: gemm_int8.quantized_linear(x, weight, weight_scale)) == (2, False)


@torch.no_grad()
def test_graph_capture_without_syncs(gen):
    weight, weight_scale = weights(2048, 1024, gen)
    bias = torch.randn(2048, generator=gen).cuda()
    x = torch.randn((2, 1024), generator=gen).bfloat16().cuda()
    gemm_int8.quantized_linear(x, weight, weight_scale, bias)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.cuda.graph(graph):
            first = gemm_int8.quantized_linear(x, weight, weight_scale, bias)
            second = gemm_int8.quantized_linear(first[:, :1024].contiguous(), weight, weight_scale)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for _ in range(3):
        x.copy_(torch.randn((2, 1024), generator=gen).bfloat16())
        graph.replay()
        torch.cuda.synchronize()
        want = two_step(x, weight, weight_scale, bias)
        assert_bitwise_equal(first, want, "first")
        want2 = two_step(want[:, :1024].contiguous(), weight, weight_scale, None)
        assert_bitwise_equal(second, want2, "second, dependent launch")
