"""The denoiser: a message-passing network on the interference graph, any number of users.

Two parts, because they change at different rates:

- the **encoder** reads the static graph (:func:`diffusion.graph.design_graph`) once per
  instance: ``layers`` rounds of message passing, each user gathering from its ``k``
  strongest interferers (``m = silu(A h_i + B h_s + E e_si)``, averaged) and from the
  network-wide mean; cost ``O(U k H)``, independent of the candidates and the steps;
- the **step network** runs at every denoising step on every candidate: the encoder's
  embedding, the noisy design ``x_t``, the timestep, the radio state of the previous
  estimate (:func:`diffusion.graph.radio_features`; zeros and a flag at the first step) and
  the goal vector (classifier-free guidance), through ``step_layers`` gated message-passing
  rounds over the same neighbours; it predicts the clean design ``x_0`` in ``[-1, 1]``.

Weights are shared across users, so the network is permutation-equivariant (permuting the
users permutes the output: tested) and takes any user count. Config is a dataclass stored
in the model folder.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from diffusion.graph import EDGE_FEATURES, RADIO_FEATURES, STATIC_FEATURES

TIME_FEATURES = 16
DENSE_USERS = 512  # planning multiplies dense U x U matrices up to here, sparse above
ESTIMATE_FLAGS = 1  # 1 when the radio features describe a previous estimate, 0 at the start


@dataclass(frozen=True)
class DenoiserConfig:
    """Sizes of :class:`GraphDenoiser` (stored with the model)."""

    goal_dim: int
    hidden: int = 64  # encoder width
    layers: int = 3  # encoder message-passing rounds
    step_hidden: int = 48  # step-network width
    step_layers: int = 1  # message-passing rounds per denoising step
    heads: int = 4  # edge weights per step round (each on step_hidden / heads channels)
    static_features: int = len(STATIC_FEATURES)
    edge_features: int = len(EDGE_FEATURES)
    radio_features: int = len(RADIO_FEATURES)

    def to_dict(self) -> dict:
        return asdict(self)


_FREQS: dict[int, torch.Tensor] = {}


def timestep_embedding(t: torch.Tensor, dim: int = TIME_FEATURES) -> torch.Tensor:
    """Sinusoidal embedding of ``t`` in ``[0, 1]`` (Vaswani et al. 2017; Ho et al. 2020)."""
    half = dim // 2
    if half not in _FREQS:  # the same few numbers at every step: computed once
        _FREQS[half] = 1000.0 * torch.exp(
            -math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half
        )
    angles = t.float()[:, None] * _FREQS[half][None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _neighbour_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over each user's real neighbours of ``values`` ``(..., U, k, H)``."""
    return values.sum(-2) / valid.sum(-1).clamp(min=1.0)[..., None]


class EncoderLayer(nn.Module):
    """One round on the static graph: messages from interferers plus the network mean."""

    def __init__(self, hidden: int, edge_features: int):
        super().__init__()
        self.receiver = nn.Linear(hidden, hidden)
        self.sender = nn.Linear(hidden, hidden, bias=False)
        self.edge = nn.Linear(edge_features, hidden, bias=False)
        self.message = nn.Linear(hidden, hidden)
        self.update = nn.Sequential(
            nn.Linear(3 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h, neighbours, edges, valid):
        pre = self.receiver(h)[:, None] + self.sender(h)[neighbours] + self.edge(edges)
        messages = F.silu(pre) * valid[..., None]
        gathered = self.message(_neighbour_mean(messages, valid))
        network = h.mean(0, keepdim=True).expand_as(h)
        return self.norm(h + self.update(torch.cat([h, gathered, network], dim=-1)))


class StepLayer(nn.Module):
    """A light round per denoising step: each user averages its interferers' states, one
    scalar weight per edge and head (from the static edges), then a residual update.

    Training gathers ``(K, U, k, H)``; planning multiplies by one sparse ``U x U`` matrix
    per head, built once per instance (:meth:`aggregators`): the same sum, about 15x
    faster on a CPU, and ``O(U k)`` memory at any size.
    """

    def __init__(self, hidden: int, edge_features: int, heads: int):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"step_hidden {hidden} must be a multiple of heads {heads}")
        self.heads = heads
        self.sender = nn.Linear(hidden, hidden, bias=False)
        self.weight = nn.Linear(edge_features, heads)
        self.out = nn.Linear(2 * hidden, hidden)

    def edge_weights(self, edges, valid):
        """``(U, k, heads)``: sigmoid gates, averaged over the real neighbours."""
        w = torch.sigmoid(self.weight(edges)) * valid[..., None]
        return w / valid.sum(-1).clamp(min=1.0)[:, None, None]

    def aggregators(self, neighbours, weights) -> torch.Tensor | list[torch.Tensor]:
        """The heads' ``U x U`` averaging matrices (rows: victims, columns: interferers):
        one dense ``(heads, U, U)`` tensor up to :data:`DENSE_USERS` users (a batched
        product is fastest there), else one sparse CSR matrix per head (``O(U k)``)."""
        n, k = neighbours.shape
        rows = torch.arange(n).repeat_interleave(k)
        cols = neighbours.reshape(-1)
        if n <= DENSE_USERS:
            dense = torch.zeros((self.heads, n, n))
            for head in range(self.heads):
                dense[head].index_put_((rows, cols), weights[..., head].reshape(-1),
                                       accumulate=True)  # fmt: skip
            return dense
        mats = []
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        for head in range(self.heads):
            coo = torch.sparse_coo_tensor(torch.stack([rows, cols]),
                                          weights[..., head].reshape(-1), (n, n),
                                          check_invariants=False)  # fmt: skip
            mats.append(coo.coalesce().to_sparse_csr())
        return mats

    def forward(self, h, neighbours, weights, sparse=None):
        k_cand, n, hidden = h.shape
        x = self.sender(h)
        if sparse is None:  # training: gather, differentiable in the weights
            xs = x[:, neighbours].reshape(k_cand, n, -1, self.heads, hidden // self.heads)
            gathered = (xs * weights[None, ..., None]).sum(2).reshape(k_cand, n, hidden)
        else:  # planning: one product per head over all candidates at once
            xh = x.reshape(k_cand, n, self.heads, hidden // self.heads).permute(2, 1, 0, 3)
            xh = xh.reshape(self.heads, n, -1)  # (heads, U, K d)
            if isinstance(sparse, torch.Tensor):
                summed = torch.bmm(sparse, xh)
            else:
                summed = torch.stack([torch.sparse.mm(m, xh[j]) for j, m in enumerate(sparse)])
            gathered = summed.reshape(self.heads, n, k_cand, -1).permute(2, 1, 0, 3)
            gathered = gathered.reshape(k_cand, n, hidden)
        return h + F.silu(self.out(torch.cat([h, gathered], dim=-1)))


class GraphDenoiser(nn.Module):
    """Predicts the clean design ``x_0`` of every candidate (see the module docstring)."""

    def __init__(self, config: DenoiserConfig):
        super().__init__()
        c = self.config = config
        self.encode_in = nn.Sequential(
            nn.Linear(c.static_features, c.hidden), nn.SiLU(), nn.Linear(c.hidden, c.hidden)
        )
        self.encoder = nn.ModuleList(EncoderLayer(c.hidden, c.edge_features)
                                     for _ in range(c.layers))  # fmt: skip
        self.encode_out = nn.Linear(c.hidden, c.step_hidden)
        inputs = c.step_hidden + 1 + c.radio_features + ESTIMATE_FLAGS + TIME_FEATURES + c.goal_dim
        self.step_in = nn.Sequential(
            nn.Linear(inputs, c.step_hidden), nn.SiLU(), nn.Linear(c.step_hidden, c.step_hidden)
        )
        self.step_layers = nn.ModuleList(StepLayer(c.step_hidden, c.edge_features, c.heads)
                                         for _ in range(c.step_layers))  # fmt: skip
        self.step_out = nn.Sequential(
            nn.SiLU(), nn.Linear(c.step_hidden, c.step_hidden), nn.SiLU(),
            nn.Linear(c.step_hidden, 1),
        )  # fmt: skip

    def encode(self, static, neighbours, edges, valid, sparse: bool = False) -> dict:
        """Once per instance: the users' embeddings and each step round's edge weights
        (with ``sparse``, also as sparse matrices for planning)."""
        h = self.encode_in(static)
        for layer in self.encoder:
            h = layer(h, neighbours, edges, valid)
        weights = [layer.edge_weights(edges, valid) for layer in self.step_layers]
        embedding = self.encode_out(h)
        first = self.step_in[0]
        width = self.config.step_hidden
        return {
            "embedding": embedding,
            # the step network's first layer on the embedding: the same at every step
            "base": F.linear(embedding, first.weight[:, :width], first.bias),
            "neighbours": neighbours,
            "weights": weights,
            "sparse": [layer.aggregators(neighbours, w) for layer, w in
                       zip(self.step_layers, weights, strict=True)] if sparse else None,
        }  # fmt: skip

    def step(self, encoded, x_t, t, radio, estimated, goal) -> torch.Tensor:
        """``x_0`` predictions ``(K, U)`` for noisy designs ``x_t`` ``(K, U)`` at ``t`` ``(K,)``
        in ``[0, 1]``, radio features ``(K, U, R)``, ``estimated`` ``(K,)`` and goals
        ``(K, G)``."""
        k, n = x_t.shape
        # The first layer of step_in on [embedding, x_t, radio, estimated, time, goal],
        # computed by parts: the embedding's share once per instance (encode), the
        # per-candidate share (estimated, time, goal) once per candidate, the rest per user.
        first, width, r = self.step_in[0], self.config.step_hidden, self.config.radio_features
        w = first.weight
        per_user = F.linear(torch.cat([x_t[..., None], radio], dim=-1), w[:, width:width + 1 + r])
        per_candidate = F.linear(
            torch.cat([estimated[:, None], timestep_embedding(t), goal], dim=-1),
            w[:, width + 1 + r:],
        )  # fmt: skip
        pre = encoded["base"][None] + per_candidate[:, None] + per_user
        h = self.step_in[2](self.step_in[1](pre))
        sparse = encoded["sparse"] or [None] * len(self.step_layers)
        for layer, weights, mats in zip(self.step_layers, encoded["weights"], sparse, strict=True):
            h = layer(h, encoded["neighbours"], weights, mats)
        return self.step_out(h)[..., 0]
