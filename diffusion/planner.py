"""The diffusion planner: a problem instance in, ranked designs and their trajectories out.

For an instance it builds the condition (the problem's features, a target return, the
constraints to satisfy), samples K power trajectories in one batch (DDIM with classifier-free
guidance), snaps each final state to the allowed levels, scores every candidate on the twin's
own objective (least constraint violation, then highest utility; between equal designs the
trajectory with the higher MDP return) and keeps the best. With ``refine=R`` the best R are
first polished on the twin by coordinate ascent (:func:`_refine`), marked ``refined``. The
actions that realize each trajectory are recovered with the MDP's own step
(:func:`agents.mdp.action_towards`, then :func:`agents.mdp.next_power`).

K defaults to the same sampling cost whatever the instance (:func:`default_candidates`):
the user transformer is run on the instance's own users only (it never attends to padded
ones, so their tokens are left out), and a denoiser pass over ``K x users`` tokens costs about
the same for 16 candidates at 80 users as for 640 at two.

:class:`PlannerController` puts the planner behind the twin's controller protocol.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from agents.mdp import action_towards, check_fits, next_power
from diffusion.checkpoint import DiffusionModel, load_model
from diffusion.conditioning import (
    GOAL_GROUPS,
    Condition,
    constraint_goal,
    goal_vector,
    instance_features,
)
from diffusion.runtime import torch_threads
from diffusion.sampler import sample_trajectories
from twin.controllers import Observation
from twin.core import AignError
from twin.radio import Design, ProblemInstance
from twin.solvers import coordinate_ascent

SOURCE = "diffusion"
# The default sampling budget, in users x candidates per denoiser pass: 16 candidates at 80
# users (the paper's largest network, ~45 ms here). Smaller instances get more candidates
# for the same cost, since the user transformer runs on the instance's own users only.
CANDIDATE_TOKENS = 16 * 80
MIN_CANDIDATES = 16
# How far (in the model's normalized units) a limit may leave the trained range unannounced.
LIMIT_SLACK = 0.02


def default_candidates(n_users: int) -> int:
    """K for an instance of ``n_users`` when none is asked for: ``CANDIDATE_TOKENS //
    n_users``, at least :data:`MIN_CANDIDATES` (paper-fig3 640, paper-20 64, paper-50 25,
    paper-80 16)."""
    return max(MIN_CANDIDATES, CANDIDATE_TOKENS // max(n_users, 1))


@dataclass(frozen=True)
class PlanSettings:
    """How the planner samples (every field can be overridden per call)."""

    candidates: int | None = None  # K trajectories scored on the twin (None: by size)
    steps: int = 5  # DDIM steps (5, 10, 20, 50: fewer is faster)
    guidance_weight: float = 1.0  # w: 0 ignores the goals, 1 conditional, > 1 pushes further
    eta: float = 0.0  # DDIM stochasticity (0: deterministic given the initial noise)
    target_return: float = 1.0  # normalized return to ask for (1 = best seen in training)
    compose: bool = False  # guide on each goal group separately and sum (constraint composition)
    refine: int = 0  # polish the best this-many candidates by coordinate ascent on the twin
    seed: int = 0  # initial noise
    recover_actions: bool = True  # also recover the actions and replay them on the MDP
    threads: int | None = 1  # torch CPU threads while sampling (None: torch's setting)

    def check(self) -> PlanSettings:
        if self.candidates is not None and self.candidates < 1:
            raise AignError(f"candidates must be >= 1, got {self.candidates}")
        if self.steps < 1:
            raise AignError(f"steps must be >= 1, got {self.steps}")
        if not np.isfinite(self.guidance_weight) or self.guidance_weight < 0:
            raise AignError(f"guidance_weight must be >= 0, got {self.guidance_weight}")
        if self.eta < 0:
            raise AignError(f"eta must be >= 0, got {self.eta}")
        if self.refine < 0:
            raise AignError(f"refine must be >= 0, got {self.refine}")
        if self.threads is not None and self.threads < 1:
            raise AignError(f"threads must be >= 1, got {self.threads}")
        return self


@dataclass
class PlanResult:
    """The candidates of one plan, best first.

    Designs (KPIs and provenance on the twin) are built when asked for: the best one by
    :attr:`best`, all of them by :attr:`designs`. The default plan of a small instance has
    hundreds of candidates, and the controller and the benchmarks only need the best.
    """

    instance: ProblemInstance  # what was planned for
    trajectories_mw: np.ndarray  # (K, H+1, U) generated states snapped to levels, ranked
    actions: np.ndarray | None  # (K, H, U) actions in [-1, 1] recovered with the MDP's step
    realized_mw: np.ndarray | None  # (K, H+1, U) the states those actions reach from the start
    utility: np.ndarray  # (K,) utility of each design, ranked
    violation: np.ndarray  # (K,) total normalized constraint violation, ranked
    seconds: float  # wall time of the plan (sampling, scoring, ranking)
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
            end = self.trajectories_mw[rank, -1]
            if self.realized_mw is not None:
                reached = np.array_equal(self.realized_mw[rank, -1], end)
                extra["reachable_in_horizon"] = bool(reached)
            self._designs[rank] = Design.for_instance(self.instance, end, source=SOURCE,
                                                      **self.provenance, **extra)  # fmt: skip
        return self._designs[rank]

    @property
    def designs(self) -> list[Design]:
        """One design per candidate, ranked (best first)."""
        return [self.design(i) for i in range(len(self.utility))]

    @property
    def best(self) -> Design:
        return self.design(0)

    def to_dict(self) -> dict:
        """JSON-ready: ``{"designs": [...]}`` (what :func:`twin.radio.instance.load_designs` reads)
        plus the trajectories, actions and timing."""
        out = {
            "designs": [d.to_dict() for d in self.designs],
            "trajectories_mw": self.trajectories_mw.tolist(),
            "utility": self.utility.tolist(),
            "violation": self.violation.tolist(),
            "seconds": self.seconds,
            "warnings": list(self.warnings),
        }
        if self.refined is not None:
            out["refined"] = self.refined.tolist()
        if self.actions is not None and self.realized_mw is not None:
            out["actions"] = self.actions.tolist()
            out["realized_mw"] = self.realized_mw.tolist()
        return out


class Planner:
    """Samples, scores and ranks designs with a trained :class:`DiffusionModel`."""

    def __init__(self, model: DiffusionModel, settings: PlanSettings | None = None):
        self.model = model
        self.settings = (settings or PlanSettings()).check()

    @property
    def max_users(self) -> int:
        return self.model.mdp.max_users

    @property
    def horizon(self) -> int:
        return self.model.mdp.horizon

    def token_count(self, instance: ProblemInstance) -> int:
        """Users the denoiser is run on: the instance's own for the user transformer (it
        attends to real users only, so padded tokens cannot change a real user's output and
        are left out, which makes small instances cheap), ``max_users`` for the U-Net."""
        transformer = self.model.denoiser_config.kind == "transformer"
        return instance.n_users if transformer else self.max_users

    def check_fits(self, instance: ProblemInstance) -> None:
        """Refuse an instance with more users than the model was trained for."""
        try:
            check_fits(instance, self.model.mdp)
        except ValueError as exc:
            raise AignError(f"diffusion planner: {exc}") from None

    def condition(
        self,
        instance: ProblemInstance,
        target_return: float,
        satisfied: Mapping[str, bool] | None = None,
    ) -> Condition:
        """The condition of one instance: its features and the goals asked for."""
        self.check_fits(instance)
        users, globals_ = instance_features(instance, self.max_users)
        goals = goal_vector(target_return, instance, satisfied)
        return Condition(
            user_features=torch.tensor(users[: self.token_count(instance)])[None],
            global_features=torch.tensor(globals_)[None],
            goals=torch.tensor(goals)[None],
            goal_keep=torch.ones((1, len(GOAL_GROUPS))),
        )

    def plan(
        self,
        instance: ProblemInstance,
        start_mw: np.ndarray | None = None,
        satisfied: Mapping[str, bool] | None = None,
        **overrides,
    ) -> PlanResult:
        """Sample ``candidates`` trajectories from ``start_mw`` (default: every user at the
        lowest level, where the training episodes start) and rank their final states.

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
        started = time.perf_counter()
        n = instance.n_users
        k = default_candidates(n) if s.candidates is None else s.candidates
        if start_mw is not None and np.shape(start_mw) != (n,):
            raise AignError(f"start_mw has shape {np.shape(start_mw)}, the instance has {n} users")
        p_max = instance.max_power_mw
        cond = self.condition(instance, s.target_return, satisfied).repeat(k)
        start = instance.snap_to_levels(np.zeros(n) if start_mw is None else start_mw)
        norm = self.model.normalizer
        x_start = -torch.ones((k, self.token_count(instance)))
        x_start[:, :n] = torch.as_tensor(norm.normalize(start, p_max), dtype=torch.float32)
        generator = torch.Generator().manual_seed(int(s.seed))
        with torch_threads(s.threads):
            x = sample_trajectories(
                self.model.denoiser, self.model.scheduler, cond, x_start, self.horizon,
                num_steps=s.steps, guidance_weight=s.guidance_weight, eta=s.eta,
                generator=generator, compose=s.compose,
            )  # fmt: skip
        powers = norm.unnormalize(x[:, :, :n].double().numpy(), p_max)
        trajectories = instance.snap_to_levels(powers)
        trajectories[:, 0] = start
        utility, violation = instance.objective(trajectories[:, -1])
        returns = self._returns(instance, trajectories)
        refined = None
        if s.refine:
            top = _rank(utility, violation, returns)[: s.refine]
            refined = np.zeros(k, bool)
            refined[top] = _refine(instance, trajectories, top)
            utility, violation = instance.objective(trajectories[:, -1])
            returns = self._returns(instance, trajectories)
        order = _rank(utility, violation, returns)
        trajectories, utility, violation = trajectories[order], utility[order], violation[order]
        actions = realized = None
        if s.recover_actions:
            actions, realized = self._recover_actions(instance, trajectories)
        provenance = {
            "model": str(self.model.path) if self.model.path else None,
            "denoiser": self.model.denoiser_config.kind,
            "seed": int(s.seed),
            "guidance_weight": float(s.guidance_weight),
            "candidates": k,
            "sampling_steps": s.steps,
            "eta": float(s.eta),
            "target_return": float(s.target_return),
            "compose": s.compose,
            "refine": s.refine,
        }
        result = PlanResult(instance, trajectories, actions, realized, utility, violation,
                            seconds=0.0, provenance=provenance, order=order,
                            refined=None if refined is None else refined[order])  # fmt: skip
        result.best  # noqa: B018 (the design asked for is part of the plan's time)
        result.seconds = time.perf_counter() - started
        result.warnings = self.warnings(instance, s)
        if violation[0] > 0:
            result.warnings.append(
                f"no candidate satisfies the constraints (best total violation "
                f"{violation[0]:.3g}); sample more candidates, refine them (--refine) or use "
                f"a reference solver"
            )
        return result

    def warnings(self, instance: ProblemInstance, settings: PlanSettings) -> list[str]:
        """Where this request leaves what the model was trained on (never silent)."""
        out = []
        counts = sorted(int(n) for n in self.model.return_ranges)
        if counts and instance.n_users not in counts:
            out.append(
                f"the model was trained on {counts} users; {instance.n_users} users is "
                f"generalization beyond its training data"
            )
        datasets = self.model.meta.get("dataset", {}).get("datasets", [])
        seen = {name for d in datasets for name in d.get("constraints", {})}
        recorded = all("constraints" in d for d in datasets) and bool(datasets)
        ranges = self.model.meta.get("dataset", {}).get("normalized_limits", {})
        for name in instance.constraints.active():
            if not recorded:
                out.append(f"the model does not record its training constraints; {name} may "
                           f"be new to it")  # fmt: skip
            elif name not in seen:
                out.append(
                    f"the model never saw {name} in training: its candidates ignore it and are "
                    f"only screened on the twin"
                )
            elif name in ranges:
                lo, hi = ranges[name]
                value = float(constraint_goal(
                    name, instance.constraints, True, instance.n_users, instance.max_power_mw,
                    instance.noise_mw,
                )[1])  # fmt: skip
                if not lo - LIMIT_SLACK <= value <= hi + LIMIT_SLACK:
                    out.append(
                        f"{name} = {getattr(instance.constraints, name):g} is outside the "
                        f"limits the model was trained on (normalized {value:.3g}, trained "
                        f"{lo:.3g} to {hi:.3g}): its candidates extrapolate and are screened "
                        f"on the twin"
                    )
        if settings.target_return > 1.0:
            out.append(
                f"target return {settings.target_return:g} asks for more than the best return "
                f"seen in training (1.0)"
            )
        return out

    def _returns(self, instance: ProblemInstance, trajectories: np.ndarray) -> np.ndarray:
        """(K,) each trajectory's return as the MDP counts it (:func:`agents.mdp.reward` of
        every state after the first: utility per user minus the violation penalty)."""
        k, steps, n = trajectories.shape
        u, v = instance.objective(trajectories[:, 1:].reshape(-1, n))
        rewards = u / n - self.model.mdp.violation_penalty * v
        return rewards.reshape(k, steps - 1).sum(axis=1)

    def _recover_actions(
        self, instance: ProblemInstance, trajectories: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Actions moving towards each next generated state, and the states they reach.

        The MDP's own step (:func:`agents.mdp.action_towards`, then
        :func:`agents.mdp.next_power`), applied to all K candidates at once.
        """
        k, steps, n = trajectories.shape
        config = self.model.mdp
        actions = np.zeros((k, steps - 1, n), np.float32)
        realized = np.empty_like(trajectories)
        p = realized[:, 0] = trajectories[:, 0]
        for t in range(steps - 1):
            a = action_towards(instance, p, trajectories[:, t + 1], config)
            p = realized[:, t + 1] = next_power(instance, p, a, config)
            actions[:, t] = a[:, :n]
        return actions, realized


def _refine(instance: ProblemInstance, trajectories: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Polish the final states of candidates ``which`` in place: discrete coordinate ascent
    on the twin started from each (every user in turn moves to its best level until none
    can improve; least violation first, then utility), so a design is never made worse.
    Binding constraints are where this pays: a sample that leaves one user just short of a
    minimum rate is usually a few level changes from feasible. Returns which changed."""
    changed = np.zeros(len(which), bool)
    for i, c in enumerate(which):
        end = trajectories[c, -1]
        polished = coordinate_ascent(instance, starts=1, init=end)
        changed[i] = not np.array_equal(polished, end)
        trajectories[c, -1] = polished
    return changed


def _rank(utility: np.ndarray, violation: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Candidate order, best first: the solvers' rule (:func:`twin.solvers.best_index`
    applied over and over: least violation, then highest utility), then, between equal
    designs, the trajectory with the higher return (it gets there sooner); remaining ties to
    the earlier candidate (a stable sort)."""
    return np.lexsort((-np.asarray(returns), -np.asarray(utility), np.asarray(violation)))


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

    Each decision plans from the MDP's start state (every user at the lowest level), as the
    training episodes do, rather than from the powers in force: the design is a fresh
    proposal for the current channel. Decision ``d`` uses seed ``seed + d``, restarted by
    ``reset``, so a run is reproducible.
    """

    def __init__(self, planner: Planner, name: str = SOURCE):
        self.planner, self.name = planner, name
        self._decisions = 0
        self.last: PlanResult | None = None

    def reset(self, instance: ProblemInstance) -> None:
        self.planner.check_fits(instance)
        self._decisions = 0

    def decide(self, observation: Observation) -> np.ndarray:
        seed = self.planner.settings.seed + self._decisions
        self._decisions += 1
        self.last = self.planner.plan(observation.instance, seed=seed, recover_actions=False)
        return self.last.best.power_mw


# Spec keys for ``diffusion:DIR,key=value,...`` and how to read them.
SPEC_KEYS = {"candidates": int, "steps": int, "guidance_weight": float, "w": float,
             "eta": float, "target_return": float, "seed": int, "refine": int}  # fmt: skip


def diffusion_controller(args: str) -> PlannerController:
    """Entry point ``diffusion:DIR[,candidates=16,steps=10,w=1.5,seed=0,refine=4]`` of the
    ``aign.controllers`` group."""
    parts = [p.strip() for p in args.split(",")] if args.strip() else []
    if not parts or "=" in parts[0]:
        raise AignError("diffusion needs the trained model's folder: diffusion:DIR[,key=value]")
    settings = {}
    for item in parts[1:]:
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
    return PlannerController(load_planner(parts[0], **settings), f"diffusion:{args.strip()}")
