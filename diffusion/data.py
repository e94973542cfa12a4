"""Trajectory datasets as training tensors: normalized power trajectories plus conditions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.dataset import CONSTRAINT_NAMES, TrajectoryDataset, imposed_summary
from diffusion.conditioning import (
    CONSTRAINT_GROUPS,
    GOAL_GROUPS,
    Condition,
    goal_slices,
    goal_vector,
    instance_features,
    instance_relative_quality,
    return_quality,
    return_ranges,
)
from diffusion.normalizer import PowerNormalizer
from twin.core import AignError

assert CONSTRAINT_GROUPS == CONSTRAINT_NAMES  # one order for labels and goal groups


@dataclass
class TrainingData:
    """Every episode of one or more datasets, ready for the denoiser."""

    x0: torch.Tensor  # (E, H+1, N) normalized power trajectories, padded users at -1
    cond: Condition  # (E, ...) problem features and goals, every goal group given
    normalizer: PowerNormalizer
    return_ranges: dict[int, list[float]]
    provenance: dict[str, Any]

    def __len__(self) -> int:
        return int(self.x0.shape[0])


def load_datasets(paths: str | os.PathLike | Sequence[str | os.PathLike]):
    """Load one or more dataset folders; they must share the MDP shape and the levels."""
    paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not paths:
        raise AignError("no dataset given; pass --data DATASET (one or more folders)")
    datasets = [TrajectoryDataset.load(p) for p in paths]
    first = datasets[0].header
    for ds in datasets[1:]:
        h = ds.header
        if h.mdp != first.mdp or list(h.levels_mw) != list(first.levels_mw):
            raise AignError(
                f"{ds.path}: its MDP ({h.mdp}) or power levels differ from {datasets[0].path}'s; "
                "train on datasets collected with the same --max-users, --horizon and levels"
            )
    return datasets


RETURN_NORMALIZATIONS = ("user_count", "instance")


def build_training_data(
    datasets: Sequence[TrajectoryDataset], return_normalization: str = "instance"
) -> TrainingData:
    """Normalize trajectories and compute each episode's condition (features and goals).

    ``return_normalization``: ``"user_count"`` scales returns over episodes with the same user
    count; ``"instance"`` over episodes of the same instance where there are several (else
    as ``"user_count"``).
    """
    if return_normalization not in RETURN_NORMALIZATIONS:
        raise AignError(
            f"return_normalization must be one of {', '.join(RETURN_NORMALIZATIONS)}, "
            f"got {return_normalization!r}"
        )
    header = datasets[0].header
    normalizer = PowerNormalizer(float(header.levels_mw[-1]))
    max_users = header.mdp.max_users
    returns = np.concatenate([ds["returns"] for ds in datasets])
    n_users = np.concatenate([ds["n_users"] for ds in datasets])
    ranges = return_ranges(returns, n_users)
    quality = return_quality(returns, n_users, ranges)
    if return_normalization == "instance":
        keys = [ds.instance(k).fingerprint() for ds in datasets for k in range(ds.n_episodes)]
        quality = instance_relative_quality(returns, keys, quality)
    user_f, global_f, goals, x0 = [], [], [], []
    e = 0
    for ds in datasets:
        powers = ds["powers_mw"].astype(np.float64)
        ok = ds["constraint_ok"]
        for k in range(ds.n_episodes):
            inst = ds.instance(k)
            u, g = instance_features(inst, max_users)
            user_f.append(u)
            global_f.append(g)
            satisfied = {name: bool(ok[k, c]) for c, name in enumerate(CONSTRAINT_NAMES)}
            goals.append(goal_vector(float(quality[e]), inst, satisfied))
            x = normalizer.normalize(powers[k])
            x[:, inst.n_users :] = -1.0
            x0.append(x)
            e += 1
    cond = Condition(
        user_features=torch.tensor(np.stack(user_f)),
        global_features=torch.tensor(np.stack(global_f)),
        goals=torch.tensor(np.stack(goals)),
        goal_keep=torch.ones((e, len(GOAL_GROUPS))),
    )
    provenance = {
        "datasets": [
            {"path": str(ds.path), "scenario": ds.header.scenario, "episodes": ds.n_episodes,
             "sources": _sources(ds),
             "constraints": imposed_summary(ds["constraint_limits"], ds["constraint_ok"]),
             "shards": [s["sha256"][:16] for s in ds.shards]}
            for ds in datasets
        ],
        "episodes": e,
        "normalized_limits": normalized_limit_ranges(cond.goals),
        "return_normalization": return_normalization,
        "mean_final_utility": float(np.mean([ds["final_utility"].mean() for ds in datasets])),
    }  # fmt: skip
    return TrainingData(torch.tensor(np.stack(x0), dtype=torch.float32), cond, normalizer,
                        ranges, provenance)  # fmt: skip


def normalized_limit_ranges(goals: torch.Tensor) -> dict[str, list[float]]:
    """Per constraint imposed in training: the range of its normalized limit (the value the
    model sees), so that the planner can warn when asked to extrapolate beyond it."""
    out = {}
    for name, sl in goal_slices().items():
        if name in CONSTRAINT_GROUPS:
            group = goals[:, sl]
            imposed = group[:, 0] > 0.5
            if bool(imposed.any()):
                limits = group[imposed, 1]
                out[name] = [float(limits.min()), float(limits.max())]
    return out


def _sources(ds: TrajectoryDataset) -> dict[str, int]:
    names, counts = np.unique(ds["source"], return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}
