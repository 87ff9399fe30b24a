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
    import re
    from pathlib import Path

    rows = []
    for table in sorted(
        (Path(__file__).parents[1] / "csrc" / "kernels").glob("*/tile_configs.def")
    ):
        family = table.parent.name
        for line in table.read_text().splitlines():
            match = re.match(rf"GEMM_INT8_{family.upper()}_CONFIG\((\w+),", line)
            if match:
                rows.append((family, f"{family}_{match.group(1)}"))
    return rows


@requires_cuda
@pytest.mark.parametrize("family,row", _config_rows())
def test_every_config_row(monkeypatch, family, row):
    capability = torch.cuda.get_device_capability()
    if (family == "sm90" and capability != (9, 0)) or (
        family in ("sm80", "skinny") and capability < (8, 0)
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
@pytest.mark.parametrize(
    "split",
    ["heuristic", "dataparallel", "streamk", "splitk:3", "splitk:4:atomic", "streamk:atomic"],
)
@pytest.mark.parametrize(
    "row", ["sm90_swap_t128x16x256_c1x1_coop_sk", "sm90_t128x128x128_c2x1_coop_sk"]
)
def test_sm90_split_options(monkeypatch, row, split):
    """Every way of splitting K gives the same bits (int32 partial sums)."""
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("sm90 rows run only on sm_90")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", row)
    monkeypatch.setenv("GEMM_INT8_SM90_SPLIT", split)
    for m, n, k in [(1, 4096, 4096), (200, 1000, 4000), (33, 4097, 8192), (512, 4096, 14336)]:
        x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device="cuda")
        y = torch.randint(-128, 128, (n, k), dtype=torch.int8, device="cuda")
        assert_bitwise_equal(
            gemm_int8.matmul(x, y, -0.25), reference_matmul(x, y, -0.25), f"{split} {m}x{n}x{k}"
        )


@requires_cuda
def test_sm90_split_override_rejects_bad_text(monkeypatch):
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("the override applies to sm90 rows only")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "sm90")
    monkeypatch.setenv("GEMM_INT8_SM90_SPLIT", "splitk:zero")
    x = torch.ones(512, 4096, dtype=torch.int8, device="cuda")
    with pytest.raises(ValueError, match="GEMM_INT8_SM90_SPLIT"):
        gemm_int8.matmul(x, x, 1.0)
    monkeypatch.delenv("GEMM_INT8_SM90_SPLIT")
    torch.cuda.synchronize()
