"""Dependent launches read what the kernel just before them wrote.

The quantize kernels let the next kernel launch as soon as they start; the GEMM
kernels (sm90 rows included) then start early and must not read x, x's scale or
a device alpha before the quantize kernel has finished. Each chain here puts a
quantize kernel directly before the GEMM that reads its output, thirty times
with fresh values queued back to back (a stale read would see the previous
round's values: the caching allocator hands the same buffers out again), then
checks every round bitwise against a reference computed from the same int8
operands and scales.
"""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import (
    assert_bitwise_equal,
    random_int8,
    reference_matmul,
    reference_quantize,
    reference_scaled_mm,
)

ROUNDS = 30
# sm90 rows (the Hopper default from 17 rows on), including the row-store
# epilogue for a ragged N; "auto" adds the decode kernels for M <= 16.
KERNELS = ["auto", "sm90", "sm90_t256x128x128_c2x1_coop_rows"]


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    """Forces each of KERNELS in turn (GEMM_INT8_FORCE_KERNEL)."""
    if request.param != "auto" and torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("sm90 rows need a Hopper GPU")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", request.param)
    return request.param


@requires_cuda
@pytest.mark.parametrize("m,n,k", [(64, 256, 512), (16, 250, 4096), (300, 1000, 256)])
def test_quantize_then_scaled_mm(gen, kernel, m, n, k):
    w = random_int8(n, k, generator=gen).cuda()
    w_scale = torch.rand(n, generator=gen).cuda() + 0.5
    bias = torch.randn(n, generator=gen).cuda()
    rounds = []
    for _ in range(ROUNDS):
        x = (torch.randn(m, k, generator=gen) * 4).cuda().bfloat16()
        q, scale = gemm_int8.quantize(x, "row")  # directly before the GEMM
        out = gemm_int8.scaled_mm(q, w, scale, w_scale, bias=bias, out_dtype=torch.bfloat16)
        rounds.append((q, scale, out))
    for i, (q, scale, out) in enumerate(rounds):
        expected = reference_scaled_mm(
            q.cpu(), w.cpu(), scale.cpu().reshape(-1), w_scale.cpu(), bias=bias.cpu(),
            out_dtype=torch.bfloat16,
        )  # fmt: skip
        assert_bitwise_equal(out, expected, f"{kernel} round {i}")


@requires_cuda
def test_one_value_scale_and_device_alpha_written_just_before(gen, kernel):
    # A (1, K) row quantized last gives one float: as scaled_mm's one-value
    # x_scale and as matmul's device alpha it is the last thing written.
    m, n, k = 96, 250, 1024
    y = random_int8(n, k, generator=gen).cuda()
    rounds = []
    for _ in range(ROUNDS):
        x = random_int8(m, k, generator=gen).cuda()
        row = torch.randn(1, k, generator=gen).cuda() * torch.rand(1, generator=gen).item() * 10
        _, one = gemm_int8.quantize(row, "row")
        scaled = gemm_int8.scaled_mm(x, y, one.reshape(1), None, out_dtype=torch.float32)
        _, alpha = gemm_int8.quantize(row * 2, "row")
        plain = gemm_int8.matmul(x, y, alpha.reshape(()))
        rounds.append((x, one, scaled, alpha, plain))
    for i, (x, one, scaled, alpha, plain) in enumerate(rounds):
        x, one, alpha = x.cpu(), one.cpu(), alpha.cpu()
        expected = reference_scaled_mm(x, y.cpu(), one.reshape(1), None, out_dtype=torch.float32)
        assert_bitwise_equal(scaled, expected, f"{kernel} one-value scale, round {i}")
        expected = reference_matmul(x, y.cpu(), alpha.item(), torch.bfloat16)
        assert_bitwise_equal(plain, expected, f"{kernel} device alpha, round {i}")


@requires_cuda
def test_chain_in_a_cuda_graph(gen, kernel):
    # quantize -> GEMM -> quantize -> ...: each GEMM's output is the next
    # quantize's input, every kernel launched dependent on the one before.
    m, k = 48, 1024
    w = random_int8(k, k, generator=gen).cuda()
    w_scale = torch.full((k,), 1 / 4096).cuda()
    x = torch.randn(m, k, generator=gen).cuda().bfloat16()

    def chain():
        steps, h = [], x
        for _ in range(4):
            q, scale = gemm_int8.quantize(h, "row")
            h = gemm_int8.scaled_mm(q, w, scale, w_scale)
            steps.append((q, scale, h))
        return steps

    chain()  # warm up (plans, workspaces) outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        steps = chain()
    for _ in range(3):
        x.copy_(torch.randn(m, k, generator=gen).bfloat16())
        graph.replay()
        torch.cuda.synchronize()
        h = x.cpu()
        for i, (q, scale, out) in enumerate(steps):
            assert_bitwise_equal(q, reference_quantize(h, "row")[0], f"{kernel} graph step {i} q")
            expected = reference_scaled_mm(
                q.cpu(), w.cpu(), scale.cpu().reshape(-1), w_scale.cpu(), out_dtype=torch.bfloat16
            )
            assert_bitwise_equal(out, expected, f"{kernel} graph step {i}")
            h = out.cpu()
