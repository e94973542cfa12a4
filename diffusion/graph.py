"""The planner's view of an instance: the interference graph, and the radio state of a design.

Static, once per instance (:func:`design_graph`): the sparse interference graph of
:func:`twin.radio.interference_graph` (users as nodes, each user's ``k`` strongest
interferers at its serving BS as edges, the rest summed), laid out for the denoiser as a
padded neighbour table ``(U, k)`` with a validity mask, plus one edge feature the graph
leaves out: how hard the *victim* hits its interferer back (``g[i, b(m)] / g[m, b(m)]``),
which says whether two users are rivals or one is merely loud.

Dynamic, at every denoising step (:func:`radio_features`): what the current estimate of the
design does on the twin, from :func:`twin.radio.user_radio_state` (exact radio maths,
``O(U B)`` per candidate): SINR, rate, the user's own marginal benefit, the interference
price it pays for the others, the utility gradient, and what it adds to the utility (its
own log-rate minus its power cost and the first-order loss it causes). The denoiser thus
refines a design with the same signals a pricing algorithm would use, and stays valid at any
user count: every feature is a per-user ratio, none is a network-wide count.

Every feature is clipped to ``[-FEATURE_LIMIT, FEATURE_LIMIT]``; :data:`STATIC_FEATURES`,
:data:`EDGE_FEATURES` and :data:`RADIO_FEATURES` name the columns (a model folder records
them, and a model trained on other features is refused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from diffusion.normalizer import PowerNormalizer
from twin.radio import (
    ProblemInstance,
    interference_graph,
    priced_best_response,
    user_radio_state,
)
from twin.radio.graph import DB_SCALE, FEATURE_LIMIT, InterferenceGraph

DEFAULT_NEIGHBOURS = 8
STATIC_FEATURES = InterferenceGraph.NODE_FEATURES
EDGE_FEATURES = (*InterferenceGraph.EDGE_FEATURES, "hit_back_db")
RADIO_FEATURES = (
    "sinr_db",  # 10 log10(1 + SINR) / DB_SCALE
    "log_rate",  # ln(1 + R) / 15: the user's term in the utility, scaled
    "benefit",  # ln(own benefit x p_max) / 5: what one more mW buys the user
    "interference_price",  # ln(price x p_max) / 5: what one more mW costs the others
    "gradient",  # tanh of dU/dp_i relative to the power price
    "power",  # p / p_max
    "contribution",  # tanh((ln(1 + R) - (price + interference price) p) / 5)
    "best_response",  # the user's best level against the current state, priced: / p_max
    "best_response_gain",  # tanh of what moving there would add to its priced value
    "rate_margin",  # tanh(ln((1 + R) / (1 + R_min)) / 2) where a minimum rate is imposed, else 0
    "budget_margin",  # tanh(2 (1 - sum p / budget)) where a budget is imposed, else 0
)


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -FEATURE_LIMIT, FEATURE_LIMIT).astype(np.float32)


@dataclass(frozen=True)
class DesignGraph:
    """An instance laid out for the denoiser (torch tensors, float32; no batch axis).

    ``static`` ``(U, S)``; ``neighbours`` ``(U, k)`` user indices (padding points at the
    user itself and is masked); ``edges`` ``(U, k, E)``; ``valid`` ``(U, k)`` 1 where a
    neighbour is real.
    """

    instance: ProblemInstance
    static: torch.Tensor
    neighbours: torch.Tensor
    edges: torch.Tensor
    valid: torch.Tensor

    @property
    def n_users(self) -> int:
        return self.instance.n_users

    @property
    def p_max_mw(self) -> float:
        return float(self.instance.max_power_mw)

    def normalizer(self, off_gap: float = 0.0) -> PowerNormalizer:
        """The model's design space for this instance (:class:`PowerNormalizer`)."""
        return PowerNormalizer(self.p_max_mw, self.instance.lowest_on_mw, off_gap)


def design_graph(instance: ProblemInstance, k: int = DEFAULT_NEIGHBOURS) -> DesignGraph:
    """The static part of the planner's input (``O(U B + U k)``)."""
    p_max = max(float(instance.max_power_mw), 1e-12)
    graph = interference_graph(
        instance.gains, instance.assoc, instance.noise_mw, p_max, instance.price, k,
        instance.reuse,
    )  # fmt: skip
    n = instance.n_users
    senders, receivers = graph.senders, graph.receivers
    # Edges come grouped by victim, strongest first: slot = rank within the victim's group.
    counts = np.bincount(receivers, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(receivers.size) - starts[receivers]
    width = max(int(counts.max(initial=0)), 1)
    neighbours = np.tile(np.arange(n)[:, None], (1, width))
    valid = np.zeros((n, width), dtype=np.float32)
    edges = np.zeros((n, width, len(EDGE_FEATURES)), dtype=np.float32)
    neighbours[receivers, slot] = senders
    valid[receivers, slot] = 1.0
    g, a = instance.gains, instance.assoc
    g_serv = g[np.arange(n), a]
    hit_back = g[receivers, a[senders]] / g_serv[senders]
    edges[receivers, slot, : graph.edge_features.shape[1]] = graph.edge_features
    edges[receivers, slot, -1] = _clip(10.0 * np.log10(np.maximum(hit_back, 1e-30)) / DB_SCALE)
    return DesignGraph(
        instance,
        torch.from_numpy(graph.node_features.copy()),
        torch.from_numpy(neighbours.astype(np.int64)),
        torch.from_numpy(edges),
        torch.from_numpy(valid),
    )


def radio_features(graph: DesignGraph, power_mw: np.ndarray) -> torch.Tensor:
    """:data:`RADIO_FEATURES` of designs ``power_mw`` ``(K, U)`` mW: ``(K, U, R)`` float32."""
    inst = graph.instance
    p_max = graph.p_max_mw
    state = user_radio_state(inst.gains, inst.assoc, power_mw, inst.noise_mw,
                             inst.bandwidth_hz, inst.reuse)  # fmt: skip
    benefit = state.own_benefit * p_max
    price = state.interference_price * p_max
    cost = inst.price * p_max
    log_rate = np.log1p(state.rate_bps)
    contribution = log_rate - (inst.price + state.interference_price) * power_mw
    best, gain = priced_best_response(
        inst.gains, inst.assoc, power_mw, inst.noise_mw, inst.bandwidth_hz, inst.price,
        inst.levels_mw, inst.reuse, state=state, with_gain=True,
    )  # fmt: skip
    zeros = np.zeros_like(log_rate)
    min_rate = inst.constraints.min_rate_bps
    rate_margin = zeros if min_rate is None else np.tanh((log_rate - np.log1p(min_rate)) / 2.0)
    budget = inst.constraints.max_total_power_mw
    budget_margin = zeros if budget is None else np.broadcast_to(
        np.tanh(2.0 * (1.0 - power_mw.sum(-1, keepdims=True) / budget)), log_rate.shape
    )
    features = np.stack([
        10.0 * np.log10(1.0 + state.sinr) / DB_SCALE,
        log_rate / 15.0,
        np.log(np.maximum(benefit, 1e-9)) / 5.0,
        np.log(np.maximum(price, 1e-9)) / 5.0,
        np.tanh((benefit - price - cost) / max(cost, 1e-9)),
        power_mw / p_max,
        np.tanh(contribution / 5.0),
        best / p_max,
        np.tanh(gain),
        rate_margin,
        budget_margin,
    ], axis=-1)  # fmt: skip
    return torch.from_numpy(_clip(features))
