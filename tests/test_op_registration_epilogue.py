"""The epilogue ops are real PyTorch operators: opcheck, torch.compile, CUDA graphs."""

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, random_int8, reference_matmul, reference_scaled_mm

OUT_DTYPES = [torch.bfloat16, torch.float16, torch.float32, torch.int32]


def _f32(*shape, device):
    return torch.rand(shape, dtype=torch.float32, device=device) - 0.5


def scaled_samples(device):
    """(args, kwargs) for gemm_int8::scaled_mm over operand kinds and shapes."""
    x, y = random_int8(8, 32, device=device), random_int8(16, 32, device=device)
    sums = gemm_int8.row_sums(y)
    zp = torch.randint(-128, 128, (8,), dtype=torch.int32, device=device)
    xb = random_int8(2, 5, 24, device=device)
    yb = random_int8(9, 24, device=device)
    return [
        ((x, y, _f32(8, device=device), _f32(16, device=device)), {}),
        ((x, y, _f32(8, 1, device=device), _f32(device=device)), {"out_dtype": torch.float16}),
        ((x, y, None, None), {"x_zero_point": zp, "y_sums": sums, "out_dtype": torch.int32}),
        (
            (x, y, _f32(1, device=device), _f32(16, 1, device=device)),
            {
                "bias": _f32(16, device=device),
                "x_zero_point": zp[:1],
                "y_sums": sums,
                "out_dtype": torch.float32,
            },
        ),
        ((xb, yb, _f32(10, device=device), None), {"bias": _f32(9, device=device).bfloat16()}),
        ((x.T.contiguous().T, y, None, _f32(16, device=device)), {}),
        ((random_int8(0, 8, device=device), y[:, :8], None, None), {}),
    ]


def test_opcheck_matmul_out_dtype(device):
    x, y = random_int8(8, 32, device=device), random_int8(16, 32, device=device)
    for out_dtype in OUT_DTYPES:
        alpha = 1.0 if out_dtype == torch.int32 else 0.5
        kwargs = {"out_dtype": out_dtype}
        torch.library.opcheck(torch.ops.gemm_int8.matmul.default, (x, y, alpha), kwargs)
        out = torch.empty((8, 16), dtype=out_dtype, device=device)
        torch.library.opcheck(torch.ops.gemm_int8.matmul_out.default, (x, y, alpha), {"out": out})


def test_opcheck_scaled_mm(device):
    for args, kwargs in scaled_samples(device):
        torch.library.opcheck(torch.ops.gemm_int8.scaled_mm.default, args, kwargs)
        x, y = args[0], args[1]
        out_dtype = kwargs.get("out_dtype", torch.bfloat16)
        out_kwargs = {k: v for k, v in kwargs.items() if k != "out_dtype"}
        out_kwargs["out"] = torch.empty((*x.shape[:-1], y.shape[0]), dtype=out_dtype, device=device)
        torch.library.opcheck(torch.ops.gemm_int8.scaled_mm_out.default, args, out_kwargs)


def test_opcheck_row_sums_and_alias(device):
    for y in [random_int8(7, 33, device=device), random_int8(40, 9, device=device).T]:
        torch.library.opcheck(torch.ops.gemm_int8.row_sums.default, (y,))
    x = random_int8(5, 16, device=device)
    # The original library's test, verbatim.
    torch.library.opcheck(torch.ops.gemm_int8_CUDA.int8_matmul.default, (x, x, 1.0))
    out = torch.ops.gemm_int8_CUDA.int8_matmul(x, x, -2.0)
    assert_bitwise_equal(out, reference_matmul(x.cpu(), x.cpu(), -2.0))


def test_torch_compile_epilogue_ops(device):
    torch._dynamo.reset()

    def layer(x, y, xs, ys, bias, zp, alpha):
        sums = gemm_int8.row_sums(y)
        a = gemm_int8.scaled_mm(
            x, y, xs, ys, bias=bias, x_zero_point=zp, y_sums=sums, out_dtype=torch.float32
        )
        b = gemm_int8.matmul(x, y, alpha, out_dtype=torch.float16)
        c = torch.ops.gemm_int8_CUDA.int8_matmul(x, y, 0.5)
        out = torch.empty_like(a)
        gemm_int8.scaled_mm(x, y, xs, None, out_dtype=torch.float32, out=out)
        return a, b, c, out, sums

    compiled = torch.compile(layer, fullgraph=True, dynamic=True)
    for m in (5, 17, 64):
        x, y = random_int8(m, 48, device=device), random_int8(24, 48, device=device)
        xs, ys, bias = _f32(m, device=device), _f32(24, device=device), _f32(24, device=device)
        zp = torch.randint(-128, 128, (m,), dtype=torch.int32, device=device)
        alpha = torch.tensor(0.25, device=device)
        a, b, c, out, sums = compiled(x, y, xs, ys, bias, zp, alpha)
        xc, yc, sc = x.cpu(), y.cpu(), sums.cpu()
        assert torch.equal(sc, yc.int().sum(1, dtype=torch.int32))
        ref = reference_scaled_mm(
            xc,
            yc,
            xs.cpu(),
            ys.cpu(),
            bias=bias.cpu(),
            x_zero_point=zp.cpu(),
            y_sums=sc,
            out_dtype=torch.float32,
        )
        assert_bitwise_equal(a, ref, f"scaled_mm m={m}")
        assert_bitwise_equal(b, reference_matmul(xc, yc, 0.25, torch.float16), f"matmul m={m}")
        assert_bitwise_equal(c, reference_matmul(xc, yc, 0.5), f"int8_matmul m={m}")
        expected_out = reference_scaled_mm(xc, yc, xs.cpu(), out_dtype=torch.float32)
        assert_bitwise_equal(out, expected_out, f"scaled_mm_out m={m}")


@requires_cuda
def test_cuda_graph_with_device_scales(cuda_family):
    m, n, k = 64, 200, 256
    x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device="cuda")
    y = torch.randint(-128, 128, (n, k), dtype=torch.int8, device="cuda")
    alpha = torch.tensor([0.5], device="cuda")
    xs, ys, bias = _f32(m, device="cuda"), _f32(n, device="cuda"), _f32(n, device="cuda")
    zp = torch.randint(-128, 128, (m,), dtype=torch.int32, device="cuda")

    def step():
        sums = gemm_int8.row_sums(y)
        a = gemm_int8.matmul(x, y, alpha)
        b = gemm_int8.scaled_mm(
            x, y, xs, ys, bias=bias, x_zero_point=zp, y_sums=sums, out_dtype=torch.float16
        )
        return a, b

    step()  # warm up outside capture (plans, lazy module load)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        a, b = step()
    for replay in range(3):
        alpha.fill_(-0.25 * (replay + 1))
        xs.copy_(_f32(m, device="cuda"))
        ys.copy_(_f32(n, device="cuda"))
        bias.copy_(_f32(n, device="cuda"))
        zp.random_(-128, 128)
        y.copy_(torch.randint(-128, 128, y.shape, dtype=torch.int8, device="cuda"))
        graph.replay()
        torch.cuda.synchronize()
        xc, yc = x.cpu(), y.cpu()
        assert_bitwise_equal(a, reference_matmul(xc, yc, -0.25 * (replay + 1)), f"{replay}")
        ref = reference_scaled_mm(
            xc,
            yc,
            xs.cpu(),
            ys.cpu(),
            bias=bias.cpu(),
            x_zero_point=zp.cpu(),
            y_sums=yc.int().sum(1, dtype=torch.int32),
            out_dtype=torch.float16,
        )
        assert_bitwise_equal(b, ref, f"replay {replay}")


@pytest.mark.parametrize("op", ["scaled_mm", "row_sums", "int8_matmul"])
def test_fake_tensor_shapes(op):
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty((3, 4, 64), dtype=torch.int8)
        y = torch.empty((32, 64), dtype=torch.int8)
        if op == "scaled_mm":
            out = gemm_int8.scaled_mm(x, y, None, torch.empty(32), out_dtype=torch.float16)
            assert out.shape == (3, 4, 32) and out.dtype == torch.float16
        elif op == "row_sums":
            out = gemm_int8.row_sums(y)
            assert out.shape == (32,) and out.dtype == torch.int32
        else:
            out = torch.ops.gemm_int8_CUDA.int8_matmul(y, y, 1.0)
            assert out.shape == (32, 32) and out.dtype == torch.bfloat16
