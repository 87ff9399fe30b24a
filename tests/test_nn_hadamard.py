"""Int8Linear(hadamard=True) and convert(model, hadamard=True): rotated W8A8
inference, exact against its composition and robust to activation outliers."""

import gemm_int8
import pytest
import torch
import torch.nn.functional as F
from gemm_int8.nn import Int8Linear, convert, unconvert
from reference import assert_bitwise_equal
from torch import nn


def rel_err(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item()


def layer(device, k=96, n=36, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(k, n).to(device)


def test_forward_is_the_rotated_composition(device):
    linear = layer(device)
    q = Int8Linear.from_linear(linear, hadamard=True)
    x = torch.randn(2, 5, 96, device=device)
    qw, sw = gemm_int8.quantize(linear.weight, hadamard=True)
    qx, sx = gemm_int8.quantize(x, hadamard=True)
    expected = gemm_int8.scaled_mm(
        qx, qw, sx.reshape(-1), sw.reshape(-1), bias=linear.bias.float(), out_dtype=x.dtype
    )
    assert_bitwise_equal(q(x), expected)
    with torch.inference_mode():  # the unshared path gives the same bits
        assert_bitwise_equal(q(x.clone()), expected)
    assert rel_err(q(x), F.linear(x, linear.weight, linear.bias)) < 2e-2
    assert "hadamard=True" in repr(q)


def test_rotation_helps_with_activation_outliers(device):
    torch.manual_seed(1)
    linear = nn.Linear(1024, 256, bias=False).to(device)
    x = torch.randn(64, 1024, device=device)
    x[:, 7] *= 100
    exact = F.linear(x.double(), linear.weight.double())
    plain = rel_err(Int8Linear.from_linear(linear)(x), exact)
    rotated = rel_err(Int8Linear.from_linear(linear, hadamard=True)(x), exact)
    assert rotated < 0.5 * plain, (plain, rotated)


def test_state_dict_round_trip_and_mismatches(device):
    q = Int8Linear.from_linear(layer(device), hadamard=True)
    state = q.state_dict()
    assert state["hadamard_rotation"].dtype == torch.bool
    fresh = Int8Linear(96, 36, device=device, hadamard=True)
    fresh.load_state_dict(state)
    x = torch.randn(3, 96, device=device)
    assert_bitwise_equal(fresh(x), q(x))
    with pytest.raises(RuntimeError, match="hadamard_rotation"):
        Int8Linear(96, 36, device=device).load_state_dict(state)
    with pytest.raises(RuntimeError, match="hadamard_rotation"):
        fresh.load_state_dict(Int8Linear(96, 36, device=device).state_dict())


def test_dequantize_and_unconvert_undo_the_rotation(device):
    model = nn.Sequential(layer(device), nn.ReLU(), layer(device, 36, 12, seed=1))
    assert convert(model, hadamard=True, exclude=["2"]) == ["0"]
    weight = layer(device).weight
    assert isinstance(model[0], Int8Linear) and model[0].hadamard
    assert rel_err(model[0].dequantize_weight(torch.float32), weight) < 1e-2
    assert unconvert(model) == ["0"]
    assert type(model[0]) is nn.Linear and rel_err(model[0].weight, weight) < 1e-2


def test_convert_names_a_layer_it_cannot_rotate(device):
    model = nn.Sequential(layer(device), nn.ReLU(), layer(device, 36, 12, seed=1))
    with pytest.raises(ValueError, match=r"^2: x: a Hadamard rotation needs rows of n = 2\^k"):
        convert(model, hadamard=True)
    with pytest.raises(ValueError, match="got n = 36"):
        Int8Linear(36, 8, hadamard=True)


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    q = Int8Linear.from_linear(layer(device), hadamard=True)
    x = torch.randn(4, 96, device=device)
    compiled = torch.compile(q, fullgraph=True)
    assert_bitwise_equal(compiled(x), q(x))
