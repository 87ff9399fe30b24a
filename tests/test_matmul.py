"""Exactness of gemm_int8.matmul on every device and kernel family."""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, random_int8, reference_matmul

# (M, N, K): tiny, odd, unaligned, M = 1, tile edges, and a few larger ones.
SHAPES = [
    (1, 1, 1),
    (1, 8, 16),
    (1, 4096, 4096),
    (2, 3, 5),
    (7, 13, 33),
    (16, 16, 16),
    (17, 33, 65),
    (33, 100, 1000),
    (64, 128, 64),
    (100, 257, 129),
    (128, 256, 64),
    (129, 255, 127),
    (256, 512, 4096),
    (300, 500, 700),
]
ALPHAS = [1.0, 0.5, -3.75, 1e-3, 2.0**-20]


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_random_shapes(target, gen, m, n, k):
    x, y = random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)
    alpha = ALPHAS[(m + n + k) % len(ALPHAS)]
    out = gemm_int8.matmul(x.to(target), y.to(target), alpha)
    assert out.device.type == target
    assert_bitwise_equal(out.cpu(), reference_matmul(x, y, alpha), f"{m}x{n}x{k} alpha={alpha}")


@pytest.mark.parametrize("value_x,value_y", [(-128, -128), (127, 127), (-128, 127)])
@pytest.mark.parametrize("k", [1, 4095, 4096, 16384, 131071])
def test_extreme_values(target, value_x, value_y, k):
    m, n = 3, 17
    x = torch.full((m, k), value_x, dtype=torch.int8)
    y = torch.full((n, k), value_y, dtype=torch.int8)
    out = gemm_int8.matmul(x.to(target), y.to(target))
    assert_bitwise_equal(out.cpu(), reference_matmul(x, y), f"k={k} {value_x}*{value_y}")


def test_alpha_rounding_is_float32(target, gen):
    # 16777217 is not a float32: the accumulator rounds before alpha applies.
    x = torch.full((2, 1024), 127, dtype=torch.int8)
    y = torch.full((4, 1024), 127, dtype=torch.int8)
    for alpha in [1.0, 1.0 / 3.0, 3.0000001, -1e-30, 1e30]:
        out = gemm_int8.matmul(x.to(target), y.to(target), alpha)
        assert_bitwise_equal(out.cpu(), reference_matmul(x, y, alpha), f"alpha={alpha}")


@pytest.mark.parametrize("m,n,k", [(0, 5, 7), (5, 0, 7), (0, 0, 0), (5, 7, 0), (1, 1, 0)])
def test_empty(target, m, n, k):
    x = torch.zeros((m, k), dtype=torch.int8, device=target)
    y = torch.zeros((n, k), dtype=torch.int8, device=target)
    for alpha in [1.0, -2.0]:
        out = gemm_int8.matmul(x, y, alpha)
        assert out.shape == (m, n) and out.dtype == torch.bfloat16
        # K = 0: every element is bf16(0.0 * alpha), so -0.0 for negative alpha.
        assert_bitwise_equal(out.cpu(), reference_matmul(x.cpu(), y.cpu(), alpha), f"{m}x{n}x{k}")


@pytest.mark.parametrize("batch", [(2,), (3, 5), (1, 1, 2)])
def test_batch_dims(target, gen, batch):
    k, n = 40, 24
    x = random_int8(*batch, k, generator=gen)
    y = random_int8(n, k, generator=gen)
    out = gemm_int8.matmul(x.to(target), y.to(target), 0.25)
    assert out.shape == (*batch, n)
    expected = reference_matmul(x.reshape(-1, k), y, 0.25).reshape(*batch, n)
    assert_bitwise_equal(out.cpu(), expected)


def test_one_dimensional_x(target, gen):
    x, y = random_int8(48, generator=gen), random_int8(20, 48, generator=gen)
    out = gemm_int8.matmul(x.to(target), y.to(target))
    assert out.shape == (20,)
    assert_bitwise_equal(out.cpu(), reference_matmul(x[None], y)[0])


def _layouts(gen, m, n, k):
    """(name, x, y) views that are transposed, sliced or misaligned."""
    xb, yb = (
        random_int8(m + 3, 2 * k + 5, generator=gen),
        random_int8(n + 3, 2 * k + 5, generator=gen),
    )
    yield "contiguous", xb[:m, :k].contiguous(), yb[:n, :k].contiguous()
    yield "x transposed", random_int8(k, m, generator=gen).T, yb[:n, :k]
    yield "y transposed", xb[:m, :k], random_int8(k, n, generator=gen).T
    yield "both transposed", random_int8(k, m, generator=gen).T, random_int8(k, n, generator=gen).T
    yield "row slices", xb[1 : m + 1, :k], yb[2 : n + 2, 3 : k + 3]
    yield "column step 2", xb[:m, : 2 * k : 2], yb[:n, 1 : 2 * k + 1 : 2]
    flat = random_int8(m * k + 1, generator=gen)
    yield "storage offset 1", flat[1:].view(m, k), yb[:n, :k].contiguous()
    yield "expanded x", random_int8(1, k, generator=gen).expand(m, k), yb[:n, :k]


@pytest.mark.parametrize("m,n,k", [(5, 9, 31), (64, 128, 256), (33, 40, 48)])
def test_strided_and_misaligned_inputs(target, gen, m, n, k):
    for name, x, y in _layouts(gen, m, n, k):
        out = gemm_int8.matmul(x.to(target), y.to(target), 0.5)
        assert_bitwise_equal(out.cpu(), reference_matmul(x, y, 0.5), name)


def test_out_variant_writes_every_element(target, gen):
    m, n, k = 37, 45, 64
    x, y = random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)
    out = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device=target)  # poisoned
    result = gemm_int8.matmul(x.to(target), y.to(target), 2.0, out=out)
    assert result.data_ptr() == out.data_ptr()
    assert_bitwise_equal(out.cpu(), reference_matmul(x, y, 2.0))


def test_out_variant_strided_outputs(target, gen):
    m, n, k = 19, 24, 32
    x, y = random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)
    expected = reference_matmul(x, y, 1.5)
    views = {
        "transposed": lambda b: b[:n, :m].T,
        "column step 2": lambda b: b[:m, : 2 * n : 2],
        "offset 1": lambda b: b[1 : m + 1, 1 : n + 1],
    }
    for name, view_of in views.items():
        buffer = torch.full(
            (2 * m + 1, 2 * n + 3), float("nan"), dtype=torch.bfloat16, device=target
        )
        gemm_int8.matmul(x.to(target), y.to(target), 1.5, out=view_of(buffer))
        assert_bitwise_equal(view_of(buffer).cpu(), expected, name)
        view_of(buffer).fill_(float("nan"))
        assert bool(buffer.isnan().all()), f"{name}: wrote outside the out view"


def test_batched_noncontiguous_out(target, gen):
    x, y = random_int8(2, 3, 16, generator=gen), random_int8(8, 16, generator=gen)
    out = torch.full((2, 8, 3), float("nan"), dtype=torch.bfloat16, device=target).transpose(1, 2)
    gemm_int8.matmul(x.to(target), y.to(target), out=out)
    assert_bitwise_equal(out.cpu(), reference_matmul(x.reshape(6, 16), y).reshape(2, 3, 8))


def test_inputs_are_not_modified(target, gen):
    x, y = random_int8(20, 30, generator=gen), random_int8(10, 30, generator=gen)
    xd, yd = x.to(target), y.to(target)
    gemm_int8.matmul(xd, yd)
    assert torch.equal(xd.cpu(), x) and torch.equal(yd.cpu(), y)


def test_many_shapes_in_turn(target, gen):
    # More shapes than a thread keeps plans for (16), twice over, with
    # strides and alignments that change the plan between neighbours.
    cases = []
    for i in range(20):
        m, n, k = 1 + 7 * i, 16 + 8 * (i % 5), 32 + 16 * (i % 3) + (i % 2)
        cases.append((random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)))
    for _ in range(2):
        for x, y in cases:
            out = gemm_int8.matmul(x.to(target), y.to(target), 0.5)
            assert_bitwise_equal(out.cpu(), reference_matmul(x, y, 0.5), f"{x.shape} {y.shape}")


def test_threads_plan_and_run_independently(target, gen):
    import concurrent.futures

    cases = [
        (random_int8(m, k, generator=gen), random_int8(n, k, generator=gen))
        for m, n, k in [(1, 64, 256), (64, 256, 512), (300, 128, 96), (17, 33, 65)]
    ]

    def run(i):
        x, y = cases[i % len(cases)]
        for _ in range(20):
            out = gemm_int8.matmul(x.to(target), y.to(target), 2.0)
        if target == "cuda":
            torch.cuda.synchronize()
        return i, out.cpu()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for i, out in pool.map(run, range(8)):
            x, y = cases[i % len(cases)]
            assert_bitwise_equal(out, reference_matmul(x, y, 2.0), f"thread case {i}")


@requires_cuda
def test_kernel_override_is_read_on_every_call(monkeypatch, gen):
    # Plans are cached per thread; the override is part of what they depend on.
    x, y = random_int8(8, 64, generator=gen).cuda(), random_int8(32, 64, generator=gen).cuda()
    gemm_int8.matmul(x, y)
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "no_such_kernel")
    with pytest.raises(ValueError, match="no_such_kernel"):
        gemm_int8.matmul(x, y)
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "simt")
    assert_bitwise_equal(gemm_int8.matmul(x, y).cpu(), reference_matmul(x.cpu(), y.cpu()), "simt")
    monkeypatch.delenv("GEMM_INT8_FORCE_KERNEL")
    assert_bitwise_equal(gemm_int8.matmul(x, y).cpu(), reference_matmul(x.cpu(), y.cpu()), "auto")
