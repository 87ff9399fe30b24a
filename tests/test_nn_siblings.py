"""gemm_int8.nn.fuse_siblings: q/k/v and gate/up as one GEMM, bitwise the layers' own results."""

import copy
import io

import pytest
import torch
from conftest import cuda_graph, requires_cuda
from gemm_int8.nn import Int8Linear, convert, fuse_siblings, unfuse_siblings
from reference import assert_bitwise_equal
from torch import nn


class Attention(nn.Module):
    def __init__(self, bias=False):
        super().__init__()
        self.q_proj = nn.Linear(64, 64, bias=bias)
        self.k_proj = nn.Linear(64, 16, bias=bias)  # grouped-query widths
        self.v_proj = nn.Linear(64, 16, bias=bias)
        self.o_proj = nn.Linear(64, 64, bias=bias)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(64, 96, bias=False)
        self.up_proj = nn.Linear(64, 96, bias=False)
        self.down_proj = nn.Linear(96, 64, bias=False)


class Block(nn.Module):
    """Every projection's output, each layer called on the input it has in a decoder block."""

    def __init__(self, bias=False):
        super().__init__()
        self.self_attn = Attention(bias)
        self.mlp = Mlp()

    def forward(self, x, order=("q_proj", "k_proj", "v_proj")):
        a, m = self.self_attn, self.mlp
        outs = {name: getattr(a, name)(x) for name in order}
        outs["o_proj"] = a.o_proj(outs["q_proj"])
        gate, up = m.gate_proj(x), m.up_proj(x)
        outs.update(gate_proj=gate, up_proj=up, down_proj=m.down_proj(gate * up))
        return outs


def models(device, bias=False, dtype=torch.float32):
    torch.manual_seed(0)
    plain = Block(bias).to(device=device, dtype=dtype)
    convert(plain)
    fused = copy.deepcopy(plain)
    return plain, fused, fuse_siblings(fused)


def assert_same(fused_outs, plain_outs, what):
    assert fused_outs.keys() == plain_outs.keys()
    for name, out in fused_outs.items():
        assert_bitwise_equal(out, plain_outs[name], f"{what}: {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(1, 64), (2, 64), (5, 64), (2, 17, 64)])
def test_one_gemm_bitwise_the_layers_results(device, gen, dtype, shape):
    plain, fused, groups = models(device, bias=True, dtype=dtype)
    assert groups == [
        ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
        ("mlp.gate_proj", "mlp.up_proj"),
    ]
    x = torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
    outs = fused(x)
    assert_same(outs, plain(x), "fused")
    q, k, v = outs["q_proj"], outs["k_proj"], outs["v_proj"]
    # One GEMM: the three outputs are columns of one tensor.
    assert q.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()
    assert k.untyped_storage().data_ptr() == v.untyped_storage().data_ptr()
    assert q.stride(-2) == 96 and k.view(*shape[:-1], 2, 8).shape[-1] == 8
    assert outs["o_proj"].is_contiguous()  # not in a group


def test_any_order_other_inputs_and_modified_inputs(device, gen):
    plain, fused, _ = models(device)
    x = torch.randn((3, 64), generator=gen).to(device)
    order = ("v_proj", "q_proj", "k_proj")
    assert_same(fused(x, order), plain(x, order), "v first")
    a = fused.self_attn
    y = torch.randn((3, 64), generator=gen).to(device)
    q = a.q_proj(x)
    assert_bitwise_equal(a.k_proj(y), plain.self_attn.k_proj(y), "another input")
    x.mul_(2)  # modified since q: k and v must see the new values
    assert_bitwise_equal(a.k_proj(x), plain.self_attn.k_proj(x), "modified input")
    assert_bitwise_equal(a.v_proj(x), plain.self_attn.v_proj(x), "modified input")
    # A sibling's weight changed between the calls: k is computed again.
    a.q_proj(x)
    with torch.no_grad():
        a.k_proj.weight.neg_()
        plain.self_attn.k_proj.weight.neg_()
    assert_bitwise_equal(a.k_proj(x), plain.self_attn.k_proj(x), "weight changed")
    # q twice on one tensor: the second result does not alias the first.
    q1, q2 = a.q_proj(x), a.q_proj(x)
    assert q1.data_ptr() != q2.data_ptr()
    assert not torch.equal(q, q1) and torch.equal(q1, q2)


def test_state_dict_load_deepcopy_and_unfuse(gen):
    plain, fused, _ = models("cpu", bias=True)
    x = torch.randn((4, 64), generator=gen)
    expected = plain(x)
    state = fused.state_dict()
    for name, t in state.items():  # no shared storage: safetensors can save it
        assert t.untyped_storage().nbytes() == t.nbytes, name
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh = Block(bias=True)
    convert(fresh)
    fresh.load_state_dict(torch.load(buffer))
    assert_same(fresh(x), expected, "unfused model, fused state_dict")

    # load_state_dict copies into the group's rows; assign=True replaces them.
    other, _, _ = models("cpu", bias=True)
    with torch.no_grad():
        for m in other.modules():
            if isinstance(m, Int8Linear):
                m.weight.copy_(-m.weight)
    fused.load_state_dict(other.state_dict())
    assert_same(fused(x), other(x), "loaded in place")
    fused.load_state_dict(plain.state_dict(), assign=True)
    assert fused.self_attn.q_proj.siblings.weight is None  # the old storage is let go
    assert_same(fused(x), expected, "loaded by assignment")
    assert fused.self_attn.k_proj.weight.untyped_storage().nbytes() > 16 * 64  # packed again

    shallow = copy.copy(fused.self_attn.k_proj)  # shares the group: runs alone
    assert_bitwise_equal(shallow(x), expected["k_proj"], "shallow copy")
    copied = copy.deepcopy(fused)
    assert_same(copied(x), expected, "deepcopy")
    assert "one GEMM with 2 sibling(s)" in repr(copied.self_attn.q_proj)
    assert unfuse_siblings(copied) == 2
    outs = copied(x)
    assert outs["q_proj"].is_contiguous() and copied.self_attn.q_proj._siblings is None
    assert_same(outs, expected, "unfused")
    assert fuse_siblings(fused) == []  # already fused


def test_inference_mode_and_compile_run_layers_alone(device, gen):
    plain, fused, _ = models(device)
    x = torch.randn((6, 64), generator=gen).to(device)
    expected = plain(x)
    with torch.inference_mode():
        outs = fused(x.clone())  # an inference tensor: no version counter to check
    assert outs["q_proj"].is_contiguous()
    assert_same(outs, expected, "inference_mode")
    torch._dynamo.reset()
    assert_same(torch.compile(fused, fullgraph=True)(x), expected, "compiled")


def test_calling_the_group_returns_every_output(device, gen):
    plain, fused, _ = models(device, bias=True)
    x = torch.randn((2, 5, 64), generator=gen).to(device)
    expected = plain(x)
    group = fused.mlp.gate_proj.siblings
    assert group is fused.mlp.up_proj.siblings and plain.mlp.gate_proj.siblings is None
    with torch.inference_mode():  # no cache involved: inference tensors work
        gate, up = group(x.clone())
    assert_bitwise_equal(gate, expected["gate_proj"], "gate")
    assert_bitwise_equal(up, expected["up_proj"], "up")
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., in_features=64\)"):
        group(torch.randn(3, 32, device=device))


def test_what_is_not_fused():
    torch.manual_seed(0)
    block = Block()
    block.self_attn.v_proj = nn.Linear(64, 16, bias=True)  # bias differs
    block.mlp.up_proj = nn.Linear(32, 96, bias=False)  # width differs
    names = convert(block, exclude=r"k_proj")
    assert "self_attn.k_proj" not in names
    assert fuse_siblings(block) == []  # q alone, v's bias, up's width
    assert convert(Block(), fuse_siblings=True) == [
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"fuse_siblings: only for inference layers"):
        convert(Block(), training=True, fuse_siblings=True)


@requires_cuda
def test_to_cuda_and_cuda_graph(gen):
    plain, fused, _ = models("cpu")
    plain, fused = plain.cuda(), fused.cuda()
    x = torch.randn((8, 64), generator=gen).cuda().bfloat16()
    assert_same(fused(x), plain(x), "moved")  # packed again on the GPU
    assert fused.self_attn.q_proj.weight.is_cuda
    graph, outs = cuda_graph(lambda: fused(x))
    x.copy_(torch.randn((8, 64), generator=gen).bfloat16())
    graph.replay()
    torch.cuda.synchronize()
    assert (
        outs["q_proj"].untyped_storage().data_ptr() == outs["v_proj"].untyped_storage().data_ptr()
    )
    assert_same(outs, plain(x), "graph replay")


@requires_cuda
def test_a_capture_never_takes_an_output_another_capture_left(gen):
    # Graph A runs q alone, leaving k's and v's columns waiting; graph B, on the
    # same unmodified input, must run its own GEMM: A's output buffer holds what
    # only A's replays write.
    plain, fused, _ = models("cuda")
    x = torch.randn((8, 64), generator=gen).cuda()
    fused(x)
    graph_a, _ = cuda_graph(lambda: fused.self_attn.q_proj(x))  # kept alive
    graph_b, k = cuda_graph(lambda: fused.self_attn.k_proj(x))
    x.copy_(torch.randn((8, 64), generator=gen))
    graph_b.replay()
    torch.cuda.synchronize()
    assert_bitwise_equal(k, plain.self_attn.k_proj(x), "graph B alone")
