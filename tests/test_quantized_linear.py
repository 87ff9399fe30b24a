"""gemm_int8.quantized_linear (quantize per token + scaled_mm in one op) and
Int8Linear's sharing of one quantization between layers that read the same input."""

import gemm_int8
import gemm_int8.nn.linear as linear_module
import pytest
import torch
from conftest import cuda_graph, requires_cuda
from gemm_int8.nn import Int8Linear, clear_quantization_cache
from reference import assert_bitwise_equal, reference_quantize, reference_scaled_mm
from torch.library import opcheck


def weights(n, k, device, gen):
    w = torch.randn((n, k), generator=gen)
    q, s = gemm_int8.quantize(w)
    return q.to(device), s.reshape(-1).to(device)


def expected(x, weight, weight_scale, bias):
    q, s = reference_quantize(x.cpu())
    out = reference_scaled_mm(
        q.reshape(-1, x.shape[-1]), weight.cpu(), s.reshape(-1), weight_scale.cpu(),
        bias=None if bias is None else bias.cpu(), out_dtype=x.dtype,
    )  # fmt: skip
    return out.reshape(*x.shape[:-1], weight.shape[0])


# M = 1, 8 and 16 reach the decode kernels (skinny and its PDL launch after
# the quantize kernel); 40 x 4096 the tensor-core rows.
@pytest.mark.parametrize("shape", [(1, 256), (8, 512), (2, 8, 1024), (16, 4096), (40, 4096)])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
@pytest.mark.parametrize("bias", [None, "float32", "x"])
def test_matches_the_reference_bitwise(target, gen, shape, dtype, bias):
    n = 96 if shape[-1] < 4096 else 1024
    weight, weight_scale = weights(n, shape[-1], target, gen)
    x = (torch.randn(shape, generator=gen) * 3).to(dtype).to(target)
    b = None
    if bias is not None:
        b = torch.randn(n, generator=gen).to(torch.float32 if bias == "float32" else dtype)
        b = b.to(target)
    out = gemm_int8.quantized_linear(x, weight, weight_scale, b)
    assert out.shape == (*shape[:-1], n) and out.dtype == dtype
    assert_bitwise_equal(out.cpu(), expected(x, weight, weight_scale, b), f"{shape} {dtype}")


def test_extreme_and_zero_rows(device, gen):
    weight = torch.full((32, 64), -128, dtype=torch.int8, device=device)
    weight_scale = torch.ones(32, device=device)
    x = torch.zeros((3, 64), dtype=torch.bfloat16, device=device)
    x[1] = 1e4
    x[2, ::2] = -3e-3
    out = gemm_int8.quantized_linear(x, weight, weight_scale)
    assert_bitwise_equal(out.cpu(), expected(x, weight, weight_scale, None), "extremes")


def test_opcheck_and_compile(device, gen):
    weight, weight_scale = weights(48, 64, device, gen)
    x = torch.randn((5, 64), generator=gen).to(device)
    bias = torch.randn(48, generator=gen).to(device)
    opcheck(torch.ops.gemm_int8.quantized_linear.default, (x, weight, weight_scale, bias))
    opcheck(torch.ops.gemm_int8.quantized_linear.default, (x, weight, weight_scale, None))
    eager = gemm_int8.quantized_linear(x, weight, weight_scale, bias)
    torch._dynamo.reset()
    compiled = torch.compile(gemm_int8.quantized_linear, fullgraph=True, dynamic=True)
    assert_bitwise_equal(compiled(x, weight, weight_scale, bias), eager, "compiled")


@pytest.mark.parametrize(
    "case, error, message",
    [
        ("short_weight", ValueError, r"weight: expected shape \(N, K=64\)"),
        ("float_weight", TypeError, r"weight: expected int8"),
        ("double_scale", TypeError, r"weight_scale: expected float32"),
        ("short_scale", ValueError, r"weight_scale: expected shape \(N=48,\)"),
        ("short_bias", ValueError, r"bias: expected shape \(N=48,\)"),
        ("int_x", TypeError, r"x: expected float32, bfloat16 or float16"),
        ("scalar_x", ValueError, r"x: expected"),
    ],
)
def test_bad_inputs_name_the_argument(device, gen, case, error, message):
    weight, weight_scale = weights(48, 64, device, gen)
    x = torch.randn((5, 64), generator=gen).to(device)
    args = {"x": x, "weight": weight, "weight_scale": weight_scale, "bias": None}
    if case == "short_weight":
        args["weight"] = weight[:, :32]
    elif case == "float_weight":
        args["weight"] = weight.float()
    elif case == "double_scale":
        args["weight_scale"] = weight_scale.double()
    elif case == "short_scale":
        args["weight_scale"] = weight_scale[:3]
    elif case == "short_bias":
        args["bias"] = torch.zeros(5, device=device)
    elif case == "int_x":
        args["x"] = x.int()
    elif case == "scalar_x":
        args["x"] = x[0, 0]
    with pytest.raises(error, match=message):
        gemm_int8.quantized_linear(**args)


@requires_cuda
def test_cpu_input_with_cuda_weight_is_a_clean_error(gen):
    weight, weight_scale = weights(48, 64, "cuda", gen)
    with pytest.raises(ValueError, match="x is on cpu but weight is on cuda"):
        gemm_int8.quantized_linear(torch.randn(5, 64), weight, weight_scale)
    torch.cuda.synchronize()  # the context is still usable


class CountingQuantize:
    def __init__(self, monkeypatch):
        self.calls = 0
        real = linear_module.quantize

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(linear_module, "quantize", counted)


def sibling_layers(device):
    torch.manual_seed(0)
    return [Int8Linear(64, n, device=device) for n in (32, 16, 16)]


@torch.no_grad()
def test_siblings_quantize_a_shared_input_once(device, gen, monkeypatch):
    layers = sibling_layers(device)
    counter = CountingQuantize(monkeypatch)
    clear_quantization_cache()
    x = torch.randn((160, 64), generator=gen).to(
        device
    )  # more rows than eager calls take in one op
    outs = [layer(x) for layer in layers]
    assert counter.calls == 1
    for layer, out in zip(layers, outs, strict=True):
        want = gemm_int8.quantized_linear(x, layer.weight, layer.weight_scale, layer.bias)
        assert_bitwise_equal(out, want, "shared quantization")
    x.mul_(2)  # modified in place: quantized again
    assert_bitwise_equal(
        layers[0](x), gemm_int8.quantized_linear(x, layers[0].weight, layers[0].weight_scale,
                                                 layers[0].bias), "after x.mul_")  # fmt: skip
    assert counter.calls == 2
    layers[1](x.clone())  # another tensor
    assert counter.calls == 3
    layers[2].share_input_quantization = False
    layers[2](x)
    assert counter.calls == 3  # opted out: the fused op, not quantize
    with torch.inference_mode():
        y = torch.randn((160, 64), device=device)
        layers[0](y), layers[1](y)  # inference tensors: no version counter, no sharing
    assert counter.calls == 3
    clear_quantization_cache()
    layers[0](x)
    assert counter.calls == 4


@torch.no_grad()
@pytest.mark.parametrize("rows", [1, 2, 16, 128])
def test_decode_sized_inputs_go_to_the_fused_op(device, gen, monkeypatch, rows):
    # Eagerly, up to 128 rows each layer calls quantized_linear (one op, which
    # quantizes inside its GEMM for one or two rows): fewer host-side ops than
    # a shared quantization, in the host-bound regime of eager decode.
    assert linear_module._EAGER_ONE_OP_ROWS == 128
    layers = sibling_layers(device)
    counter = CountingQuantize(monkeypatch)
    clear_quantization_cache()
    x = torch.randn((rows, 1, 64), generator=gen).to(device)
    for layer in layers:
        want = gemm_int8.quantized_linear(x, layer.weight, layer.weight_scale, layer.bias)
        assert_bitwise_equal(layer(x), want, f"{rows} rows")
    assert counter.calls == 0


@requires_cuda
@torch.no_grad()
def test_sharing_is_per_stream(gen, monkeypatch):
    layers = sibling_layers("cuda")
    counter = CountingQuantize(monkeypatch)
    clear_quantization_cache()
    x = torch.randn((160, 64), generator=gen).cuda()
    layers[0](x)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = layers[1](x)
    torch.cuda.current_stream().wait_stream(side)
    assert counter.calls == 2
    want = gemm_int8.quantized_linear(x, layers[1].weight, layers[1].weight_scale, layers[1].bias)
    assert_bitwise_equal(out, want, "side stream")


# Decode in a CUDA graph: quantize kernels and skinny GEMMs launched
# dependent-style, inputs changed between replays, no host sync.
@requires_cuda
@torch.no_grad()
@pytest.mark.parametrize("tokens", [1, 8, 16])
def test_decode_block_in_a_cuda_graph(gen, tokens):
    clear_quantization_cache()
    torch.manual_seed(0)
    layers = [Int8Linear(4096, n, bias=False, device="cuda") for n in (4096, 1024, 1024)]
    layers.append(Int8Linear(4096, 14336, bias=False, device="cuda"))
    x = torch.randn((tokens, 4096), generator=gen).cuda().bfloat16()

    def block():
        return [layer(x) for layer in layers]

    block()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.cuda.graph(graph):
            outs = block()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for _ in range(3):
        x.copy_(torch.randn((tokens, 4096), generator=gen).bfloat16())
        graph.replay()
        torch.cuda.synchronize()
        for layer, out in zip(layers, outs, strict=True):
            want = gemm_int8.quantized_linear(x, layer.weight, layer.weight_scale)
            assert_bitwise_equal(out, want, f"replay, N={layer.out_features}")


@requires_cuda
def test_a_capture_never_reuses_another_captures_quantization():
    # Two graphs on one static input, captured on torch's shared capture stream:
    # graph B quantizes x itself rather than reading graph A's int8 buffer,
    # which only A's replays write.
    torch.manual_seed(0)
    a, b = Int8Linear(64, 32, device="cuda"), Int8Linear(64, 48, device="cuda")
    x = torch.randn(8, 64, device="cuda")
    a(x), b(x)
    graph_a, _ = cuda_graph(lambda: a(x))  # kept alive, as a model keeps its graphs
    graph_b, y = cuda_graph(lambda: b(x))
    x.copy_(torch.randn(8, 64, device="cuda"))
    graph_b.replay()
    torch.cuda.synchronize()
    clear_quantization_cache()
    assert_bitwise_equal(y, b(x), "graph B alone")


def test_capture_id_is_zero_outside_a_capture(device):
    assert torch.ops.gemm_int8._capture_id(torch.zeros(1, device=device)) == 0


def test_capture_id_opcheck(device):
    # Dynamo cannot put an int-returning op in a graph; its callers (the nn caches)
    # are bypassed under torch.compile, so compiled code never reaches it.
    opcheck(torch.ops.gemm_int8._capture_id.default, (torch.zeros(2, device=device),))


@requires_cuda
def test_capture_id_names_each_capture():
    x, ids = torch.zeros(1, device="cuda"), []
    for _ in range(2):
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            x.add_(1)
            ids.append(torch.ops.gemm_int8._capture_id(x))
    assert 0 not in ids and ids[0] != ids[1]
