"""What the model was trained on, so that a plan outside it says so.

The envelope holds, for every static graph feature, the range that 99% of the training
users fell in (the 0.5th and 99.5th percentiles), the user counts, and for each goal the
range of values seen (``None``: never given; for ``return``, the planner then asks for
none). At planning time :meth:`Envelope.check` compares the instance with it: a feature
where more than :data:`OUTSIDE_SHARE` of the users fall outside the trained range, a user
count beyond the trained ones, or a limit outside the trained range each give a warning
with the numbers. It is a signal from the data the model saw, not a guess from the
scenario's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from diffusion.conditioning import GOAL_GROUPS
from diffusion.graph import STATIC_FEATURES, DesignGraph

OUTSIDE_SHARE = 0.10  # warn when more users than this fall outside a feature's range
QUANTILES = (0.005, 0.995)


@dataclass(frozen=True)
class Envelope:
    """Feature ranges of the training data (stored in the model's config)."""

    features: dict[str, list[float]]  # name -> [low, high]
    users: list[int]  # [fewest, most] users of a training instance
    goals: dict[str, list[float] | None]  # goal group -> [low, high] of its value, or None

    @classmethod
    def of(cls, graphs: Sequence[DesignGraph], goals: Sequence[np.ndarray]) -> Envelope:
        static = np.concatenate([g.static.numpy() for g in graphs])
        lo, hi = np.quantile(static, QUANTILES, axis=0)
        counts = [g.n_users for g in graphs]
        goal_ranges: dict[str, list[float] | None] = {}
        stacked = np.stack(goals) if len(goals) else np.zeros((0, 2 * len(GOAL_GROUPS)))
        for k, name in enumerate(GOAL_GROUPS):  # "return" too: whether the model learned one
            given = stacked[stacked[:, 2 * k] > 0, 2 * k + 1]
            goal_ranges[name] = [float(given.min()), float(given.max())] if given.size else None
        ranges = zip(STATIC_FEATURES, lo, hi, strict=True)
        return cls(
            {name: [float(a), float(b)] for name, a, b in ranges},
            [int(min(counts)), int(max(counts))],
            goal_ranges,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Envelope:
        return cls({k: [float(x) for x in v] for k, v in data["features"].items()},
                   [int(x) for x in data["users"]],
                   {k: None if v is None else [float(x) for x in v]
                    for k, v in data["goals"].items()})  # fmt: skip

    def check(self, graph: DesignGraph, goal: np.ndarray) -> list[str]:
        """Warnings for an instance (and its goals) outside what the model was trained on."""
        warnings = []
        n = graph.n_users
        if n < self.users[0] or n > self.users[1]:
            warnings.append(
                f"{n} users: the model was trained on {self.users[0]}-{self.users[1]} users "
                "per instance (the graph network takes any count; measured generalization: "
                "docs/diffusion.md)"
            )
        static = graph.static.numpy()
        for j, name in enumerate(STATIC_FEATURES):
            lo, hi = self.features[name]
            outside = float(np.mean((static[:, j] < lo) | (static[:, j] > hi)))
            if outside > OUTSIDE_SHARE:
                warnings.append(
                    f"{outside:.0%} of the users have {name} outside the trained range "
                    f"[{lo:.3g}, {hi:.3g}] (median here {np.median(static[:, j]):.3g}): the "
                    "instance is off the training distribution; compare with a reference"
                )
        for k, name in enumerate(GOAL_GROUPS[1:], start=1):
            if goal[2 * k] <= 0:
                continue
            seen = self.goals.get(name)
            value = float(goal[2 * k + 1])
            if seen is None:
                warnings.append(f"the model never saw a {name} constraint in training; its "
                                "candidates are only screened on the twin")  # fmt: skip
            elif not seen[0] - 0.02 <= value <= seen[1] + 0.02:
                warnings.append(f"the {name} limit ({value:.3g} in model units) is outside the "
                                f"trained range [{seen[0]:.3g}, {seen[1]:.3g}]")  # fmt: skip
        return warnings
