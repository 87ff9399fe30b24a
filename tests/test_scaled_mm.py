"""Exactness of gemm_int8.scaled_mm on every device and kernel family."""

import gemm_int8
import pytest
import torch
from reference import assert_bitwise_equal, random_int8, reference_scaled_mm

OUT_DTYPES = [torch.bfloat16, torch.float16, torch.float32, torch.int32]
FLOAT_OUT = OUT_DTYPES[:3]
X_SCALES = ["0d", "one", "rows", "column"]  # (), (1,), (M,), (M, 1)
Y_SCALES = ["0d", "one", "rows", "column"]  # (), (1,), (N,), (N, 1)


def _scale(kind, rows, gen):
    """Random float32 scales over a few binades, signs mixed."""
    shape = {"0d": (), "one": (1,), "rows": (rows,), "column": (rows, 1)}[kind]
    mantissa = torch.rand(shape, generator=gen) + 0.5
    exponent = torch.randint(-12, -2, shape, generator=gen).float()
    sign = torch.randint(0, 2, shape, generator=gen).float() * 2 - 1
    return (sign * mantissa * torch.exp2(exponent)).float()


def make_case(gen, m, n, k, out_dtype, xs="rows", ys="rows", bias=None, zp=None):
    """(x, y, kwargs) on the CPU; bias in {None, 'f32', 'out'}, zp in {None, 'row', 'tensor'}."""
    x, y = random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)
    kw = {}
    if out_dtype != torch.int32:
        kw["x_scale"] = None if xs is None else _scale(xs, m, gen)
        kw["y_scale"] = None if ys is None else _scale(ys, n, gen)
        if bias is not None:
            b = torch.randn(n, generator=gen) * 100
            kw["bias"] = b if bias == "f32" else b.to(out_dtype)
    if zp is not None:
        rows = m if zp == "row" else 1
        kw["x_zero_point"] = torch.randint(-128, 128, (rows,), dtype=torch.int32, generator=gen)
        kw["y_sums"] = y.to(torch.int32).sum(1, dtype=torch.int32)
    return x, y, kw


def run(target, x, y, kw, out_dtype, out=None):
    dev = {k: (v.to(target) if v is not None else None) for k, v in kw.items()}
    xs, ys = dev.pop("x_scale", None), dev.pop("y_scale", None)
    o = None if out is None else out.to(target)
    result = gemm_int8.scaled_mm(
        x.to(target), y.to(target), xs, ys, out_dtype=out_dtype, out=o, **dev
    )
    assert result.device.type == target and result.dtype == out_dtype
    return result


def check(target, x, y, kw, out_dtype, what):
    got = run(target, x, y, kw, out_dtype)
    expected = reference_scaled_mm(x.flatten(0, -2), y, out_dtype=out_dtype, **kw)
    assert_bitwise_equal(got.reshape(expected.shape), expected, what)


@pytest.mark.parametrize("out_dtype", FLOAT_OUT, ids=str)
@pytest.mark.parametrize("xs", X_SCALES + [None])
@pytest.mark.parametrize("ys", Y_SCALES + [None])
def test_scale_granularity(target, gen, out_dtype, xs, ys):
    x, y, kw = make_case(gen, 7, 13, 33, out_dtype, xs, ys)
    check(target, x, y, kw, out_dtype, f"xs={xs} ys={ys}")


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
@pytest.mark.parametrize("bias", [None, "f32", "out"])
@pytest.mark.parametrize("zp", [None, "row", "tensor"])
def test_bias_and_zero_point(target, gen, out_dtype, bias, zp):
    if out_dtype == torch.int32 and bias is not None:
        pytest.skip("int32 output takes no bias")
    x, y, kw = make_case(gen, 17, 40, 65, out_dtype, bias=bias, zp=zp)
    check(target, x, y, kw, out_dtype, f"bias={bias} zp={zp}")


SHAPES = [(1, 1, 1), (1, 64, 256), (7, 13, 33), (100, 257, 129), (300, 500, 700), (5, 9, 1000)]


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_shapes_full_epilogue(target, gen, out_dtype, m, n, k):
    x, y, kw = make_case(gen, m, n, k, out_dtype, "rows", "column", bias="f32", zp="row")
    check(target, x, y, kw, out_dtype, f"{m}x{n}x{k}")


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
@pytest.mark.parametrize("m,n", [(0, 5), (5, 0), (3, 4)])
def test_empty(target, gen, out_dtype, m, n):
    """M or N = 0: nothing to do; K = 0: every value is the epilogue of acc = 0."""
    k = 0 if m and n else 8
    x, y, kw = make_case(gen, m, n, k, out_dtype, bias="f32", zp="row")
    check(target, x, y, kw, out_dtype, f"{m}x{n}x{k}")


@pytest.mark.parametrize("batch", [(2,), (3, 5)])
def test_batch_dims(target, gen, batch):
    m = int(torch.tensor(batch).prod())
    x2d, y, kw = make_case(gen, m, 24, 40, torch.float16, "column", "rows", "out", "row")
    x = x2d.reshape(*batch, 40)
    got = run(target, x, y, kw, torch.float16)
    assert got.shape == (*batch, 24)
    expected = reference_scaled_mm(x2d, y, out_dtype=torch.float16, **kw)
    assert_bitwise_equal(got.reshape(m, 24), expected)


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
@pytest.mark.parametrize("vx,vy", [(-128, -128), (127, 127), (-128, 127)])
def test_extreme_values(target, out_dtype, vx, vy):
    m, n, k = 3, 17, 16384
    x = torch.full((m, k), vx, dtype=torch.int8)
    y = torch.full((n, k), vy, dtype=torch.int8)
    kw = {"x_zero_point": torch.tensor([-128, 0, 127], dtype=torch.int32)}
    kw["y_sums"] = y.to(torch.int32).sum(1, dtype=torch.int32)
    if out_dtype != torch.int32:
        kw |= {"x_scale": torch.tensor([1e-3, -1.0, 3.0]), "y_scale": torch.tensor(0.5)}
    check(target, x, y, kw, out_dtype, f"{vx}*{vy}")


@pytest.mark.parametrize("out_dtype", FLOAT_OUT, ids=str)
def test_signed_zeros(target, out_dtype):
    """acc = 0 with a negative scale: -0.0 without bias, +0.0 with a +0.0 bias."""
    x = torch.zeros((4, 16), dtype=torch.int8)
    y = torch.ones((6, 16), dtype=torch.int8)
    xs, ys = torch.tensor([-1.0, 1.0, -0.0, 0.0]), torch.tensor([2.0])
    for bias in [None, torch.zeros(6), torch.full((6,), -0.0)]:
        kw = {"x_scale": xs, "y_scale": ys, "bias": bias}
        got = run(target, x, y, kw, out_dtype)
        check(target, x, y, kw, out_dtype, f"bias={bias}")
        if bias is None:
            assert bool(torch.signbit(got[0].float()).all()), "-1 * 0 without bias must be -0.0"
        elif not torch.signbit(bias[0]):
            assert not bool(torch.signbit(got.float()).any()), "+0.0 bias must give +0.0"


@pytest.mark.parametrize("out_dtype", FLOAT_OUT, ids=str)
def test_non_finite_scales(target, gen, out_dtype):
    x, y = random_int8(4, 32, generator=gen), random_int8(5, 32, generator=gen)
    x[1] = 0  # inf * 0 = NaN
    xs = torch.tensor([float("nan"), float("inf"), -float("inf"), 1e38])
    ys = torch.tensor([1.0, -1.0, 0.0, 1e10, float("inf")])
    kw = {"x_scale": xs, "y_scale": ys, "bias": torch.randn(5, generator=gen)}
    check(target, x, y, kw, out_dtype, "nan/inf scales")


@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
def test_out_variant_poisoned(target, gen, out_dtype):
    m, n, k = 37, 45, 64
    x, y, kw = make_case(gen, m, n, k, out_dtype, "rows", "one", bias="out", zp="tensor")
    expected = reference_scaled_mm(x, y, out_dtype=out_dtype, **kw)
    poison = -1 if out_dtype == torch.int32 else float("nan")
    buffer = torch.full((2 * m + 1, 2 * n + 3), poison, dtype=out_dtype, device=target)
    views = {
        "contiguous": lambda b: b[:m, :n],
        "transposed": lambda b: b[:n, :m].T,
        "column step 2": lambda b: b[:m, : 2 * n : 2],
        "offset 1": lambda b: b[1 : m + 1, 1 : n + 1],
    }
    for name, view_of in views.items():
        out = view_of(buffer)
        result = run(target, x, y, kw, out_dtype, out=out)
        assert result.data_ptr() == out.data_ptr()
        assert_bitwise_equal(out, expected, name)
        out.fill_(poison)
        assert bool((buffer.isnan() if poison != -1 else buffer == -1).all()), name


def test_strided_and_transposed_x(target, gen):
    m, n, k = 33, 40, 48
    _, y, kw = make_case(gen, m, n, k, torch.bfloat16, "rows", "rows", "f32", "row")
    layouts = {
        "transposed": random_int8(k, m, generator=gen).T,
        "column step 2": random_int8(m, 2 * k, generator=gen)[:, ::2],
        "offset 1": random_int8(m * k + 1, generator=gen)[1:].view(m, k),
    }
    for name, x in layouts.items():
        check(target, x, y, kw, torch.bfloat16, name)
        check(target, x, y.T.contiguous().T, kw, torch.bfloat16, name + ", y transposed")
