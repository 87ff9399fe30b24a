"""Sibling Int8Linear layers that read the same input, run as one GEMM.

A decoder block calls q_proj, k_proj and v_proj (and gate_proj and up_proj) on
the same tensor. Separately that is three launches over three weights; at decode
sizes each launch costs about as much time as its weight takes to read, and the
small k and v GEMMs cannot fill the GPU. :func:`fuse_siblings` stores a group's
weights, scales and biases back to back (each layer keeps a view of its rows, so
state_dict, ``.to()`` and ``load_state_dict`` work per layer as before); the
first member called on a tensor runs one GEMM over the whole group and hands
each sibling its columns when it is called on the same tensor (same object, not
modified since, same CUDA stream).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from gemm_int8.nn.functional import _capturing, _stream_key
from gemm_int8.nn.linear import _FLOAT_DTYPES, Int8Linear
from gemm_int8.ops import prepack

# Sibling names of common model families: Llama / Mistral / Qwen / Gemma
# attention and MLP, BERT-style attention (MiniLM), Mixtral experts.
DEFAULT_SIBLINGS = (
    ("q_proj", "k_proj", "v_proj"),
    ("gate_proj", "up_proj"),
    ("query", "key", "value"),
    ("w1", "w3"),
)


class _Waiting(threading.local):
    """The group output of the last input, and the members it has not been handed to yet."""

    key: tuple | None = None  # (weakref to x, x._version, stream and capture, weights' versions)
    out: torch.Tensor | None = None
    members: frozenset = frozenset()


class SiblingGroup:
    """Int8Linear layers with the same input width whose weights live back to back.

    Made by :func:`fuse_siblings`; each member's ``weight``, ``weight_scale`` and
    ``bias`` are views of the group's rows. A member whose buffers were replaced
    (``.to()``, ``load_state_dict(assign=True)``) makes the group lay them out
    again at its next call.
    """

    def __init__(self, members: Sequence[Int8Linear]):
        self.members = tuple(members)
        bounds, start = [], 0
        for m in self.members:
            bounds.append((start, start + m.out_features))
            start += m.out_features
        self.bounds = tuple(bounds)
        self._waiting = _Waiting()
        self._pack()
        for index, m in enumerate(self.members):
            m._siblings, m._sibling_index = self, index

    @torch.no_grad()
    def _pack(self) -> None:
        buffers = [m._buffers for m in self.members]
        self.weight = prepack(torch.cat([b["weight"] for b in buffers]))
        self.weight_scale = torch.cat([b["weight_scale"] for b in buffers])
        has_bias = buffers[0]["bias"] is not None
        self.bias = torch.cat([b["bias"] for b in buffers]) if has_bias else None
        for b, (start, stop) in zip(buffers, self.bounds, strict=True):
            b["weight"] = self.weight[start:stop]
            b["weight_scale"] = self.weight_scale[start:stop]
            if has_bias:
                b["bias"] = self.bias[start:stop]
        self._views = [(b["weight"], b["weight_scale"], b["bias"]) for b in buffers]
        self._waiting.key = self._waiting.out = None

    def _packed(self) -> bool:
        if self._views is None:
            return False
        for m, (weight, scale, bias) in zip(self.members, self._views, strict=True):
            b = m._buffers
            if b["weight"] is not weight or b["weight_scale"] is not scale or b["bias"] is not bias:
                return False
        return True

    def _weights_version(self) -> tuple[int, int] | None:
        # In-place changes to any member's rows (set_weight, load_state_dict)
        # bump the group tensors' version counters, which views share.
        if self.weight is None:  # dropped: no output is waiting either
            return None
        return self.weight._version, self.weight_scale._version

    def drop_if_stale(self) -> None:
        """Frees the group's storage once a member's buffers were replaced (moved,
        loaded by assignment), instead of holding it until the next call packs again."""
        if self._views is not None and not self._packed():
            self.weight = self.weight_scale = self.bias = self._views = None
            self._waiting.key = self._waiting.out = None

    def forward(self, member: Int8Linear, x: torch.Tensor) -> torch.Tensor | None:
        """member's output for x from the group's GEMM, or None where the member
        should run alone (a shallow copy of a member; an inference tensor, whose
        modification cannot be seen; a non-float x, whose error the layer
        raises; a group whose buffers were replaced, while a CUDA graph is
        captured)."""
        index = member._sibling_index
        if self.members[index] is not member or x.is_inference() or x.dtype not in _FLOAT_DTYPES:
            return None  # a copy that shares this group (nn.DataParallel's replicas) runs alone
        start, stop = self.bounds[index]
        waiting = self._waiting
        key = waiting.key
        now = (x._version, _stream_key(x), self._weights_version())
        if index in waiting.members and key[0]() is x and key[1:] == now:
            out = waiting.out
            waiting.members = waiting.members - {index}
            if not waiting.members:
                waiting.key = waiting.out = None
            return out.narrow(-1, start, stop - start)
        out = self._output(member, x)
        if out is None:
            return None
        # The versions again: packing anew replaces the group's tensors.
        waiting.key = (weakref.ref(x), now[0], now[1], self._weights_version())
        waiting.out = out
        waiting.members = frozenset(range(len(self.members))) - {index}
        return out.narrow(-1, start, stop - start)  # one op: faster than out[..., start:stop]

    def _output(self, member: Int8Linear, x: torch.Tensor) -> torch.Tensor | None:
        """The group's GEMM on x through member's path, or None where its rows cannot
        be laid out now (no allocations while capturing; members moved apart)."""
        if not self._packed():
            if _capturing(x) or any(m.weight.device != x.device for m in self.members):
                return None
            self._pack()
        return member._multiply(x, self.weight, self.weight_scale, self.bias)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every member's output for x from one GEMM, in member order (no caching:
        for a forward that calls the group itself, inference tensors included)."""
        first = self.members[0]
        first._check_input(x)
        out = self._output(first, x)
        if out is None:  # each member on its own rows
            return tuple(m(x) for m in self.members)
        return tuple(out.narrow(-1, start, stop - start) for start, stop in self.bounds)

    def release(self) -> None:
        """Gives each member its own copy of its rows and leaves the group."""
        for m in self.members:
            b = m._buffers
            b["weight"] = prepack(b["weight"].clone())
            b["weight_scale"] = b["weight_scale"].clone()
            if b["bias"] is not None:
                b["bias"] = b["bias"].clone()
            m._siblings = None
        self._waiting = _Waiting()

    def __getstate__(self):  # deepcopy / pickle: the per-thread output is not state
        state = self.__dict__.copy()
        del state["_waiting"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._waiting = _Waiting()


def _compatible(members: list[Int8Linear]) -> bool:
    first = members[0]
    return len({id(m) for m in members}) == len(members) and all(
        m._siblings is None
        and m.in_features == first.in_features
        and m.hadamard == first.hadamard
        and m.weight.device == first.weight.device
        and (m.bias is None) == (first.bias is None)
        for m in members
    )


def fuse_siblings(
    model: nn.Module, groups: Iterable[Sequence[str]] = DEFAULT_SIBLINGS
) -> list[tuple[str, ...]]:
    """Makes sibling :class:`Int8Linear` layers that read the same input run as one GEMM.

    ``groups`` lists child names that are siblings when they share a parent
    module (default :data:`DEFAULT_SIBLINGS`: ``q_proj/k_proj/v_proj``,
    ``gate_proj/up_proj``, ``query/key/value``, ``w1/w3``). Two or more of a
    group's names present under one parent, all Int8Linear with the same
    in_features, rotation, device and bias presence and in no other group,
    are fused; others are left as they are.

    A fused layer's results are bitwise those of the unfused layer, but the
    output is a column slice of the group's output (last-dimension stride the
    group's total width, so ``.view`` splitting the last dimension works and
    ``.contiguous()`` copies). Fusing needs the input as the same tensor object
    for each sibling, not modified in between; inference tensors
    (``torch.inference_mode``) carry no version counter, so their layers run
    one by one, as they do under ``torch.compile``. :func:`unfuse_siblings`
    undoes it. ``gemm_int8.nn.convert(model, fuse_siblings=True)`` calls this.

    Returns:
        the qualified names of each fused group's layers.
    """
    fused = []
    for parent_name, parent in model.named_modules():
        children = dict(parent.named_children())
        prefix = parent_name + "." if parent_name else ""
        for names in groups:
            present = [n for n in names if isinstance(children.get(n), Int8Linear)]
            members = [children[n] for n in present]
            if len(members) < 2 or not _compatible(members):
                continue
            SiblingGroup(members)
            fused.append(tuple(prefix + n for n in present))
    return fused


def unfuse_siblings(model: nn.Module) -> int:
    """Returns ``model``'s fused :class:`Int8Linear` layers to one GEMM each (own
    storage, contiguous outputs). Returns the number of groups undone."""
    groups = {
        id(m._siblings): m._siblings for m in model.modules() if getattr(m, "_siblings", None)
    }
    for group in groups.values():
        group.release()
    return len(groups)
