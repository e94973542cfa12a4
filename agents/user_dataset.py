"""Per-user trajectory datasets (``aign.user-trajectories/1``): stage 1's per-user output.

One episode is one instance run by a shared policy; it holds one *user episode* per user
(observation, action, difference reward per step: what BCQ learns from, 1-D actions) and,
for the instance, what stage 2 needs (the power trajectory, the gains, the labels: return,
final utility, constraint limits and satisfaction, environment parameters, seed, source).
User counts vary freely: per-user arrays are stored flat along a user axis, with each
episode's users contiguous and ``user_episode`` naming their episode (no padding).

The folder layout, checksums, resumption and merging rules are those of the joint format
(:mod:`agents.dataset`, ``docs/datasets.md``); only the shard arrays differ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.dataset import (
    CONSTRAINT_NAMES,
    ENV_PARAM_NAMES,
    DatasetError,
    TrajectoryWriter,
    _quantiles,
    _read_manifest,
    _sha256,
    imposed_summary,
)
from agents.peruser import USER_FEATURES, UserMDPConfig

USER_FORMAT = "aign.user-trajectories"
USER_VERSION = 1
EPISODE_FIELDS: dict[str, str] = {
    "n_users": "int32",  # (E,)
    "noise_mw": "float64",  # (E,)
    "utilities": "float64",  # (E, H+1): utility of each state
    "returns": "float64",  # (E,) sum over steps of the users' mean reward
    "final_utility": "float64",  # (E,)
    "feasible": "bool",  # (E,)
    "constraint_ok": "bool",  # (E, 3)
    "constraint_limits": "float64",  # (E, 3), NaN = not imposed
    "env_params": "float32",  # (E, len(ENV_PARAM_NAMES))
    "seeds": "int64",  # (E,)
    "episode_index": "int64",  # (E,)
    "source": "str",  # (E,)
}
USER_FIELDS: dict[str, str] = {
    "user_episode": "int64",  # (N,) episode of each user, within its shard on disk
    "observations": "float32",  # (N, H+1, F)
    "actions": "float32",  # (N, H) in [-1, 1]
    "rewards": "float32",  # (N, H) difference rewards
    "moves": "bool",  # (N, H) whether the step applied the user's action
    "powers_mw": "float32",  # (N, H+1)
    "gains": "float64",  # (N, B)
    "assoc": "int32",  # (N,)
    "user_returns": "float64",  # (N,) sum of the user's rewards
}


@dataclass(frozen=True)
class UserDatasetHeader:
    """What every episode of a per-user dataset shares; merging needs equal headers."""

    mdp: UserMDPConfig
    n_bs: int
    levels_mw: list[float]
    bandwidth_hz: float
    price: float
    constraints: dict[str, float | None]
    reuse: str
    scenario: str
    features: tuple[str, ...] = USER_FEATURES
    # > 1: each episode's price is the header's times a draw in [1/f, f], kept in env_params
    price_jitter: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        d = {"mdp": self.mdp.to_dict(), "n_bs": self.n_bs, "levels_mw": list(self.levels_mw),
             "bandwidth_hz": self.bandwidth_hz, "price": self.price,
             "constraints": dict(self.constraints), "reuse": self.reuse,
             "scenario": self.scenario, "features": list(self.features)}  # fmt: skip
        if self.price_jitter != 1.0:  # (absent otherwise: earlier datasets' headers match)
            d["price_jitter"] = self.price_jitter
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UserDatasetHeader:
        rest = {k: v for k, v in d.items() if k not in ("mdp", "features")}
        return cls(UserMDPConfig.from_dict(d["mdp"]), features=tuple(d["features"]), **rest)

    def compatible(self, other: UserDatasetHeader) -> list[str]:
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k != "scenario" and a[k] != b[k]]


class UserTrajectoryWriter(TrajectoryWriter):
    """Appends per-user episodes, one atomic shard per call."""

    FORMAT, VERSION, READABLE = USER_FORMAT, USER_VERSION, (USER_VERSION,)
    FIELDS = {**EPISODE_FIELDS, **USER_FIELDS}


@dataclass
class UserTrajectoryDataset:
    """Every episode of a per-user dataset in memory (``user_episode`` made global)."""

    header: UserDatasetHeader
    arrays: dict[str, np.ndarray]
    path: Path | None = None
    shards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_episodes(self) -> int:
        return int(len(self.arrays["returns"]))

    @property
    def n_user_episodes(self) -> int:
        return int(len(self.arrays["user_episode"]))

    @property
    def horizon(self) -> int:
        return self.header.mdp.horizon

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> UserTrajectoryDataset:
        """Read a per-user dataset folder; checksums, shapes and version are checked."""
        path = Path(path)
        manifest = _read_manifest(path, USER_FORMAT, (USER_VERSION,), USER_VERSION)
        try:
            header = UserDatasetHeader.from_dict(manifest["header"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}/dataset.json: malformed header ({exc})") from None
        if not manifest["shards"]:
            raise DatasetError(f"{path}: the dataset has no episodes yet")
        names = [*EPISODE_FIELDS, *USER_FIELDS]
        parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
        offset = 0
        for shard in manifest["shards"]:
            file = path / shard["file"]
            if not file.exists():
                raise DatasetError(f"{file}: listed in the manifest but missing")
            if verify and _sha256(file) != shard["sha256"]:
                raise DatasetError(
                    f"{file}: corrupt (checksum mismatch); delete it, remove its entry from "
                    f"dataset.json and re-run aign collect to regenerate those episodes"
                )
            try:
                with np.load(file, allow_pickle=False) as npz:
                    for k in names:
                        parts[k].append(npz[k])
            except (OSError, KeyError, ValueError) as exc:
                raise DatasetError(f"{file}: unreadable or truncated shard ({exc})") from None
            parts["user_episode"][-1] = parts["user_episode"][-1] + offset
            offset += len(parts["returns"][-1])
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
        dataset = cls(header, arrays, path, manifest["shards"])
        dataset._check_shapes()
        return dataset

    def _check_shapes(self) -> None:
        e, n, h = self.n_episodes, self.n_user_episodes, self.horizon
        expected = {
            "observations": (n, h + 1, len(self.header.features)),
            "actions": (n, h), "rewards": (n, h), "moves": (n, h),
            "powers_mw": (n, h + 1), "gains": (n, self.header.n_bs),
            "utilities": (e, h + 1), "constraint_limits": (e, len(CONSTRAINT_NAMES)),
        }  # fmt: skip
        for name, shape in expected.items():
            if self.arrays[name].shape != shape:
                raise DatasetError(
                    f"{self.path}: {name} has shape {self.arrays[name].shape}, the header "
                    f"says {shape}; the dataset is inconsistent"
                )
        counts = np.bincount(self.arrays["user_episode"], minlength=e)
        if len(counts) != e or not np.array_equal(counts, self.arrays["n_users"]):
            raise DatasetError(f"{self.path}: users per episode disagree with n_users")

    # ------------------------------------------------------------------ episodes
    def users_of(self, k: int) -> slice:
        """The rows of episode ``k``'s users in the per-user arrays (contiguous)."""
        start = int(np.searchsorted(self.arrays["user_episode"], k))
        return slice(start, start + int(self.arrays["n_users"][k]))

    def power_trajectory(self, k: int) -> np.ndarray:
        """``(H+1, U_k)`` powers of episode ``k``, mW: the state stage 2 learns."""
        return self.arrays["powers_mw"][self.users_of(k)].T.astype(float)

    def price(self, k: int) -> float:
        """Episode ``k``'s price: the header's, or the drawn one under ``price_jitter``."""
        if self.header.price_jitter == 1.0:
            return float(self.header.price)
        return float(self.arrays["env_params"][k, ENV_PARAM_NAMES.index("price")])

    def instance(self, k: int):
        """The problem instance of episode ``k``."""
        from twin.radio import Constraints, ProblemInstance

        rows, h = self.users_of(k), self.header
        limits = self.arrays["constraint_limits"][k]
        constraints = Constraints(**{
            name: None if np.isnan(limit) else float(limit)
            for name, limit in zip(CONSTRAINT_NAMES, limits, strict=True)
        })  # fmt: skip
        return ProblemInstance(
            gains=self.arrays["gains"][rows], assoc=self.arrays["assoc"][rows],
            noise_mw=float(self.arrays["noise_mw"][k]), bandwidth_hz=h.bandwidth_hz,
            levels_mw=np.asarray(h.levels_mw), price=self.price(k),
            constraints=constraints, reuse=h.reuse,  # type: ignore[arg-type]
        )  # fmt: skip

    # ------------------------------------------------------------------ quality figures
    def info(self) -> dict[str, Any]:
        """Size, trajectory quality, state-action coverage and label distributions."""
        a = self.arrays
        sources, counts = np.unique(a["source"], return_counts=True)
        users, user_counts = np.unique(a["n_users"], return_counts=True)
        per_user = a["final_utility"] / a["n_users"]
        return {
            "path": str(self.path),
            "format": f"{USER_FORMAT}/{USER_VERSION}",
            "formulation": "per-user",
            "scenario": self.header.scenario,
            "scenarios": _scenario_counts(self.shards, self.header.scenario),
            "episodes": self.n_episodes,
            "user_episodes": self.n_user_episodes,
            "transitions": self.n_user_episodes * self.horizon,
            "horizon": self.horizon,
            "sources": {str(s): int(c) for s, c in zip(sources, counts, strict=True)},
            "user_counts": {int(u): int(c) for u, c in zip(users, user_counts, strict=True)},
            "quality": {
                "mean_return": float(a["returns"].mean()),
                "return_quantiles": _quantiles(a["returns"]),
                "mean_user_return": float(a["user_returns"].mean()),
                "mean_final_utility": float(a["final_utility"].mean()),
                "final_utility_per_user_quantiles": _quantiles(per_user),
                "feasible_share": float(a["feasible"].mean()),
                "constraint_ok_share": {
                    name: float(a["constraint_ok"][:, i].mean())
                    for i, name in enumerate(CONSTRAINT_NAMES)
                },
            },
            "constraints": imposed_summary(a["constraint_limits"], a["constraint_ok"]),
            "coverage": self.coverage(),
        }

    def coverage(self, bins: int = 10) -> dict[str, Any]:
        """State-action coverage of the user transitions.

        A user's state is binned on its two deciding features, the link's SNR at full power
        and its benefit-over-cost ratio, ``bins`` bins each over the range the data spans;
        its action into ``bins`` bins of ``[-1, 1]``. Reported: the share of the
        ``bins^3`` state-action cells visited, the share of power levels ever used, the
        share of user-steps switched off, and the action histogram.
        """
        a = self.arrays
        f = list(self.header.features)
        obs = a["observations"][:, :-1]
        state = np.stack(
            [obs[..., f.index("snr_full_power_db")], obs[..., f.index("benefit_over_cost")]],
            axis=-1,
        ).reshape(-1, 2)
        lo, hi = state.min(axis=0), state.max(axis=0)
        cells = np.floor((state - lo) / np.maximum(hi - lo, 1e-9) * bins).clip(0, bins - 1)
        action_bin = np.floor((a["actions"].reshape(-1) + 1) / 2 * bins).clip(0, bins - 1)
        keys = (cells[:, 0] * bins + cells[:, 1]) * bins + action_bin
        levels = np.asarray(self.header.levels_mw)
        used = np.unique(np.searchsorted(levels, a["powers_mw"].ravel() - 1e-6))
        hist = np.bincount(action_bin.astype(int), minlength=bins)
        return {
            "state_action_cells_visited_share": float(len(np.unique(keys)) / bins**3),
            "power_levels_visited_share": float(len(used) / len(levels)),
            "off_share": float((a["powers_mw"][:, 1:] == 0).mean()),
            "action_histogram": (hist / max(hist.sum(), 1)).round(4).tolist(),
        }

    # ------------------------------------------------------------------ exports
    def to_d3rlpy(self, *others: UserTrajectoryDataset):
        """The user transitions as a d3rlpy ``MDPDataset`` (1-D actions, one episode per user),
        followed by those of ``others`` (datasets of other networks, recorded alike)."""
        from d3rlpy.dataset import MDPDataset

        parts = [d._transitions() for d in (self, *others)]
        return MDPDataset(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})

    def _transitions(self) -> dict[str, np.ndarray]:
        a, h = self.arrays, self.horizon
        terminals = np.zeros((self.n_user_episodes, h), dtype=np.float32)
        terminals[:, -1] = 1.0
        return {
            "observations": a["observations"][:, :-1].reshape(-1, a["observations"].shape[-1]),
            "actions": a["actions"].reshape(-1, 1),
            "rewards": a["rewards"].reshape(-1, 1),
            "terminals": terminals.reshape(-1),
        }

    def export_minari(self, dataset_id: str, root: str | os.PathLike):
        """Write the user episodes as a Minari dataset ``dataset_id`` under ``root``.

        Each user episode becomes one Minari episode (observations ``(H+1, F)``, actions
        ``(H, 1)``, difference rewards, termination at ``H``), with the instance episode,
        user index and seed in its ``infos``; Minari's ``load_dataset`` reads it back with
        ``MINARI_DATASETS_PATH=root``. Returns the ``MinariDataset``.
        """
        import minari
        from gymnasium import spaces
        from minari.data_collector import EpisodeBuffer

        from agents.peruser import OBS_LIMIT

        a, h = self.arrays, self.horizon
        buffers = []
        for u in range(self.n_user_episodes):
            k = int(a["user_episode"][u])
            index_in_episode = u - self.users_of(k).start
            buffers.append(EpisodeBuffer(
                id=u, seed=int(a["seeds"][k]),
                observations=a["observations"][u], actions=a["actions"][u][:, None],
                rewards=a["rewards"][u].astype(float).tolist(),
                terminations=[False] * (h - 1) + [True], truncations=[False] * h,
                infos={"episode": np.full(h + 1, k), "user": np.full(h + 1, index_in_episode)},
            ))  # fmt: skip
        f = len(self.header.features)
        previous = os.environ.get("MINARI_DATASETS_PATH")
        os.environ["MINARI_DATASETS_PATH"] = os.fspath(root)
        try:
            return minari.create_dataset_from_buffers(
                dataset_id, buffers, algorithm_name=",".join(sorted(set(a["source"].tolist()))),
                observation_space=spaces.Box(-OBS_LIMIT, OBS_LIMIT, (f,), np.float32),
                action_space=spaces.Box(-1.0, 1.0, (1,), np.float32),
                description=f"aign per-user power-allocation episodes from {self.path} "
                            f"(scenario {self.header.scenario}; features "
                            f"{list(self.header.features)})",
            )  # fmt: skip
        finally:
            if previous is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = previous


def _scenario_counts(shards: list[dict[str, Any]], default: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for shard in shards:
        name = shard.get("scenario", default)
        counts[name] = counts.get(name, 0) + int(shard["episodes"])
    return counts


__all__ = ["ENV_PARAM_NAMES", "UserDatasetHeader", "UserTrajectoryDataset", "UserTrajectoryWriter"]
