"""The diffusion planner: a problem instance in, ranked designs and their trajectories out.

For an instance it lays out the interference graph (:mod:`diffusion.graph`), builds the
goals (a target return and the instance's constraints), samples K designs in one batch
(DDIM with classifier-free guidance and the twin's radio state fed back at every step,
:mod:`diffusion.sampler`), snaps each to the allowed levels, scores every candidate on the
twin's own objective (least constraint violation, then highest utility) and keeps the best.
With ``refine=R`` the best R are then polished on the twin by coordinate ascent, marked
``refined`` (off by default: the planner's own designs are what the benchmarks measure).

Every design comes with the power trajectory that realizes it from the start state: the
MDP's own step (:func:`agents.mdp.action_towards`, :func:`agents.mdp.next_power`: each user
moves at most ``max_step_fraction`` of the top level per step) towards the design, over the
horizon; it is what the app's Power trajectories page draws.

:class:`PlannerController` puts the planner behind the twin's controller protocol.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import numpy as np

from agents.mdp import MDPConfig, action_towards, next_power
from diffusion.checkpoint import DiffusionModel, load_model
from diffusion.conditioning import goal_vector
from diffusion.graph import design_graph
from diffusion.runtime import torch_threads
from diffusion.sampler import sample_designs
from twin.controllers import Observation
from twin.core import AignError
from twin.radio import Design, ProblemInstance
from twin.solvers import coordinate_ascent

SOURCE = "diffusion"
DEFAULT_CANDIDATES = 16
# Above this many user x BS links per candidate, fewer candidates keep the plan's memory and
# time in proportion (each step computes the radio state of every candidate: O(K U B)).
CANDIDATE_LINKS = 16 * 1000 * 20


def default_candidates(n_users: int, n_bs: int) -> int:
    """K for an instance when none is asked for: 16, fewer on very large networks (4 at
    10000 x 100), never below 4."""
    budget = CANDIDATE_LINKS // max(n_users * n_bs, 1)
    return int(min(DEFAULT_CANDIDATES, max(4, budget)))


@dataclass(frozen=True)
class PlanSettings:
    """How the planner samples (every field can be overridden per call)."""

    candidates: int | None = None  # K designs scored on the twin (None: by size)
    steps: int = 4  # DDIM steps: each is one network pass and one radio-state update
    guidance_weight: float = 1.0  # w: 0 ignores the goals, 1 conditional, > 1 pushes further
    target_return: float = 1.0  # the share of the best design to ask for (1 = the best)
    compose: bool = False  # guide on each goal group separately and sum (composition)
    refine: int = 0  # polish the best this-many candidates by coordinate ascent on the twin
    seed: int = 0  # initial noise
    recover_actions: bool = True  # also build each design's trajectory and actions
    horizon: int = 8  # steps of the trajectory view
    max_step_fraction: float = 0.25  # largest power change per trajectory step (share of top)
    threads: int | None = 1  # torch CPU threads while sampling (None: torch's setting)

    def check(self) -> PlanSettings:
        if self.candidates is not None and self.candidates < 1:
            raise AignError(f"candidates must be >= 1, got {self.candidates}")
        if self.steps < 1:
            raise AignError(f"steps must be >= 1, got {self.steps}")
        if not np.isfinite(self.guidance_weight) or self.guidance_weight < 0:
            raise AignError(f"guidance_weight must be >= 0, got {self.guidance_weight}")
        if not np.isfinite(self.target_return) or not 0 < self.target_return <= 2:
            raise AignError(f"target_return must be in (0, 2], got {self.target_return}")
        if self.refine < 0:
            raise AignError(f"refine must be >= 0, got {self.refine}")
        if self.horizon < 1 or not 0 < self.max_step_fraction <= 1:
            raise AignError("horizon must be >= 1 and max_step_fraction in (0, 1]")
        if self.threads is not None and self.threads < 1:
            raise AignError(f"threads must be >= 1, got {self.threads}")
        return self


@dataclass
class PlanResult:
    """The candidates of one plan, best first.

    Designs (KPIs and provenance on the twin) are built when asked for: the best one by
    :attr:`best`, all of them by :attr:`designs`.
    """

    instance: ProblemInstance  # what was planned for
    designs_mw: np.ndarray  # (K, U) designs snapped to levels, ranked
    utility: np.ndarray  # (K,) utility of each design, ranked
    violation: np.ndarray  # (K,) total normalized constraint violation, ranked
    seconds: float  # wall time of the plan (sampling, scoring, ranking)
    trajectories_mw: np.ndarray | None = None  # (K, H+1, U) from the start to each design
    actions: np.ndarray | None = None  # (K, H, U) the MDP actions of those steps, in [-1, 1]
    warnings: list[str] = field(default_factory=list)  # what the user must know about them
    provenance: dict = field(default_factory=dict)  # shared by every design (model, settings)
    order: np.ndarray | None = None  # (K,) the sampled candidate's index at each rank
    refined: np.ndarray | None = None  # (K,) whether refinement changed the design, ranked
    _designs: dict[int, Design] = field(default_factory=dict, repr=False)

    def design(self, rank: int) -> Design:
        """The design of the candidate ranked ``rank`` (0: the best)."""
        if rank not in self._designs:
            extra = {"rank": rank}
            if self.order is not None:
                extra["candidate"] = int(self.order[rank])
            if self.refined is not None:
                extra["refined"] = bool(self.refined[rank])
            self._designs[rank] = Design.for_instance(self.instance, self.designs_mw[rank],
                                                      source=SOURCE, **self.provenance,
                                                      **extra)  # fmt: skip
        return self._designs[rank]

    @property
    def designs(self) -> list[Design]:
        """One design per candidate, ranked (best first)."""
        return [self.design(i) for i in range(len(self.utility))]

    @property
    def best(self) -> Design:
        return self.design(0)

    def to_dict(self) -> dict:
        """JSON-ready: ``{"designs": [...]}`` (what :func:`twin.radio.load_designs` reads)
        plus the trajectories, actions and timing."""
        out = {
            "designs": [d.to_dict() for d in self.designs],
            "utility": self.utility.tolist(),
            "violation": self.violation.tolist(),
            "seconds": self.seconds,
            "warnings": list(self.warnings),
        }
        if self.refined is not None:
            out["refined"] = self.refined.tolist()
        if self.trajectories_mw is not None:
            out["trajectories_mw"] = self.trajectories_mw.tolist()
        if self.actions is not None:
            out["actions"] = self.actions.tolist()
        return out


class Planner:
    """Samples, scores and ranks designs with a trained :class:`DiffusionModel`."""

    def __init__(self, model: DiffusionModel, settings: PlanSettings | None = None):
        self.model = model
        self.settings = (settings or PlanSettings()).check()

    def plan(
        self, instance: ProblemInstance, start_mw: np.ndarray | None = None, **overrides
    ) -> PlanResult:
        """Sample ``candidates`` designs and rank them; ``start_mw`` (default: every user at
        the lowest level) is where each design's trajectory starts.

        ``overrides``: any :class:`PlanSettings` field for this call only.
        """
        try:
            s = replace(self.settings, **overrides).check() if overrides else self.settings
        except TypeError as exc:
            raise AignError(f"diffusion planner: {exc}") from None
        if s.steps > self.model.scheduler.num_train_timesteps:
            raise AignError(
                f"steps must be at most {self.model.scheduler.num_train_timesteps} (the "
                f"model's training timesteps), got {s.steps}"
            )
        n = instance.n_users
        if start_mw is not None and np.shape(start_mw) != (n,):
            raise AignError(f"start_mw has shape {np.shape(start_mw)}, the instance has {n} users")
        started = time.perf_counter()
        k = default_candidates(n, instance.n_bs) if s.candidates is None else s.candidates
        graph = design_graph(instance, self.model.neighbours)
        # A model trained without return labels (--best-only) is not asked for a return.
        learned_return = self.model.envelope.goals.get("return") is not None
        goal = goal_vector(instance, s.target_return if learned_return else None)
        with torch_threads(s.threads):
            sampled = sample_designs(self.model.denoiser, self.model.scheduler, graph, goal, k,
                                     s.steps, s.guidance_weight, s.compose, s.seed,
                                     self.model.off_gap)  # fmt: skip
        designs = snap(instance, sampled, np.random.default_rng([int(s.seed), 0x5A]))
        utility, violation = instance.objective(designs)
        refined = None
        if s.refine:
            top = _rank(utility, violation)[: s.refine]
            refined = np.zeros(k, bool)
            refined[top] = _refine(instance, designs, top)
            utility, violation = instance.objective(designs)
        order = _rank(utility, violation)
        designs, utility, violation = designs[order], utility[order], violation[order]
        provenance = {
            "model": str(self.model.path) if self.model.path else None,
            "denoiser": "graph",
            "seed": int(s.seed),
            "guidance_weight": float(s.guidance_weight),
            "candidates": k,
            "sampling_steps": s.steps,
            "target_return": float(s.target_return),
            "compose": s.compose,
            "refine": s.refine,
        }
        result = PlanResult(instance, designs, utility, violation, seconds=0.0,
                            provenance=provenance, order=order,
                            refined=None if refined is None else refined[order])  # fmt: skip
        # The plan's time: sampling, rounding, scoring and ranking (what a classical solver's
        # time covers too); the Design objects with their KPIs are built when asked for.
        result.seconds = time.perf_counter() - started
        if s.recover_actions:
            start = instance.snap_to_levels(np.zeros(n) if start_mw is None else start_mw)
            result.trajectories_mw, result.actions = trajectories(instance, start, designs, s)
        result.warnings = self.model.envelope.check(graph, goal)
        if s.target_return > 1.0:
            result.warnings.append(f"target return {s.target_return:g} asks for more than the "
                                   "best design of the training data (1.0)")  # fmt: skip
        if violation[0] > 0:
            result.warnings.append(
                f"no candidate satisfies the constraints (best total violation "
                f"{violation[0]:.3g}); sample more candidates, refine them (--refine) or use "
                f"a reference solver"
            )
        return result


def snap(instance: ProblemInstance, power_mw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Samples ``(K, U)`` to allowed levels: the first candidate to the nearest levels, the
    others by unbiased stochastic rounding (up with probability equal to how far the power
    lies towards the next level). The model's output is continuous and the designs are
    discrete (the training targets are levels): rounding each candidate independently is
    the sampling of a level from the model's prediction, so K candidates cover the
    neighbouring levels, and the twin's scoring picks among them, where nearest rounding
    alone would give every candidate the same level wherever the model is off by half a
    step (the Fig. 3 optimum (28, 31) against (27, 31): 0.99998 of its utility)."""
    levels = instance.levels_mw
    p = np.clip(np.asarray(power_mw, dtype=float), levels[0], levels[-1])
    if len(levels) < 2:
        return np.full_like(p, levels[0])
    idx = np.clip(np.searchsorted(levels, p, side="right"), 1, len(levels) - 1)
    lo, hi = levels[idx - 1], levels[idx]
    up = rng.uniform(size=p.shape) < (p - lo) / (hi - lo)
    out = np.where(up, hi, lo)
    out[:1] = instance.snap_to_levels(p[:1])
    return out


def trajectories(
    instance: ProblemInstance, start: np.ndarray, designs: np.ndarray, s: PlanSettings
) -> tuple[np.ndarray, np.ndarray]:
    """``(K, H+1, U)`` power trajectories from ``start`` towards each design and the
    ``(K, H, U)`` actions of the MDP's step that realize them (all K at once)."""
    k, n = designs.shape
    config = MDPConfig(max_users=n, horizon=s.horizon, max_step_fraction=s.max_step_fraction)
    states = np.empty((k, s.horizon + 1, n))
    actions = np.zeros((k, s.horizon, n), np.float32)
    p = states[:, 0] = np.broadcast_to(start, (k, n))
    for t in range(s.horizon):
        a = action_towards(instance, p, designs, config)
        p = states[:, t + 1] = next_power(instance, p, a, config)
        actions[:, t] = a[:, :n]
    return states, actions


def _refine(instance: ProblemInstance, designs: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Polish designs ``which`` in place: discrete coordinate ascent on the twin started from
    each (never worse: least violation first, then utility). Returns which changed."""
    changed = np.zeros(len(which), bool)
    for i, c in enumerate(which):
        polished = coordinate_ascent(instance, starts=1, init=designs[c])
        changed[i] = not np.array_equal(polished, designs[c])
        designs[c] = polished
    return changed


def _rank(utility: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Candidate order, best first: least violation, then highest utility (the solvers'
    rule, :func:`twin.solvers.best_index`, over and over); ties to the earlier candidate."""
    return np.lexsort((-np.asarray(utility), np.asarray(violation)))


def load_planner(path: str | os.PathLike, **settings) -> Planner:
    """A planner for the model folder ``path`` (``settings``: :class:`PlanSettings` fields)."""
    try:
        plan_settings = PlanSettings(**settings)
    except TypeError as exc:
        raise AignError(f"diffusion planner: {exc}") from None
    return Planner(load_model(path), plan_settings)


class PlannerController:
    """The planner as a twin controller: at every decision epoch it plans a design for the
    current instance and returns the best candidate's powers.

    Decision ``d`` uses seed ``seed + d``, restarted by ``reset``, so a run is reproducible.
    """

    def __init__(self, planner: Planner, name: str = SOURCE):
        self.planner, self.name = planner, name
        self._decisions = 0
        self.last: PlanResult | None = None

    def reset(self, instance: ProblemInstance) -> None:
        self._decisions = 0

    def decide(self, observation: Observation) -> np.ndarray:
        seed = self.planner.settings.seed + self._decisions
        self._decisions += 1
        self.last = self.planner.plan(observation.instance, seed=seed, recover_actions=False)
        return self.last.best.power_mw


# Spec keys for ``diffusion:DIR,key=value,...`` and how to read them.
SPEC_KEYS = {"candidates": int, "steps": int, "guidance_weight": float, "w": float,
             "target_return": float, "seed": int, "refine": int}  # fmt: skip


def diffusion_controller(args: str) -> PlannerController:
    """Entry point ``diffusion[:DIR][,candidates=16,steps=8,w=1.5,seed=0,refine=4]`` of the
    ``aign.controllers`` group (no DIR: the shipped model)."""
    from diffusion.checkpoint import default_model_dir

    parts = [p.strip() for p in args.split(",")] if args.strip() else []
    folder = parts.pop(0) if parts and "=" not in parts[0] else None
    settings = {}
    for item in parts:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in SPEC_KEYS:
            raise AignError(
                f"diffusion: {item!r} is not one of {', '.join(k + '=...' for k in SPEC_KEYS)}"
            )
        try:
            number = SPEC_KEYS[key](value.strip())
        except ValueError:
            raise AignError(f"diffusion: {key} must be a number, got {value!r}") from None
        settings["guidance_weight" if key == "w" else key] = number
    planner = load_planner(folder or default_model_dir(), **settings)
    return PlannerController(planner, f"diffusion:{args.strip()}" if args.strip() else SOURCE)
