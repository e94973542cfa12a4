"""Self-improvement: the planner's own designs, validated on the twin, become training data.

After a round of training, the planner plans every training instance (its goals: the
instance's constraints) with K candidates and the twin scores them. Where its best candidate
beats the example's design (less constraint violation, or as little and a higher utility),
the example takes it. The next round trains on the improved examples. This is the paper's
generate-then-validate loop turned on the training set: stage 1's episodes seed it and no
expert is asked; what is kept is only what the twin measured as better.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from diffusion.checkpoint import DiffusionModel
from diffusion.data import DesignData
from diffusion.planner import Planner, PlanSettings

VIOLATION_TOL = 1e-9  # constraint violations closer than this count as equal


@dataclass(frozen=True)
class RoundReport:
    """What one improvement round changed."""

    examples: int
    improved: int
    mean_gain: float  # mean utility ratio (new / old) over the improved examples, minus 1

    def to_dict(self) -> dict:
        return {"examples": self.examples, "improved": self.improved,
                "mean_gain": self.mean_gain}  # fmt: skip


def improve_designs(
    model: DiffusionModel, data: DesignData, candidates: int = 16, seed: int = 0
) -> tuple[DesignData, RoundReport]:
    """``data`` with each example's design replaced by the planner's best where the twin
    says it is better (see the module docstring). Deterministic for a model and seed."""
    planner = Planner(model, PlanSettings(candidates=candidates, seed=seed,
                                          recover_actions=False))  # fmt: skip
    out, gains = [], []
    for example in data.examples:
        inst = example.instance
        old_u, old_v = (float(x) for x in inst.objective(example.design_mw))
        result = planner.plan(inst)
        new_u, new_v = float(result.utility[0]), float(result.violation[0])
        better = new_v < old_v - VIOLATION_TOL or (abs(new_v - old_v) <= VIOLATION_TOL
                                                   and new_u > old_u)  # fmt: skip
        if not better:
            out.append(example)
            continue
        out.append(replace(example, design_mw=result.designs_mw[0].copy(),
                           source=f"{example.source}+planner"))  # fmt: skip
        gains.append(new_u / old_u - 1.0 if old_u > 0 else float("nan"))
    finite = [g for g in gains if np.isfinite(g)]
    report = RoundReport(len(out), len(gains), float(np.mean(finite)) if finite else 0.0)
    rounds = [*data.provenance.get("improvement_rounds", []), report.to_dict()]
    return DesignData(out, {**data.provenance, "improvement_rounds": rounds}), report
