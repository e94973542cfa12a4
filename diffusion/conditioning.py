"""What the denoiser is conditioned on, and which parts classifier-free guidance may drop.

Two kinds of condition:

- **The problem** (never dropped): per-user channel features and global environment
  parameters of the instance. They say *which* problem a trajectory solves; a model that
  could forget them would propose designs for some other network. Guidance therefore
  contrasts "this problem, with goals" against "this problem, no goals".
- **Goals** (each group dropped independently during training, so each can be guided
  alone or composed with the others at sampling time):
  ``return`` (normalized return, 1 = the best seen for that user count, or for that very
  instance when the data hold it several times; see :func:`instance_relative_quality`) and
  one group per
  constraint (``min_rate_bps``, ``max_total_power_mw``, ``max_interference_mw``): whether it
  is imposed, its normalized limit, and whether the trajectory satisfied it.

Every feature is a pure function of a :class:`~twin.radio.instance.ProblemInstance`, computed the
same way for training episodes and for instances planned at test time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from twin.radio import Constraints, ProblemInstance, interference_mw, serving_gain

USER_FEATURE_NAMES = (
    "serving_snr_db",  # g[i, b(i)] p_max / noise, dB / 50
    "leakage_snr_db",  # gain towards BSs not serving i, times p_max over noise, dB / 50
    "interference_at_max_db",  # 1 + interference / noise at i's BS when all transmit p_max, dB/50
    "mask",  # 1 for a real user, 0 for padding
)
GLOBAL_FEATURE_NAMES = (
    "user_share",  # n_users / max_users
    "price_x_pmax",  # price per mW times the top level
    "noise_dbm",  # (noise dBm + 100) / 20
    "n_bs",  # base stations / 10
    "log_bandwidth",  # log10(bandwidth Hz) / 7
)
CONSTRAINT_GROUPS = ("min_rate_bps", "max_total_power_mw", "max_interference_mw")
GOAL_GROUPS: dict[str, int] = {"return": 1, **{name: 3 for name in CONSTRAINT_GROUPS}}
FEATURE_LIMIT = 10.0  # features are clipped to [-FEATURE_LIMIT, FEATURE_LIMIT]


def _db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-12))


def instance_features(instance: ProblemInstance, max_users: int) -> tuple[np.ndarray, np.ndarray]:
    """``(user_features (max_users, 4), global_features (5,))`` of an instance, float32."""
    n, p_max, noise = instance.n_users, instance.max_power_mw, instance.noise_mw
    if n > max_users:
        raise ValueError(f"instance has {n} users, more than max_users={max_users}")
    g_serv = serving_gain(instance.gains, instance.assoc)
    leakage = instance.gains.sum(axis=1) - g_serv
    full = np.full(n, p_max)
    interference = interference_mw(instance.gains, instance.assoc, full, instance.reuse)
    users = np.zeros((max_users, len(USER_FEATURE_NAMES)))
    users[:n, 0] = _db(g_serv * p_max / noise) / 50.0
    users[:n, 1] = _db(leakage * p_max / noise) / 50.0
    users[:n, 2] = _db(1.0 + interference / noise) / 50.0
    users[:n, 3] = 1.0
    globals_ = np.array([
        n / max_users,
        instance.price * p_max,
        (_db(np.array(noise)) + 100.0) / 20.0,
        instance.n_bs / 10.0,
        np.log10(instance.bandwidth_hz) / 7.0,
    ])  # fmt: skip
    clip = (-FEATURE_LIMIT, FEATURE_LIMIT)
    return np.clip(users, *clip).astype(np.float32), np.clip(globals_, *clip).astype(np.float32)


def constraint_goal(
    name: str,
    constraints: Constraints,
    satisfied: bool,
    n_users: int,
    p_max_mw: float,
    noise_mw: float,
) -> np.ndarray:
    """``[imposed, normalized limit, satisfied]`` for one constraint (``[0, 0, 1]`` if not
    imposed: a constraint that is absent always holds)."""
    limit = getattr(constraints, name)
    if limit is None:
        return np.array([0.0, 0.0, 1.0], np.float32)
    if name == "min_rate_bps":
        scaled = np.log10(max(limit, 1.0)) / 7.0
    elif name == "max_total_power_mw":
        scaled = limit / (n_users * p_max_mw)
    else:  # max_interference_mw, relative to the noise
        scaled = float(_db(np.array(limit / noise_mw))) / 50.0
    return np.array([1.0, np.clip(scaled, -FEATURE_LIMIT, FEATURE_LIMIT), float(satisfied)],
                    np.float32)  # fmt: skip


def goal_vector(
    quality: float, instance: ProblemInstance, satisfied: Mapping[str, bool] | None = None
) -> np.ndarray:
    """The goals of one trajectory, concatenated in :data:`GOAL_GROUPS` order.

    ``satisfied`` per constraint (default: every imposed constraint is to be satisfied).
    """
    satisfied = satisfied or {}
    parts = [np.array([quality], np.float32)]
    for name in CONSTRAINT_GROUPS:
        parts.append(constraint_goal(
            name, instance.constraints, satisfied.get(name, True), instance.n_users,
            instance.max_power_mw, instance.noise_mw,
        ))  # fmt: skip
    return np.concatenate(parts)


def goal_slices() -> dict[str, slice]:
    """Where each goal group lies in the goal vector."""
    out, start = {}, 0
    for name, width in GOAL_GROUPS.items():
        out[name] = slice(start, start + width)
        start += width
    return out


GOAL_DIM = sum(GOAL_GROUPS.values())


def return_quality(
    returns: np.ndarray, n_users: np.ndarray, ranges: Mapping[int, Sequence[float]]
) -> np.ndarray:
    """Normalized return in [0, 1]: ``(R - lo) / (hi - lo)`` over episodes with the same user
    count (the reward is per user, but instances with more users earn less per user)."""
    out = np.ones(len(returns), np.float32)
    for n, (lo, hi) in ranges.items():
        sel = n_users == int(n)
        if hi > lo:
            out[sel] = np.clip((returns[sel] - lo) / (hi - lo), 0.0, 1.0)
    return out


def instance_relative_quality(
    returns: np.ndarray, instance_keys: Sequence[str], fallback: np.ndarray
) -> np.ndarray:
    """Normalized return relative to the other episodes on the *same* instance.

    Where a dataset holds several episodes of one instance (``aign collect`` gives episode
    ``k`` of every policy the same instance), ``(R - lo) / (hi - lo)`` over those episodes
    separates good from bad behaviour without mixing in how easy the instance is; episodes
    whose instance appears once (or with equal returns) keep ``fallback``.
    """
    out = np.asarray(fallback, np.float32).copy()
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(instance_keys):
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        r = returns[members]
        if len(members) > 1 and r.max() > r.min():
            out[members] = (r - r.min()) / (r.max() - r.min())
    return out


def return_ranges(returns: np.ndarray, n_users: np.ndarray) -> dict[int, list[float]]:
    """``{user count: [lowest, highest return]}`` of a dataset (stored with the model)."""
    return {
        int(n): [float(returns[n_users == n].min()), float(returns[n_users == n].max())]
        for n in np.unique(n_users)
    }


@dataclass
class Condition:
    """A batch of conditions (torch tensors, leading axis = batch)."""

    user_features: torch.Tensor  # (B, N, len(USER_FEATURE_NAMES))
    global_features: torch.Tensor  # (B, len(GLOBAL_FEATURE_NAMES))
    goals: torch.Tensor  # (B, GOAL_DIM)
    goal_keep: torch.Tensor  # (B, len(GOAL_GROUPS)): 1 = goal group given, 0 = dropped

    @property
    def user_mask(self) -> torch.Tensor:
        """(B, N): 1 for real users, 0 for padding."""
        return self.user_features[..., USER_FEATURE_NAMES.index("mask")]

    def __len__(self) -> int:
        return int(self.goals.shape[0])

    def select(self, index: torch.Tensor | slice) -> Condition:
        return Condition(*(getattr(self, f.name)[index] for f in fields(self)))

    def repeat(self, k: int) -> Condition:
        """Each condition ``k`` times in a row (``k`` candidates per condition)."""
        return Condition(*(getattr(self, f.name).repeat_interleave(k, 0) for f in fields(self)))

    def with_goals_kept(self, keep: torch.Tensor | Sequence[float]) -> Condition:
        """The same problems with another set of goal groups given (broadcast over batch)."""
        keep = torch.as_tensor(keep, dtype=self.goal_keep.dtype).expand_as(self.goal_keep)
        return Condition(self.user_features, self.global_features, self.goals, keep.clone())

    @staticmethod
    def cat(conditions: Sequence[Condition]) -> Condition:
        return Condition(*(
            torch.cat([getattr(c, f.name) for c in conditions]) for f in fields(Condition)
        ))  # fmt: skip
