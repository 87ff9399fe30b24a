"""gemm_int8.row_sums: exact int32 row sums of int8 matrices of any layout."""

import gemm_int8
import pytest
import torch
from reference import assert_bitwise_equal, random_int8


def expected(y):
    return y.cpu().to(torch.int64).sum(1).to(torch.int32)


@pytest.mark.parametrize(
    "n,k", [(1, 1), (7, 33), (257, 129), (3, 4096), (1000, 17), (5, 0), (0, 9)]
)
def test_random(device, gen, n, k):
    y = random_int8(n, k, generator=gen)
    got = gemm_int8.row_sums(y.to(device))
    assert got.dtype == torch.int32 and got.shape == (n,) and got.device.type == device
    assert_bitwise_equal(got, expected(y), f"{n}x{k}")


@pytest.mark.parametrize("value", [-128, 127])
@pytest.mark.parametrize("k", [1, 131071, 1 << 20])
def test_extremes(device, value, k):
    y = torch.full((3, k), value, dtype=torch.int8)
    assert_bitwise_equal(gemm_int8.row_sums(y.to(device)), expected(y), f"{value} k={k}")


def test_strided_layouts(device, gen):
    n, k = 67, 301
    base = random_int8(2 * n + 3, 2 * k + 17, generator=gen)
    layouts = {
        "transposed": random_int8(k, n, generator=gen).T,
        "column step 2": base[:n, : 2 * k : 2],
        "row step 2": base[: 2 * n : 2, :k],
        "offset 1": base[1 : n + 1, 1 : k + 1],
        "offset 5": random_int8(n * k + 16, generator=gen)[5:].as_strided((n, k), (k + 0, 1)),
        "expanded": random_int8(1, k, generator=gen).expand(n, k),
    }
    for name, y in layouts.items():
        assert_bitwise_equal(gemm_int8.row_sums(y.to(device)), expected(y), name)
    for shift in range(17):  # every misalignment of the 16-byte loads
        y = base[:, shift : shift + k]
        assert_bitwise_equal(gemm_int8.row_sums(y.to(device)), expected(y), f"shift {shift}")


def test_bad_inputs(device):
    with pytest.raises(TypeError, match=r"y: expected int8, got float32"):
        gemm_int8.row_sums(torch.zeros((2, 3), device=device))
    with pytest.raises(ValueError, match=r"y: expected a 2-D tensor of shape \(N, K\)"):
        gemm_int8.row_sums(torch.zeros(3, dtype=torch.int8, device=device))
