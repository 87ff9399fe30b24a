"""The ops are real PyTorch operators: schema, fake impl, opcheck, torch.compile."""

import gemm_int8
import pytest
import torch
from reference import assert_bitwise_equal, random_int8, reference_matmul


def sample_inputs(device):
    """(args, kwargs) for torch.ops.gemm_int8.matmul over the shape classes."""
    return [
        ((random_int8(8, 32, device=device), random_int8(16, 32, device=device)), {}),
        ((random_int8(1, 7, device=device), random_int8(3, 7, device=device), 0.5), {}),
        ((random_int8(2, 5, 24, device=device), random_int8(9, 24, device=device), -2.0), {}),
        ((random_int8(24, 5, device=device).T, random_int8(6, 24, device=device)), {}),
        ((random_int8(0, 8, device=device), random_int8(4, 8, device=device)), {}),
    ]


SCHEMAS = {
    "gemm_int8::matmul": "matmul(Tensor x, Tensor y, float alpha=1., *, "
    "ScalarType? out_dtype=None) -> Tensor",
    "gemm_int8::matmul_out": "matmul_out(Tensor x, Tensor y, float alpha=1., *, "
    "Tensor(a!) out) -> ()",
    "gemm_int8::scaled_mm": "scaled_mm(Tensor x, Tensor y, Tensor? x_scale, Tensor? y_scale, *, "
    "Tensor? bias=None, Tensor? x_zero_point=None, Tensor? y_sums=None, "
    "ScalarType? out_dtype=None) -> Tensor",
    "gemm_int8::scaled_mm_out": "scaled_mm_out(Tensor x, Tensor y, Tensor? x_scale, "
    "Tensor? y_scale, *, Tensor? bias=None, Tensor? x_zero_point=None, Tensor? y_sums=None, "
    "Tensor(a!) out) -> ()",
    "gemm_int8::row_sums": "row_sums(Tensor y) -> Tensor",
    "gemm_int8::quantize": 'quantize(Tensor x, str granularity="row", *, bool asymmetric=False, '
    "bool hadamard=False) -> (Tensor, Tensor, Tensor?)",
    "gemm_int8::hadamard": "hadamard(Tensor x) -> Tensor",
    "gemm_int8::_capture_id": "_capture_id(Tensor like) -> int",
    "gemm_int8_CUDA::int8_matmul": "int8_matmul(Tensor A, Tensor B, float alpha) -> Tensor",
}


@pytest.mark.parametrize("qualified", SCHEMAS)
def test_schemas_registered(qualified):
    namespace, name = qualified.split("::")
    schema = str(getattr(getattr(torch.ops, namespace), name).default._schema)
    assert schema == f"{namespace}::{SCHEMAS[qualified]}"


def test_old_positional_calls_still_work():
    x, y = random_int8(3, 16), random_int8(5, 16)
    out = torch.ops.gemm_int8.matmul(x, y, 0.5)
    assert_bitwise_equal(out, reference_matmul(x, y, 0.5))


def test_opcheck(device):
    for args, kwargs in sample_inputs(device):
        torch.library.opcheck(torch.ops.gemm_int8.matmul.default, args, kwargs)
        x, y = args[0], args[1]
        out = torch.empty((*x.shape[:-1], y.shape[0]), dtype=torch.bfloat16, device=device)
        torch.library.opcheck(torch.ops.gemm_int8.matmul_out.default, args, {"out": out})


def test_fake_tensor_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty((3, 4, 64), dtype=torch.int8)
        y = torch.empty((32, 64), dtype=torch.int8)
        out = gemm_int8.matmul(x, y)
        assert out.shape == (3, 4, 32) and out.dtype == torch.bfloat16


def test_fake_impl_rejects_bad_metadata():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(), pytest.raises(RuntimeError, match="K mismatch"):
        gemm_int8.matmul(
            torch.empty((3, 64), dtype=torch.int8), torch.empty((5, 63), dtype=torch.int8)
        )


@pytest.mark.parametrize("dynamic", [True, False])
def test_torch_compile_fullgraph(device, dynamic):
    torch._dynamo.reset()

    def layer(x, y, alpha):
        return gemm_int8.matmul(x, y, alpha).float().relu()

    compiled = torch.compile(layer, fullgraph=True, dynamic=dynamic)
    for m in (5, 17, 64):
        x, y = random_int8(m, 48, device=device), random_int8(24, 48, device=device)
        expected = reference_matmul(x.cpu(), y.cpu(), 0.125).float().relu()
        assert_bitwise_equal(compiled(x, y, 0.125).cpu().bfloat16(), expected.bfloat16(), f"m={m}")


def test_torch_compile_out_variant(device):
    torch._dynamo.reset()

    def f(x, y, out):
        return gemm_int8.matmul(x, y, 2.0, out=out)

    compiled = torch.compile(f, fullgraph=True, dynamic=True)
    x, y = random_int8(9, 32, device=device), random_int8(12, 32, device=device)
    out = torch.empty((9, 12), dtype=torch.bfloat16, device=device)
    compiled(x, y, out)
    assert_bitwise_equal(out.cpu(), reference_matmul(x.cpu(), y.cpu(), 2.0))


def test_kernel_configs_lists_every_table_row():
    names = torch.ops.gemm_int8.kernel_configs()
    assert len(names) == len(set(names))
    assert "simt_t64x64x32" in names and "sm90_t128x256x128_c2x1_coop" in names
    assert {n.split("_", 1)[0] for n in names} == {"simt", "sm80", "sm90", "skinny", "gemv"}
