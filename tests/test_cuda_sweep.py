"""Randomized exactness sweep on the GPU, once per kernel family."""

import os

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, reference_matmul

SWEEP_SHAPES = int(os.environ.get("GEMM_INT8_TEST_SWEEP_SHAPES", "300"))


def _random_shapes(rng: torch.Generator, count: int):
    """M, N, K in 1..5000; a third of each drawn small, so edges get hit often."""
    for _ in range(count):
        dims = []
        for _ in range(3):
            hi = 5000 if torch.rand((), generator=rng).item() > 0.33 else 130
            dims.append(int(torch.randint(1, hi + 1, (), generator=rng)))
        yield tuple(dims)


@requires_cuda
def test_random_shape_sweep(cuda_family):
    seed = int.from_bytes(os.urandom(4), "little")
    rng = torch.Generator().manual_seed(seed)
    data_rng = torch.Generator(device="cuda").manual_seed(seed)
    for m, n, k in _random_shapes(rng, SWEEP_SHAPES):
        x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device="cuda", generator=data_rng)
        y = torch.randint(-128, 128, (n, k), dtype=torch.int8, device="cuda", generator=data_rng)
        alpha = float(torch.empty((), dtype=torch.float64).uniform_(-4, 4, generator=rng))
        out = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device="cuda")
        gemm_int8.matmul(x, y, alpha, out=out)
        assert_bitwise_equal(
            out, reference_matmul(x, y, alpha), f"family={cuda_family} seed={seed} {m}x{n}x{k}"
        )


@requires_cuda
def test_runs_on_current_stream(cuda_family):
    x = torch.randint(-128, 128, (512, 1024), dtype=torch.int8, device="cuda")
    y = torch.randint(-128, 128, (768, 1024), dtype=torch.int8, device="cuda")
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        out = gemm_int8.matmul(x, y)
    stream.synchronize()
    assert_bitwise_equal(out, reference_matmul(x, y))


@requires_cuda
def test_cuda_graph_capture(cuda_family):
    x = torch.randint(-128, 128, (64, 256), dtype=torch.int8, device="cuda")
    y = torch.randint(-128, 128, (200, 256), dtype=torch.int8, device="cuda")
    gemm_int8.matmul(x, y)  # warm up outside capture (plans, lazy module load)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = gemm_int8.matmul(x, y, 0.5)
    x.copy_(torch.randint(-128, 128, x.shape, dtype=torch.int8, device="cuda"))
    graph.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(out, reference_matmul(x, y, 0.5))


def _config_rows():
    """Every row of every family's table, by the name GEMM_INT8_FORCE_KERNEL takes."""
    from gemm_int8.benchmark.contenders import table_rows

    return [(f, row) for f in ("sm80", "sm90", "skinny", "gemv") for row in table_rows(f)]


@requires_cuda
@pytest.mark.parametrize("family,row", _config_rows())
def test_every_config_row(monkeypatch, family, row):
    capability = torch.cuda.get_device_capability()
    if (family == "sm90" and capability != (9, 0)) or (
        family in ("sm80", "skinny", "gemv") and capability < (8, 0)
    ):
        pytest.skip(f"{family} does not run on sm_{capability[0]}{capability[1]}")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", row)
    for m, n, k in [
        (1, 4096, 4096),
        (17, 200, 96),
        (300, 520, 1000),
        (1024, 2048, 4096),
        (129, 4097, 4095),
    ]:
        x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device="cuda")
        y = torch.randint(-128, 128, (n, k), dtype=torch.int8, device="cuda")
        assert_bitwise_equal(
            gemm_int8.matmul(x, y, -0.5), reference_matmul(x, y, -0.5), f"{row} {m}x{n}x{k}"
        )


@requires_cuda
@pytest.mark.parametrize("kernel", ["auto", "sm90_t256x128x128_c2x1_coop_rows"])
@pytest.mark.parametrize(
    "m,n,k", [(300, 1001, 64), (1500, 1001, 4096), (700, 9001, 80), (65, 512, 32), (3, 1, 16)]
)
def test_ragged_n_into_an_odd_pitch_keeps_signed_zeros(monkeypatch, kernel, m, n, k):
    """Ragged N into an out view with an odd pitch: exact, -0.0 kept, nothing outside written."""
    if kernel.startswith("sm90") and torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("sm90 rows run on sm_90 only")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "" if kernel == "auto" else kernel)
    x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device="cuda")
    y = torch.randint(-128, 128, (n, k), dtype=torch.int8, device="cuda")
    x[::3] = 0  # zero accumulators: alpha < 0 must give -0.0
    buffer = torch.full((m + 2, n + 3), float("nan"), dtype=torch.bfloat16, device="cuda")
    out = buffer[1 : m + 1, 1 : n + 1]
    gemm_int8.matmul(x, y, -0.75, out=out)
    assert_bitwise_equal(out, reference_matmul(x, y, -0.75), f"{m}x{n}x{k}")
    out.fill_(float("nan"))
    assert bool(buffer.isnan().all()), "wrote outside the out view"


EPILOGUE_OUT = [torch.bfloat16, torch.float16, torch.float32, torch.int32]


def _full_epilogue(m, n, k, out_dtype, gen):
    """x, y and every epilogue operand (per-row scales, bias, zero point) on the GPU."""
    x = torch.randint(-128, 128, (m, k), dtype=torch.int8, generator=gen)
    y = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=gen)
    kw = {
        "x_zero_point": torch.randint(-128, 128, (m,), dtype=torch.int32, generator=gen),
        "y_sums": y.to(torch.int32).sum(1, dtype=torch.int32),
    }
    if out_dtype != torch.int32:
        kw["x_scale"] = (torch.rand(m, generator=gen) - 0.5) / 64
        kw["y_scale"] = (torch.rand(n, generator=gen) - 0.5) / 64
        kw["bias"] = (torch.randn(n, generator=gen) * 8).to(
            torch.float32 if out_dtype == torch.float32 else out_dtype
        )
    return x, y, kw


@requires_cuda
@pytest.mark.parametrize("out_dtype", EPILOGUE_OUT, ids=str)
@pytest.mark.parametrize("family,row", _config_rows())
def test_every_config_row_full_epilogue(monkeypatch, family, row, out_dtype):
    """Every row of every table, every out dtype, every epilogue operand, odd pitches included."""
    from reference import reference_scaled_mm

    capability = torch.cuda.get_device_capability()
    if (family == "sm90" and capability != (9, 0)) or (
        family in ("sm80", "skinny", "gemv") and capability < (8, 0)
    ):
        pytest.skip(f"{family} does not run on sm_{capability[0]}{capability[1]}")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", row)
    seed = int.from_bytes(os.urandom(4), "little")
    gen = torch.Generator().manual_seed(seed)
    for m, n, k in [(1, 520, 256), (17, 200, 96), (300, 500, 700), (129, 4097, 4095)]:
        x, y, kw = _full_epilogue(m, n, k, out_dtype, gen)
        expected = reference_scaled_mm(x, y, out_dtype=out_dtype, **kw)
        dev = {name: v.cuda() for name, v in kw.items()}
        xs, ys = dev.pop("x_scale", None), dev.pop("y_scale", None)
        # An out view one element in from a NaN/poisoned buffer: odd pitch and offset.
        buffer = torch.full((m + 2, n + 3), -7, dtype=out_dtype, device="cuda")
        out = buffer[1 : m + 1, 1 : n + 1]
        gemm_int8.scaled_mm(x.cuda(), y.cuda(), xs, ys, out_dtype=out_dtype, out=out, **dev)
        assert_bitwise_equal(out.cpu(), expected, f"{row} {out_dtype} seed={seed} {m}x{n}x{k}")
        out.fill_(-7)
        assert bool((buffer == -7).all()), f"{row}: wrote outside the out view"
        # Contiguous rows too: a kernel that pads N must not spill into the next row.
        fresh = gemm_int8.scaled_mm(x.cuda(), y.cuda(), xs, ys, out_dtype=out_dtype, **dev)
        assert_bitwise_equal(fresh.cpu(), expected, f"{row} {out_dtype} contiguous {m}x{n}x{k}")
