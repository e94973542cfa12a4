"""Labeled trajectory datasets: the stage-1 output that BCQ and the diffusion planner learn from.

Format ``aign.trajectories/2`` (documented in ``docs/datasets.md``): a folder with
``dataset.json`` (the manifest) and shards ``shard-*.npz`` written atomically, each listed in
the manifest with its SHA-256. The fields follow Minari's (observations, actions, rewards,
terminations per step) plus what the paper's stage 2 needs: the power trajectory, the
instance and per-trajectory labels (return, final utility, constraint satisfaction,
environment parameters, seed, source policy). Shards load with ``allow_pickle=False``.

A collection that is interrupted keeps every shard the manifest lists; rerunning it
continues with the next episode index, and episode ``k`` of a collection always uses seed
``base_seed + k``, so a resumed collection equals an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.mdp import MDPConfig
from twin.core import AignError, read_json, write_json_atomic

FORMAT = "aign.trajectories"
VERSION = 2  # 2 added per-episode constraint limits ("constraint_limits")
READABLE_VERSIONS = (1, 2)  # version 1 episodes all have the header's constraints
CONSTRAINT_NAMES = ("min_rate_bps", "max_total_power_mw", "max_interference_mw")
ENV_PARAM_NAMES = ("n_users", "noise_dbm", "mean_serving_gain_db", "price", "n_bs")
# Per-episode arrays and their dtypes; leading axis = episode.
FIELDS: dict[str, str] = {
    "observations": "float32",  # (E, H+1, obs_dim)
    "actions": "float32",  # (E, H, max_users)
    "rewards": "float32",  # (E, H)
    "powers_mw": "float32",  # (E, H+1, max_users), padded with 0
    "utilities": "float64",  # (E, H+1): utility of each state
    "gains": "float64",  # (E, max_users, n_bs), padded with 0
    "assoc": "int32",  # (E, max_users), padded with 0
    "noise_mw": "float64",  # (E,)
    "n_users": "int32",  # (E,)
    "returns": "float64",  # (E,) sum of rewards
    "final_utility": "float64",  # (E,)
    "feasible": "bool",  # (E,) every imposed constraint holds at the end
    "constraint_ok": "bool",  # (E, 3) per constraint in CONSTRAINT_NAMES (True if not imposed)
    "constraint_limits": "float64",  # (E, 3) each episode's limits; NaN = not imposed
    "env_params": "float32",  # (E, len(ENV_PARAM_NAMES))
    "seeds": "int64",  # (E,)
    "episode_index": "int64",  # (E,) index within its collection stream
    "source": "str",  # (E,) policy spec that produced the episode
}


class DatasetError(AignError):
    """A dataset is missing, corrupt, of another version, or incompatible with its use."""


@dataclass(frozen=True)
class DatasetHeader:
    """What every episode of a dataset shares; merging needs equal headers."""

    mdp: MDPConfig
    n_bs: int
    levels_mw: list[float]
    bandwidth_hz: float
    price: float
    constraints: dict[str, float | None]
    reuse: str
    scenario: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "mdp": self.mdp.to_dict(),
            "n_bs": self.n_bs,
            "levels_mw": list(self.levels_mw),
            "bandwidth_hz": self.bandwidth_hz,
            "price": self.price,
            "constraints": dict(self.constraints),
            "reuse": self.reuse,
            "scenario": self.scenario,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetHeader:
        return cls(MDPConfig(**d["mdp"]), **{k: v for k, v in d.items() if k != "mdp"})

    def compatible(self, other: DatasetHeader) -> list[str]:
        """Names of the fields that differ (empty when episodes can be mixed)."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k != "scenario" and a[k] != b[k]]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_format(path: str | os.PathLike) -> str | None:
    """The ``format`` a dataset folder's manifest declares (None when unreadable)."""
    try:
        data = read_json(Path(path) / "dataset.json", DatasetError, what="dataset manifest")
    except AignError:
        return None
    return data.get("format") if isinstance(data, dict) else None


def _read_manifest(
    path: Path,
    fmt: str = FORMAT,
    readable: tuple[int, ...] = READABLE_VERSIONS,
    current: int = VERSION,
) -> dict[str, Any]:
    manifest = path / "dataset.json"
    if not manifest.exists():
        raise DatasetError(f"{path}: not a dataset (no dataset.json); create one with aign collect")
    data = read_json(manifest, DatasetError, what="dataset manifest")
    if not isinstance(data, dict) or data.get("format") != fmt:
        other = data.get("format") if isinstance(data, dict) else None
        raise DatasetError(f"{manifest}: not an {fmt} manifest" + (
            f" (it is {other}: {FORMAT_USE.get(other, 'another format')})" if other else ""))
    version = data.get("version")
    if version not in readable:
        newer = isinstance(version, int) and version > current
        hint = "upgrade aign to read it" if newer else "re-collect it with this aign"
        raise DatasetError(
            f"{manifest}: dataset version {version!r}, this aign reads versions "
            f"{', '.join(map(str, readable))}; {hint}"
        )
    return data


# Which format each learner reads, for the errors above.
FORMAT_USE = {
    "aign.trajectories": "joint-formulation episodes, padded to max_users",
    "aign.user-trajectories": "per-user episodes (aign collect --formulation per-user)",
}


def header_limits(header: DatasetHeader) -> np.ndarray:
    """(3,) the header's constraint limits in :data:`CONSTRAINT_NAMES` order, NaN = none."""
    return np.array(
        [np.nan if header.constraints.get(n) is None else header.constraints[n]
         for n in CONSTRAINT_NAMES], dtype=np.float64,
    )  # fmt: skip


def imposed_summary(limits: np.ndarray, ok: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per imposed constraint: how many episodes impose it, their limits' range, and the
    share of those episodes that met it (what a model trained on them has seen)."""
    out = {}
    for c, name in enumerate(CONSTRAINT_NAMES):
        imposed = ~np.isnan(limits[:, c])
        if imposed.any():
            out[name] = {
                "episodes": int(imposed.sum()),
                "limit_range": [float(limits[imposed, c].min()), float(limits[imposed, c].max())],
                "satisfied_share": float(ok[imposed, c].mean()),
            }
    return out


class TrajectoryWriter:
    """Appends episodes to a dataset folder, one atomic shard per call.

    Subclasses write other formats by changing the class attributes below."""

    FORMAT, VERSION, READABLE, FIELDS = FORMAT, VERSION, READABLE_VERSIONS, FIELDS

    def __init__(self, path: str | os.PathLike, header):
        self.path = Path(path)
        self.header = header
        if (self.path / "dataset.json").exists():
            self.manifest = _read_manifest(self.path, self.FORMAT, self.READABLE, self.VERSION)
            if self.manifest["version"] != self.VERSION:
                raise DatasetError(
                    f"{self.path}: a version {self.manifest['version']} dataset; this aign "
                    f"writes version {self.VERSION}: write to a new --out (both can be trained on)"
                )
            existing = type(header).from_dict(self.manifest["header"])
            differ = existing.compatible(header)
            if differ:
                raise DatasetError(
                    f"{self.path}: cannot add episodes whose {', '.join(differ)} differ from the "
                    f"dataset's; write to a new --out"
                )
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self.manifest = {
                "format": self.FORMAT,
                "version": self.VERSION,
                "header": header.to_dict(),
                "constraint_names": list(CONSTRAINT_NAMES),
                "env_param_names": list(ENV_PARAM_NAMES),
                "shards": [],
            }
            write_json_atomic(self.path / "dataset.json", self.manifest)

    def done(self, stream: str) -> int:
        """How many episodes of a collection ``stream`` are stored (the next episode index).

        A stream is one collection command: scenario, policy, user counts and seeds. Rerunning
        the same command continues its stream; another scenario or policy starts its own.
        """
        ends = [
            s["first_index"] + s["episodes"]
            for s in self.manifest["shards"]
            if s.get("stream", s["source"]) == stream
        ]
        return max(ends, default=0)

    def append(
        self, episodes: dict[str, np.ndarray], source: str, stream: str, scenario: str
    ) -> None:
        """Write one shard of episodes (all from ``source``) and record it in the manifest."""
        n = len(episodes["returns"])
        first = int(episodes["episode_index"][0])
        name = f"shard-{hashlib.sha1(stream.encode()).hexdigest()[:8]}-{first:08d}-{n:05d}.npz"
        tmp = self.path / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{k: _as_field(episodes[k], dtype)
                                       for k, dtype in self.FIELDS.items()})  # fmt: skip
        os.replace(tmp, self.path / name)
        self.manifest["shards"].append(
            {"file": name, "source": source, "stream": stream, "scenario": scenario,
             "first_index": first, "episodes": n, "sha256": _sha256(self.path / name)}
        )  # fmt: skip
        write_json_atomic(self.path / "dataset.json", self.manifest)


@dataclass
class TrajectoryDataset:
    """All episodes of a dataset in memory, as arrays keyed like :data:`FIELDS`."""

    header: DatasetHeader
    arrays: dict[str, np.ndarray]
    path: Path | None = None
    shards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_episodes(self) -> int:
        return int(len(self.arrays["returns"]))

    @property
    def horizon(self) -> int:
        return self.header.mdp.horizon

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> TrajectoryDataset:
        """Read a dataset folder; checksums, shapes and version are checked."""
        path = Path(path)
        manifest = _read_manifest(path)
        try:
            header = DatasetHeader.from_dict(manifest["header"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}/dataset.json: malformed header ({exc})") from None
        # Version 1 shards lack the per-episode limits: every episode had the header's.
        stored = [k for k in FIELDS if manifest["version"] > 1 or k != "constraint_limits"]
        parts: dict[str, list[np.ndarray]] = {k: [] for k in stored}
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
                    for k in stored:
                        parts[k].append(npz[k])
            except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise DatasetError(f"{file}: unreadable or truncated shard ({exc})") from None
        if not manifest["shards"]:
            raise DatasetError(f"{path}: the dataset has no episodes yet")
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
        if "constraint_limits" not in arrays:
            arrays["constraint_limits"] = np.tile(
                header_limits(header), (len(arrays["returns"]), 1)
            )
        dataset = cls(header, arrays, path, manifest["shards"])
        dataset._check_shapes()
        return dataset

    def _check_shapes(self) -> None:
        e, h, n = self.n_episodes, self.horizon, self.header.mdp.max_users
        expected = {
            "observations": (e, h + 1, self.header.mdp.obs_dim),
            "actions": (e, h, n),
            "rewards": (e, h),
            "powers_mw": (e, h + 1, n),
            "gains": (e, n, self.header.n_bs),
            "constraint_limits": (e, len(CONSTRAINT_NAMES)),
        }
        for name, shape in expected.items():
            if self.arrays[name].shape != shape:
                raise DatasetError(
                    f"{self.path}: {name} has shape {self.arrays[name].shape}, the header "
                    f"says {shape}; the dataset is inconsistent"
                )

    def instance(self, k: int):
        """The problem instance of episode ``k``."""
        from twin.radio import Constraints, ProblemInstance

        n = int(self.arrays["n_users"][k])
        h = self.header
        limits = self.arrays["constraint_limits"][k]
        constraints = Constraints(**{
            name: None if np.isnan(limit) else float(limit)
            for name, limit in zip(CONSTRAINT_NAMES, limits, strict=True)
        })  # fmt: skip
        return ProblemInstance(
            gains=self.arrays["gains"][k, :n], assoc=self.arrays["assoc"][k, :n],
            noise_mw=float(self.arrays["noise_mw"][k]), bandwidth_hz=h.bandwidth_hz,
            levels_mw=np.asarray(h.levels_mw), price=h.price,
            constraints=constraints, reuse=h.reuse,  # type: ignore[arg-type]
        )  # fmt: skip

    # ------------------------------------------------------------------ quality figures
    def info(self) -> dict[str, Any]:
        """Size, trajectory quality, state-action coverage and label distributions."""
        a = self.arrays
        returns, final = a["returns"], a["final_utility"]
        sources, counts = np.unique(a["source"], return_counts=True)
        users, user_counts = np.unique(a["n_users"], return_counts=True)
        return {
            "path": str(self.path),
            "format": f"{FORMAT}/{VERSION}",
            "scenario": self.header.scenario,
            "scenarios": self.scenario_counts(),
            "episodes": self.n_episodes,
            "transitions": self.n_episodes * self.horizon,
            "horizon": self.horizon,
            "max_users": self.header.mdp.max_users,
            "sources": {str(s): int(c) for s, c in zip(sources, counts, strict=True)},
            "user_counts": {int(u): int(c) for u, c in zip(users, user_counts, strict=True)},
            "quality": {
                "mean_return": float(returns.mean()),
                "return_quantiles": _quantiles(returns),
                "mean_final_utility": float(final.mean()),
                "final_utility_quantiles": _quantiles(final),
                "feasible_share": float(a["feasible"].mean()),
                "constraint_ok_share": {
                    name: float(a["constraint_ok"][:, i].mean())
                    for i, name in enumerate(CONSTRAINT_NAMES)
                },
            },
            "constraints": imposed_summary(a["constraint_limits"], a["constraint_ok"]),
            "coverage": self.coverage(),
        }

    def scenario_counts(self) -> dict[str, int]:
        """Episodes per scenario (one dataset may mix scenarios of the same shape)."""
        counts: dict[str, int] = {}
        for shard in self.shards:
            name = shard.get("scenario", self.header.scenario)
            counts[name] = counts.get(name, 0) + int(shard["episodes"])
        return counts

    def coverage(self, action_bins: int = 5) -> dict[str, Any]:
        """State-action coverage: distinct (power state, binned action) pairs.

        A state is the per-user power-level index vector (and user count); an action is
        binned to ``action_bins`` values per user. Reported as the number of distinct pairs
        and their share of all transitions (1.0: no transition repeats another).
        """
        a, h = self.arrays, self.header
        levels = np.asarray(h.levels_mw)
        state_idx = np.searchsorted(levels, a["powers_mw"][:, :-1] - 1e-6)  # (E, H, N)
        act_bin = np.rint((np.clip(a["actions"], -1, 1) + 1) / 2 * (action_bins - 1))
        n_users = np.broadcast_to(a["n_users"][:, None, None], state_idx.shape[:2] + (1,))
        rows = np.concatenate([n_users, state_idx, act_bin], axis=2).reshape(
            -1, 1 + 2 * state_idx.shape[2]
        )
        distinct = len(np.unique(rows.astype(np.int32), axis=0))
        visited = np.unique(state_idx[..., :].ravel())
        return {
            "distinct_state_action_pairs": int(distinct),
            "distinct_share": float(distinct / max(len(rows), 1)),
            "power_levels_visited_share": float(len(visited) / len(levels)),
        }

    def to_d3rlpy(self):
        """The dataset as a d3rlpy ``MDPDataset`` (transitions of every episode)."""
        from d3rlpy.dataset import MDPDataset

        a, h = self.arrays, self.horizon
        terminals = np.zeros((self.n_episodes, h), dtype=np.float32)
        terminals[:, -1] = 1.0
        return MDPDataset(
            observations=a["observations"][:, :-1].reshape(-1, a["observations"].shape[-1]),
            actions=a["actions"].reshape(-1, a["actions"].shape[-1]),
            rewards=a["rewards"].reshape(-1, 1),
            terminals=terminals.reshape(-1),
        )


def _as_field(values, dtype: str) -> np.ndarray:
    return np.asarray(values, dtype=None if dtype == "str" else dtype)


def _quantiles(x: np.ndarray) -> dict[str, float]:
    q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {f"p{p}": float(v) for p, v in zip((5, 25, 50, 75, 95), q, strict=True)}
