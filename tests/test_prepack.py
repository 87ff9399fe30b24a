"""prepack and operands whose K is ragged but whose rows start 16 bytes apart.

Hopper's TMA rows read such operands in place and zero-fill past K: the bytes
between K and the pitch must never reach a sum, so the tests fill them with
random values (a prepacked weight holds zeros there, which would hide it).
"""

import io

import gemm_int8
import pytest
import torch
from conftest import requires_cuda
from reference import assert_bitwise_equal, random_int8, reference_matmul, reference_scaled_mm


def _poisoned_view(rows: int, k: int, device: str, gen: torch.Generator) -> torch.Tensor:
    """Random int8 (rows, k) in rows 16 bytes apart, random bytes past K."""
    pitch = -(-k // 16) * 16
    return random_int8(rows, pitch, generator=gen).to(device)[:, :k]


def test_prepack_pads_the_pitch_and_keeps_the_values(device, gen):
    y = random_int8(37, 100, generator=gen).to(device)
    packed = gemm_int8.prepack(y)
    assert packed.shape == y.shape and packed.dtype == torch.int8
    assert packed.stride() == (112, 1) and packed.data_ptr() % 16 == 0
    assert torch.equal(packed, y)
    assert torch.equal(packed.contiguous(), y)
    base = packed.as_strided((37, 112), (112, 1))
    assert not base[:, 100:].any(), "the padding holds zeros"


def test_prepack_returns_a_laid_out_operand_as_is(device, gen):
    y = random_int8(64, 128, generator=gen).to(device)
    assert gemm_int8.prepack(y) is y
    packed = gemm_int8.prepack(random_int8(5, 30, generator=gen).to(device))
    assert gemm_int8.prepack(packed) is packed


def test_prepack_lays_out_transposed_and_offset_views(device, gen):
    y = random_int8(128, 64, generator=gen).to(device)
    for view in (y.t(), y[:, 1:], y[1:, :]):
        packed = gemm_int8.prepack(view)
        assert torch.equal(packed, view)
        assert packed.stride(1) == 1 and packed.stride(0) % 16 == 0


def test_prepack_compiles(device, gen):
    view = _poisoned_view(9, 30, device, gen)
    packed = torch.compile(gemm_int8.prepack, fullgraph=True)(view.contiguous())
    assert torch.equal(packed, view) and packed.stride(0) % 16 == 0


def test_prepack_bad_inputs(device):
    with pytest.raises(TypeError, match="y: expected int8, got float32"):
        gemm_int8.prepack(torch.zeros(4, 4, device=device))
    with pytest.raises(ValueError, match=r"y: expected shape \(N, K\), got \(4,\)"):
        gemm_int8.prepack(torch.zeros(4, dtype=torch.int8, device=device))
    with pytest.raises(TypeError, match="y: expected a tensor, got list"):
        gemm_int8.prepack([[1]])


@pytest.mark.parametrize("m,n,k", [(1, 300, 100), (7, 33, 1), (300, 1001, 4095), (64, 64, 15)])
def test_ragged_k_in_padded_rows_is_exact(target, gen, m, n, k):
    """matmul on x and y in padded rows with random bytes past K (every CUDA family)."""
    x = _poisoned_view(m, k, target, gen)
    y = _poisoned_view(n, k, target, gen)
    out = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device=target)
    gemm_int8.matmul(x, y, 0.25, out=out)
    assert_bitwise_equal(out, reference_matmul(x, y, 0.25), f"{m}x{n}x{k}")


def test_prepacked_weight_in_scaled_mm_is_exact(target, gen):
    m, n, k = 45, 70, 4095
    x, y = random_int8(m, k, generator=gen), random_int8(n, k, generator=gen)
    x_scale, y_scale = torch.rand(m, generator=gen) / 64, torch.rand(n, generator=gen) / 64
    bias = torch.randn(n, generator=gen)
    expected = reference_scaled_mm(x, y, x_scale, y_scale, bias=bias, out_dtype=torch.float16)
    on = [t.to(target) for t in (x, y, x_scale, y_scale, bias)]
    out = gemm_int8.scaled_mm(
        on[0], gemm_int8.prepack(on[1]), on[2], on[3], bias=on[4], out_dtype=torch.float16
    )
    assert_bitwise_equal(out.cpu(), expected)


def _sm90_rows():
    from gemm_int8.benchmark.contenders import table_rows

    return table_rows("sm90")


@requires_cuda
@pytest.mark.parametrize("row", _sm90_rows())
def test_every_sm90_row_reads_ragged_k_in_place(monkeypatch, gen, row):
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("sm90 rows run on sm_90 only")
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", row)
    for m, n, k in [(1, 4096, 4095), (17, 200, 97), (129, 4097, 1000), (600, 520, 8191)]:
        x = _poisoned_view(m, k, "cuda", gen)
        y = _poisoned_view(n, k, "cuda", gen)
        assert_bitwise_equal(
            gemm_int8.matmul(x, y, -0.5), reference_matmul(x, y, -0.5), f"{row} {m}x{n}x{k}"
        )


def _layer(k: int, device: str) -> gemm_int8.nn.Int8Linear:
    torch.manual_seed(0)
    return gemm_int8.nn.Int8Linear.from_linear(torch.nn.Linear(k, 24)).to(device)


def test_int8_linear_prepacks_a_ragged_weight(device):
    layer = _layer(100, device)
    assert layer.weight.stride() == (112, 1)
    x = torch.randn(5, 100, device=device)
    expected = gemm_int8.scaled_mm(
        gemm_int8.quantize(x)[0],
        layer.weight.contiguous(),
        gemm_int8.quantize(x)[1].view(-1),
        layer.weight_scale,
        bias=layer.bias,
        out_dtype=torch.float32,
    )
    assert_bitwise_equal(layer(x), expected)


def test_int8_linear_state_dict_of_a_prepacked_weight_round_trips(device):
    layer = _layer(100, device)
    state = layer.state_dict()
    assert state["weight"].is_contiguous()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh = gemm_int8.nn.Int8Linear(100, 24, device=device)
    fresh.load_state_dict(torch.load(buffer))
    assert fresh.weight.stride() == (112, 1)
    assigned = gemm_int8.nn.Int8Linear(100, 24, device=device)
    assigned.load_state_dict(layer.state_dict(), assign=True)
    assert assigned.weight.stride() == (112, 1)
    x = torch.randn(3, 100, device=device)
    assert torch.equal(fresh(x), layer(x)) and torch.equal(assigned(x), layer(x))


@requires_cuda
def test_int8_linear_moved_between_devices_stays_prepacked():
    layer = _layer(100, "cpu").cuda()
    assert layer.weight.is_cuda and layer.weight.stride() == (112, 1)
    assert layer.cpu().weight.stride() == (112, 1)


def test_int8_linear_ragged_weight_compiles(device):
    torch._dynamo.reset()
    layer = _layer(100, device)
    x = torch.randn(6, 100, device=device)
    compiled = torch.compile(layer, fullgraph=True)
    assert torch.equal(compiled(x), layer(x))
