"""Issue 11's evidence that int8 training trains: a tiny transformer (attention
and MLP projections converted with convert(training=True), all three GEMMs
int8) reaches the float model's loss on a synthetic next-token task."""

import torch
import torch.nn.functional as F
from conftest import requires_cuda
from gemm_int8.nn import convert
from torch import nn


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.o_proj = nn.Linear(d, d)
        self.up_proj, self.down_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.norm1(x)

        def split(p):
            return p.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.down_proj(F.gelu(self.up_proj(self.norm2(x))))


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int, d: int, heads: int, layers: int, length: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.position = nn.Parameter(torch.randn(length, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.embed(tokens) + self.position[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.norm(x))


def _markov_batches(vocab, length, batch, steps, device, seed=7):
    # Each token depends on the one two places back through a fixed random
    # transition table: the model must attend, and the loss has a floor.
    g = torch.Generator().manual_seed(seed)
    table = torch.softmax(torch.randn(vocab, vocab, generator=g) * 3, dim=-1)
    seq = torch.randint(vocab, (steps * batch, length), generator=g)
    for i in range(2, length):
        seq[:, i] = torch.multinomial(table[seq[:, i - 2]], 1, generator=g).squeeze(1)
    return seq.to(device).split(batch)


def _train(int8: bool, data, device, d=64, layers=2, vocab=16, length=24, lr=3e-3):
    torch.manual_seed(0)
    model = TinyTransformer(vocab, d, heads=4, layers=layers, length=length).to(device)
    if int8:
        names = convert(model, training=True, forward="int8", grad_input="int8", grad_weight="int8")
        assert len(names) == 6 * layers and "lm_head" not in names
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for tokens in data:
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], sum(losses[-20:]) / 20  # final: mean of the last 20 steps


def _check(device, steps=120, batch=32, two_sided=True, **size):
    data = _markov_batches(16, size.get("length", 24), batch, steps, device)
    float_initial, float_final = _train(False, data, device, **size)
    int8_initial, int8_final = _train(True, data, device, **size)
    assert float_final < 0.8 * float_initial and int8_final < 0.8 * int8_initial
    # What a user needs: int8 trains at least as far as float32 (2 % slack);
    # where both runs have settled, also no further (the same 2 %).
    assert int8_final <= 1.02 * float_final, (float_final, int8_final)
    if two_sided:
        assert int8_final >= 0.98 * float_final, (float_final, int8_final)


def test_tiny_transformer_int8_training_matches_float():
    # d = 64, 2 blocks, 120 AdamW steps on the CPU (CI): the final loss (mean of
    # the last 20 steps) within 2 % of float32's (measured: 1.3625 float32,
    # 1.3587 int8, -0.3 %).
    _check("cpu")


@requires_cuda
def test_transformer_int8_training_matches_float_on_gpu():
    # Twice the width, 2.5x the steps, 4x the tokens per step. One-sided: at
    # 300 steps neither run has settled, and int8 was ahead (H200, 2026-11-30:
    # float32 1.3211, int8 1.1858). (d = 256 with four blocks at lr 3e-3 left
    # float32 itself at 2.32 against int8's 1.85: that rate is too high for
    # the wider model, which says nothing of int8.)
    _check("cuda", d=128, steps=300, batch=64, length=32, lr=1e-3, two_sided=False)
