"""Bad epilogue operands: a clear exception naming the argument, never a crash."""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, random_int8, reference_scaled_mm

M, N, K = 4, 6, 8


def _call(device, out_dtype=torch.bfloat16, out=None, **kw):
    x, y = random_int8(M, K, device=device), random_int8(N, K, device=device)
    xs, ys = kw.pop("x_scale", None), kw.pop("y_scale", None)
    return gemm_int8.scaled_mm(x, y, xs, ys, out_dtype=out_dtype, out=out, **kw)


def _f32(*shape, device="cpu"):
    return torch.ones(shape, dtype=torch.float32, device=device)


def _i32(*shape, device="cpu"):
    return torch.ones(shape, dtype=torch.int32, device=device)


@pytest.mark.parametrize(
    "name,shape,match",
    [
        ("x_scale", (3,), r"x_scale: expected 1 or 4 values \(one per row of x\), got 3"),
        ("x_scale", (N,), r"x_scale: expected 1 or 4 values"),
        (
            "x_scale",
            (M, 2),
            r"x_scale: expected shape \(M,\), \(M, 1\), \(1,\) or \(\), got \[4, 2\]",
        ),
        ("x_scale", (1, M), r"x_scale: expected shape \(M,\).*got \[1, 4\]"),
        ("x_scale", (2, 2, 1), r"x_scale: expected shape"),
        ("y_scale", (M,), r"y_scale: expected 1 or 6 values \(one per row of y\), got 4"),
        ("y_scale", (N, 3), r"y_scale: expected shape \(N,\), \(N, 1\), \(1,\) or \(\)"),
        ("bias", (1,), r"bias: expected 6 values \(one per row of y\), got 1"),
        ("bias", (N, 1), r"bias: expected shape \(N,\), got \[6, 1\]"),
        ("bias", (), r"bias: expected shape \(N,\), got \[\]"),
    ],
)
def test_wrong_shape(device, name, shape, match):
    with pytest.raises(ValueError, match=match):
        _call(device, **{name: _f32(*shape, device=device)})


def test_wrong_zero_point_shapes(device):
    with pytest.raises(ValueError, match=r"x_zero_point: expected 1 or 4 values"):
        _call(device, x_zero_point=_i32(3, device=device), y_sums=_i32(N, device=device))
    with pytest.raises(ValueError, match=r"y_sums: expected 6 values \(the row sums of y\)"):
        _call(device, x_zero_point=_i32(M, device=device), y_sums=_i32(1, device=device))


@pytest.mark.parametrize("name", ["x_scale", "y_scale", "bias"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.int32])
def test_wrong_scale_dtype(device, name, dtype):
    if name == "bias" and dtype == torch.bfloat16:
        pytest.skip("a bias in the output dtype is valid")
    size = M if name == "x_scale" else N
    with pytest.raises(TypeError, match=rf"{name}: expected float32.*got"):
        _call(device, **{name: _f32(size, device=device).to(dtype)})


def test_bias_in_the_output_dtype(device):
    with pytest.raises(TypeError, match=r"bias: expected float32 or the output dtype float16"):
        _call(device, out_dtype=torch.float16, bias=_f32(N, device=device).bfloat16())
    _call(device, out_dtype=torch.float16, bias=_f32(N, device=device).half())


@pytest.mark.parametrize("name", ["x_zero_point", "y_sums"])
def test_wrong_zero_point_dtype(device, name):
    kw = {"x_zero_point": _i32(M, device=device), "y_sums": _i32(N, device=device)}
    kw[name] = kw[name].to(torch.int64)
    with pytest.raises(TypeError, match=rf"{name}: expected int32, got int64"):
        _call(device, **kw)


def test_non_contiguous_vectors(device):
    with pytest.raises(ValueError, match=r"x_scale: expected contiguous values, got stride 2"):
        _call(device, x_scale=_f32(2 * M, device=device)[::2])
    with pytest.raises(ValueError, match=r"y_scale: expected contiguous values, got stride 3"):
        _call(device, y_scale=_f32(N, 3, device=device)[:, :1])
    with pytest.raises(ValueError, match=r"bias: expected contiguous values"):
        _call(device, bias=_f32(N, 2, device=device)[:, 0])


def test_zero_point_and_row_sums_come_together(device):
    with pytest.raises(ValueError, match=r"y_sums: required with x_zero_point.*row_sums"):
        _call(device, x_zero_point=_i32(M, device=device))
    with pytest.raises(ValueError, match=r"y_sums: given without x_zero_point"):
        _call(device, y_sums=_i32(N, device=device))


def test_int32_output_takes_no_scales(device):
    for name, value in [("x_scale", _f32(M)), ("y_scale", _f32(1)), ("bias", _f32(N))]:
        with pytest.raises(ValueError, match=rf"{name}: int32 output is the exact accumulator"):
            _call(device, out_dtype=torch.int32, **{name: value.to(device)})


@pytest.mark.parametrize("out_dtype", [torch.float64, torch.int8, torch.int64])
def test_unsupported_out_dtype(device, out_dtype):
    with pytest.raises(TypeError, match=r"out: expected bfloat16, float16, float32 or int32"):
        _call(device, out_dtype=out_dtype)
    with pytest.raises(TypeError, match=r"out: expected bfloat16, float16, float32 or int32"):
        _call(device, out_dtype=out_dtype, out=torch.empty((M, N), dtype=out_dtype, device=device))


def test_out_of_another_dtype_than_out_dtype(device):
    out = torch.empty((M, N), dtype=torch.float32, device=device)
    with pytest.raises(TypeError, match=r"out: expected bfloat16, got float32 \(out_dtype is"):
        _call(device, out=out)
    x, y = random_int8(M, K, device=device), random_int8(N, K, device=device)
    with pytest.raises(TypeError, match=r"out: expected int32, got float32"):
        gemm_int8.matmul(x, y, out_dtype=torch.int32, out=out)


def test_out_overlapping_a_vector(device):
    out = torch.empty((M, N), dtype=torch.float32, device=device)
    with pytest.raises(ValueError, match=r"out overlaps bias"):
        _call(device, out_dtype=torch.float32, out=out, bias=out.view(-1)[:N])


@requires_cuda
def test_vector_on_another_device():
    for name, size in [("x_scale", M), ("y_scale", N), ("bias", N)]:
        with pytest.raises(ValueError, match=rf"{name} is on cpu but x is on cuda:0"):
            _call("cuda", **{name: _f32(size)})
        with pytest.raises(ValueError, match=rf"{name} is on cuda:0 but x is on cpu"):
            _call("cpu", **{name: _f32(size, device="cuda")})


@requires_cuda
def test_context_usable_after_errors():
    bad = [
        {"x_scale": _f32(3, device="cuda")},
        {"x_scale": _f32(M)},
        {"x_zero_point": _i32(M, device="cuda")},
        {"bias": _f32(N, device="cuda").double()},
        {"out_dtype": torch.int32, "y_scale": _f32(N, device="cuda")},
    ]
    for kw in bad:
        with pytest.raises((ValueError, TypeError)):
            _call("cuda", **kw)
    x, y = random_int8(M, K, device="cuda"), random_int8(N, K, device="cuda")
    xs, ys = _f32(M, device="cuda") * 0.5, _f32(N, device="cuda")
    out = gemm_int8.scaled_mm(x, y, xs, ys)
    torch.cuda.synchronize()
    assert_bitwise_equal(out, reference_scaled_mm(x.cpu(), y.cpu(), xs.cpu(), ys.cpu()))
