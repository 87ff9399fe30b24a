"""quantized_linear's one-kernel path for decode-sized inputs (Hopper, opt-in
through GEMM_INT8_FUSED_LINEAR=1, which every test here sets): the bits of
quantize(x, "row") + scaled_mm, whatever the dispatch picks."""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal
from torch.profiler import ProfilerActivity, profile

pytestmark = requires_cuda

IS_HOPPER = torch.cuda.is_available() and torch.cuda.get_device_capability() == (9, 0)


@pytest.fixture(autouse=True)
def fusion_on(monkeypatch):
    monkeypatch.setenv("GEMM_INT8_FUSED_LINEAR", "1")
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


# N: a ragged last tile (33, 1000), fewer tiles than SMs (1024) and more (4096,
# 14336); K: one slab (16, 1008), ragged slabs (4112), several (4096, 14336:
# past the shared-memory budget from M = 7 on, so those take two launches).
SHAPES = [(17, 16), (33, 4112), (1000, 1008), (1024, 4096), (4096, 4096), (4096, 14336)]


@pytest.mark.parametrize("n, k", SHAPES)
@pytest.mark.parametrize("m", [1, 2, 5, 8, 9, 16])
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
    want = two_step(x, weight, weight_scale, None)
    assert_bitwise_equal(gemm_int8.quantized_linear(x, weight, weight_scale), want, "special")


def test_strided_and_misaligned_x(gen):
    weight, weight_scale = weights(256, 512, gen)
    wide = torch.randn((4, 1024), generator=gen).bfloat16().cuda()
    for x in (wide[:, :512], wide[:, 8:520], wide[:, 1:513], wide.view(2, 2, 1024)[..., :512]):
        want = two_step(x, weight, weight_scale, None)
        got = gemm_int8.quantized_linear(x, weight, weight_scale)
        assert got.shape == (*x.shape[:-1], 256)
        assert_bitwise_equal(got, want, f"strides {x.stride()}")


@pytest.mark.skipif(not IS_HOPPER, reason="the fused kernel is built for sm_90a")
def test_one_launch_on_hopper(gen, monkeypatch):
    weight, weight_scale = weights(4096, 4096, gen)
    x = torch.randn((8, 4096), generator=gen).bfloat16().cuda()
    names = kernel_names(lambda: gemm_int8.quantized_linear(x, weight, weight_scale))
    assert len(names) == 1 and "fused_linear" in names[0], names
    monkeypatch.setenv("GEMM_INT8_FUSED_LINEAR", "0")  # the default: two launches
    names = kernel_names(lambda: gemm_int8.quantized_linear(x, weight, weight_scale))
    assert not any("fused_linear" in name for name in names), names
    monkeypatch.setenv("GEMM_INT8_FUSED_LINEAR", "1")
    x = torch.randn((17, 4096), generator=gen).bfloat16().cuda()  # prefill: two launches
    names = kernel_names(lambda: gemm_int8.quantized_linear(x, weight, weight_scale))
    assert not any("fused_linear" in name for name in names), names


@pytest.mark.skipif(not IS_HOPPER, reason="the fused kernel is built for sm_90a")
def test_forced_kernel_turns_fusion_off(gen, monkeypatch):
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "skinny")
    weight, weight_scale = weights(512, 256, gen)
    x = torch.randn((2, 256), generator=gen).cuda()
    names = kernel_names(lambda: gemm_int8.quantized_linear(x, weight, weight_scale))
    assert not any("fused_linear" in name for name in names), names


@torch.no_grad()
def test_graph_capture_without_syncs(gen):
    weight, weight_scale = weights(2048, 1024, gen)
    bias = torch.randn(2048, generator=gen).cuda()
    x = torch.randn((4, 1024), generator=gen).bfloat16().cuda()
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
        x.copy_(torch.randn((4, 1024), generator=gen).bfloat16())
        graph.replay()
        torch.cuda.synchronize()
        want = two_step(x, weight, weight_scale, bias)
        assert_bitwise_equal(first, want, "first")
        want2 = two_step(want[:, :1024].contiguous(), weight, weight_scale, None)
        assert_bitwise_equal(second, want2, "second, dependent launch")
