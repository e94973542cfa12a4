"""Stage 1's datasets -> what the planner learns from: instances, designs and their goals.

Every episode of a dataset (either stage-1 format: per-user ``aign.user-trajectories`` or
joint ``aign.trajectories``) gives one :class:`DesignExample`: the instance it ran on
(gains, association and noise from the episode; levels, bandwidth, price and reuse from the
dataset's header; the episode's own constraint limits), the design it ended on, and its
labels. The planner denoises designs, so only the final power vector of each trajectory is
a target; the trajectory view is rebuilt at planning time by the MDP's own step.

**Return label.** Episodes that ran on one instance (same dataset, scenario and seed, as
when several policies are collected with one ``--seed``) are compared with each other: an
episode's return is its final utility over the best final utility of its group, 1 for the
best. An episode alone on its instance has no return label (the goal group is not given),
so a dataset of one policy teaches the planner the problem, and a mix of policies also
teaches it what "best" means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from diffusion.conditioning import GOAL_DIM, budget_value, min_rate_value
from twin.core import AignError
from twin.radio import ProblemInstance


@dataclass(frozen=True)
class DesignExample:
    """One training target: an instance, a design for it (mW) and the goals it meets."""

    instance: ProblemInstance
    design_mw: np.ndarray
    goal: np.ndarray  # (GOAL_DIM,) float32, see diffusion.conditioning
    source: str = ""


@dataclass
class DesignData:
    """The examples of one training run and where they came from."""

    examples: list[DesignExample]
    provenance: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.examples)

    def best_only(self) -> DesignData:
        """Only the best episode of each instance (return share 1) and the episodes alone on
        theirs: what several explorers found, filtered to what the planner should copy.

        Return-conditioned sampling (target 1) is the paper's way to the same end; measured
        here, where two explorers' designs for one instance differ, the denoiser conditioned
        on the return still lands between them, and filtering does better
        (benchmarks/RESULTS.md, "The planner on SAC data"). After the filter every return
        label would read 1 and only tell which episodes had a rival, so it is dropped: the
        model learns no return goal and the planner asks for none."""
        kept = [replace(e, goal=_without_return(e.goal)) for e in self.examples
                if e.goal[0] == 0 or e.goal[1] >= 1.0 - 1e-6]  # fmt: skip
        provenance = {**self.provenance, "examples": len(kept), "best_only": True,
                      "episodes_read": len(self.examples)}  # fmt: skip
        return DesignData(kept, provenance)


def _without_return(goal: np.ndarray) -> np.ndarray:
    out = goal.copy()
    out[0:2] = 0.0
    return out


def _goal(instance: ProblemInstance, share: float | None) -> np.ndarray:
    goal = np.zeros(GOAL_DIM, dtype=np.float32)
    if share is not None and math.isfinite(share):
        goal[0:2] = (1.0, share)
    c = instance.constraints
    if c.min_rate_bps is not None:
        goal[2:4] = (1.0, min_rate_value(c.min_rate_bps))
    if c.max_total_power_mw is not None:
        goal[4:6] = (1.0, budget_value(c.max_total_power_mw, instance.n_users,
                                       instance.max_power_mw))  # fmt: skip
    return goal


def return_shares(utilities: np.ndarray, groups: Sequence) -> list[float | None]:
    """Each utility over the best of its group (None for a group of one)."""
    best: dict = {}
    count: dict = {}
    for u, g in zip(utilities, groups, strict=True):
        best[g] = max(best.get(g, -math.inf), float(u))
        count[g] = count.get(g, 0) + 1
    out: list[float | None] = []
    for u, g in zip(utilities, groups, strict=True):
        if count[g] < 2 or not best[g] > 0:
            out.append(None)
        else:
            out.append(float(u) / best[g])
    return out


def examples_from_arrays(
    instances: Sequence[ProblemInstance],
    designs: Sequence[np.ndarray],
    groups: Sequence | None = None,
    sources: Sequence[str] | None = None,
) -> list[DesignExample]:
    """Examples from instances and designs (``groups``: which share an instance)."""
    utilities = [float(inst.objective(np.asarray(d, dtype=float))[0])
                 for inst, d in zip(instances, designs, strict=True)]  # fmt: skip
    shares = return_shares(np.asarray(utilities), groups or list(range(len(instances))))
    sources = sources or [""] * len(instances)
    rows = zip(instances, designs, shares, sources, strict=True)
    return [DesignExample(inst, np.asarray(d, dtype=float), _goal(inst, share), src)
            for inst, d, share, src in rows]  # fmt: skip


def examples_from_dataset(path: str) -> tuple[list[DesignExample], dict]:
    """Every episode of one stage-1 dataset folder, in either format."""
    from agents.dataset import TrajectoryDataset, manifest_format
    from agents.user_dataset import USER_FORMAT, UserTrajectoryDataset

    fmt = manifest_format(path)
    if fmt == USER_FORMAT:
        data = UserTrajectoryDataset.load(path)
    elif fmt == "aign.trajectories":
        data = TrajectoryDataset.load(path)
    else:
        raise AignError(f"{path}: not a stage-1 dataset (format {fmt!r}); use the --out folder "
                        "of aign collect")  # fmt: skip
    instances = [data.instance(k) for k in range(data.n_episodes)]
    if fmt == USER_FORMAT:
        designs = [data.power_trajectory(k)[-1] for k in range(data.n_episodes)]
    else:
        designs = [data["powers_mw"][k, -1, : inst.n_users].astype(float)
                   for k, inst in enumerate(instances)]  # fmt: skip
    scenario = data.header.scenario
    groups = [(str(path), scenario, int(s)) for s in data["seeds"]]
    sources = [str(s) for s in data["source"]]
    examples = examples_from_arrays(instances, designs, groups, sources)
    return examples, {"path": str(path), "format": fmt, "episodes": len(examples),
                      "scenario": scenario, "sources": sorted(set(sources))}  # fmt: skip


def load_design_data(paths: str | Sequence[str]) -> DesignData:
    """All episodes of one or more datasets (any mix of scenarios, sizes and formats)."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    if not paths:
        raise AignError("no dataset given: --data DATASET (repeat it to combine)")
    examples: list[DesignExample] = []
    sources = []
    for path in paths:
        found, info = examples_from_dataset(path)
        examples += found
        sources.append(info)
    if not examples:
        raise AignError(f"the datasets {', '.join(map(str, paths))} hold no episodes")
    return DesignData(examples, {"datasets": sources, "examples": len(examples)})
