"""gemm_int8.nn: Int8Linear and convert / unconvert."""

import io

import gemm_int8
import pytest
import torch
from conftest import cuda_graph, requires_cuda
from gemm_int8.nn import Int8Linear, convert, unconvert
from reference import assert_bitwise_equal, reference_scaled_mm
from torch import nn


def linear(in_features=64, out_features=48, bias=True, dtype=torch.float32, device="cpu"):
    torch.manual_seed(0)
    return nn.Linear(in_features, out_features, bias=bias, dtype=dtype, device=device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_is_quantize_then_scaled_mm(device, gen, dtype, bias):
    layer = Int8Linear.from_linear(linear(bias=bias, dtype=dtype, device=device))
    x = torch.randn((2, 3, 64), generator=gen).to(dtype).to(device)
    out = layer(x)
    assert out.shape == (2, 3, 48) and out.dtype == dtype and out.device == x.device
    q, scale = gemm_int8.quantize(x)
    expected = reference_scaled_mm(
        q.reshape(-1, 64), layer.weight, scale.reshape(-1), layer.weight_scale,
        bias=layer.bias, out_dtype=dtype,
    )  # fmt: skip
    assert_bitwise_equal(out.reshape(-1, 48), expected, f"{dtype}")


def test_close_to_the_dequantized_float_computation(device, gen):
    # Stated tolerance: float32 output within 1e-5 of the float64 product of the
    # dequantized operands (the epilogue's float32 roundings), relative to |x| |w|.
    layer = Int8Linear.from_linear(linear(256, 96, device=device))
    x = torch.randn((33, 256), generator=gen).to(device)
    q, scale = gemm_int8.quantize(x)
    xd = q.double() * scale.double()
    wd = layer.weight.double() * layer.weight_scale.double()[:, None]
    expected = xd @ wd.T + layer.bias.double()
    bound = 1e-5 * (xd.abs() @ wd.abs().T + 1)
    assert ((layer(x).double() - expected).abs() <= bound).all()
    # And to the float layer itself, within the quantization error.
    float_out = linear(256, 96, device=device)(x)
    assert (layer(x) - float_out).abs().max() <= 0.02 * float_out.abs().max()


def test_state_dict_round_trip(gen):
    layer = Int8Linear.from_linear(linear())
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    fresh = Int8Linear(64, 48)
    fresh.load_state_dict(torch.load(buffer))
    x = torch.randn((5, 64), generator=gen)
    assert_bitwise_equal(fresh(x), layer(x), "reloaded")
    assert sorted(layer.state_dict()) == ["bias", "weight", "weight_scale"]
    assert layer.state_dict()["weight"].dtype == torch.int8
    with pytest.raises(TypeError, match=r"weight: expected an int8 weight, got float32"):
        fresh.load_state_dict(linear().state_dict())


def test_dtype_conversion_keeps_int8_and_float32(gen):
    layer = Int8Linear.from_linear(linear()).to(torch.bfloat16)
    assert layer.weight.dtype == torch.int8 and layer.weight_scale.dtype == torch.float32
    assert layer.bias.dtype == torch.float32
    assert layer(torch.randn((2, 64), generator=gen).bfloat16()).dtype == torch.bfloat16


def test_repr_and_size():
    layer = Int8Linear(64, 48)
    assert repr(layer) == (
        "Int8Linear(in_features=64, out_features=48, bias=True, "
        "weight=int8 per-channel, activations=int8 per-token)"
    )
    assert layer.weight.dtype == torch.int8 and layer.weight.shape == (48, 64)


def test_inference_mode_and_compile(device, gen):
    layer = Int8Linear.from_linear(linear(device=device))
    x = torch.randn((7, 64), generator=gen).to(device)
    eager = layer(x)
    with torch.inference_mode():
        assert_bitwise_equal(layer(x), eager, "inference_mode")
    for dynamic in (False, True):
        torch._dynamo.reset()
        compiled = torch.compile(layer, fullgraph=True, dynamic=dynamic)
        assert_bitwise_equal(compiled(x), eager, f"compiled dynamic={dynamic}")
        batched = torch.randn((2, 9, 64), generator=gen).to(device)
        assert_bitwise_equal(compiled(batched), layer(batched), "batched")


@requires_cuda
def test_to_cuda_and_cuda_graph(gen):
    layer = Int8Linear.from_linear(linear()).to("cuda")
    assert layer.weight.is_cuda and layer.weight_scale.is_cuda and layer.bias.is_cuda
    x = torch.randn((16, 64), generator=gen).cuda().bfloat16()
    layer(x)  # warm up
    graph, out = cuda_graph(lambda: layer(x))
    x.copy_(torch.randn((16, 64), generator=gen).bfloat16())
    graph.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(out, layer(x), "graph replay")


def test_bad_inputs(device):
    layer = Int8Linear.from_linear(linear(device=device))
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., in_features=64\), got"):
        layer(torch.randn((3, 63), device=device))
    with pytest.raises(TypeError, match=r"x: expected float32, bfloat16 or float16, got int64"):
        layer(torch.ones((3, 64), dtype=torch.int64, device=device))
    with pytest.raises(ValueError, match=r"x is on meta but the layer's weight is on"):
        layer(torch.randn((3, 64), device="meta"))
    with pytest.raises(TypeError, match=r"linear: expected torch.nn.Linear, got Conv1d"):
        Int8Linear.from_linear(nn.Conv1d(3, 3, 1))
    with pytest.raises(
        TypeError, match=r"linear.weight: expected float32, bfloat16 or float16, got float64"
    ):
        Int8Linear.from_linear(nn.Linear(4, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"dtype: expected float32, bfloat16 or float16, got int8"):
        Int8Linear(4, 4, dtype=torch.int8)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32))
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)
        self.shared = nn.Linear(32, 32)
        self.again = self.shared
        self.lm_head = nn.Linear(32, 10)

    def forward(self, x):
        x = self.encoder(x)
        x = x + self.attn(x, x, x, need_weights=False)[0]
        return self.lm_head(self.again(self.shared(x)))


def test_convert_filters():
    torch.manual_seed(0)
    model = Tiny()
    names = convert(model)
    assert names == ["encoder.0", "encoder.2", "shared", "again"]
    assert isinstance(model.encoder[0], Int8Linear) and model.shared is model.again
    assert type(model.lm_head) is nn.Linear  # excluded by default
    assert type(model.attn.out_proj) is not Int8Linear  # read directly by its parent
    model(torch.randn(2, 5, 32))

    assert convert(Tiny(), include=r"^encoder\.") == ["encoder.0", "encoder.2"]
    assert convert(Tiny(), include=["lm_head"], exclude=()) == ["lm_head"]
    assert convert(Tiny(), exclude=lambda name, m: m.out_features != 32) == [
        "encoder.2", "shared", "again",
    ]  # fmt: skip
    with pytest.raises(TypeError, match=r"include: expected a regular expression"):
        convert(Tiny(), include=[3])
    with pytest.raises(TypeError, match=r"model: convert replaces submodules in place"):
        convert(nn.Linear(3, 3))


def test_unconvert_restores_dequantized_linears(gen):
    torch.manual_seed(0)
    model = Tiny()
    convert(model)
    quantized = {name: m.dequantize_weight() for name, m in model.named_modules()
                 if isinstance(m, Int8Linear)}  # fmt: skip
    assert unconvert(model) == ["encoder.0", "encoder.2", "shared", "again"]
    assert not any(isinstance(m, Int8Linear) for m in model.modules())
    assert model.shared is model.again
    for name, weight in quantized.items():
        restored = model.get_submodule(name)
        assert type(restored) is nn.Linear and restored.weight.dtype == torch.float32
        assert_bitwise_equal(restored.weight.data, weight, name)
    model(torch.randn((2, 5, 32), generator=gen))
