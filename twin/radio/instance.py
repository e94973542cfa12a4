"""Problem instances and designs: the JSON contracts between the twin and every solver.

A :class:`ProblemInstance` is a snapshot of the twin at one moment (gains, association,
noise, levels, price, constraints). A :class:`Design` is a power vector proposed for an
instance, with where it came from and what it is predicted to achieve. Validation and
deployment take designs; nothing else changes powers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin.core.errors import DesignError, InstanceError, Problem
from twin.core.files import read_json, write_json_atomic
from twin.radio.uplink import (
    REUSE_MODES,
    Constraints,
    RadioMetrics,
    Reuse,
    evaluate_power,
    objective,
)
from twin.scenario.schema import MAX_BS, MAX_USERS

INSTANCE_FORMAT = "aign.instance/1"
DESIGN_FORMAT = "aign.design/1"
# Powers within this many mW of a level count as on that level (JSON round-off).
LEVEL_ATOL_MW = 1e-6
# Physical ranges an instance must keep (beyond them utilities overflow to inf or NaN): no
# passive channel gains more than 30 dB, no receiver is quieter than 1e-30 mW, no uplink
# transmits 10 kW. Within them every utility is finite.
MAX_GAIN = 1e3
MIN_NOISE_MW, MAX_NOISE_MW = 1e-30, 1e6
MAX_BANDWIDTH_HZ = 1e12
MAX_LEVEL_MW = 1e7
MAX_LEVELS = 10_001  # the scenario format's step form gives at most 10,000 steps
MAX_PRICE = 1e6
MAX_SOURCE_CHARS = 200  # a design's source: a method or model name, not a document
MAX_DESIGN_EXTRA_BYTES = 1_000_000  # predicted + provenance, as JSON
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- JSON schemas
class _ConstraintsModel(BaseModel):
    model_config = _STRICT
    min_rate_bps: float | None = Field(
        None, ge=0, le=1e15, description="Per-user minimum rate, bit/s."
    )
    max_total_power_mw: float | None = Field(
        None, gt=0, le=1e15, description="Total power budget, mW."
    )
    max_interference_mw: float | None = Field(
        None, gt=0, le=1e15, description="Cap on inter-cell interference received at each BS, mW."
    )


class _InstanceModel(BaseModel):
    """Strict: numbers are JSON numbers (no ``true``, no ``"1e-10"``), finite and in range."""

    model_config = _STRICT
    format: Literal["aign.instance/1"] = INSTANCE_FORMAT
    gains: list[Annotated[list[float], Field(max_length=MAX_BS)]] = Field(
        max_length=MAX_USERS, description="Linear power gains, users x base stations."
    )
    assoc: list[int] = Field(max_length=MAX_USERS, description="Serving BS index of each user.")
    noise_mw: float = Field(ge=MIN_NOISE_MW, le=MAX_NOISE_MW)
    bandwidth_hz: float = Field(gt=0, le=MAX_BANDWIDTH_HZ)
    levels_mw: list[Annotated[float, Field(ge=0, le=MAX_LEVEL_MW)]] = Field(
        min_length=1, max_length=MAX_LEVELS, description="Allowed transmit powers, mW."
    )
    price: float = Field(ge=0, le=MAX_PRICE, description="Cost per mW in the utility.")
    constraints: _ConstraintsModel = _ConstraintsModel()
    reuse: Literal["shared", "orthogonal_in_cell"] = "shared"
    meta: dict[str, Any] = Field(default_factory=dict, description="Provenance, not physics.")

    @model_validator(mode="after")
    def _shapes(self) -> _InstanceModel:
        if not self.gains or not self.gains[0]:
            raise ValueError("gains must have at least one user and one base station")
        n_bs = len(self.gains[0])
        for i, row in enumerate(self.gains):
            if len(row) != n_bs:
                raise ValueError(f"gains row {i} has {len(row)} entries, row 0 has {n_bs}")
            if not all(math.isfinite(g) and 0 < g <= MAX_GAIN for g in row):
                raise ValueError(
                    f"gains row {i}: every gain must be finite, > 0 and at most {MAX_GAIN:g} "
                    "(linear power gain)"
                )
        if len(self.assoc) != len(self.gains):
            raise ValueError(f"assoc has {len(self.assoc)} entries for {len(self.gains)} users")
        bad = [a for a in self.assoc if not 0 <= a < n_bs]
        if bad:
            raise ValueError(f"assoc entries {bad[:5]} are not BS indices 0..{n_bs - 1}")
        if any(not math.isfinite(p) or p < 0 for p in self.levels_mw):
            raise ValueError("levels_mw must be finite and >= 0")
        if sorted(set(self.levels_mw)) != list(self.levels_mw):
            raise ValueError("levels_mw must be strictly increasing")
        return self


class _DesignModel(BaseModel):
    """Strict: powers are JSON numbers (no ``"28"``, no ``true``), finite and in range."""

    model_config = _STRICT
    format: Literal["aign.design/1"] = DESIGN_FORMAT
    power_mw: list[Annotated[float, Field(ge=0, le=MAX_LEVEL_MW)]] = Field(
        min_length=1, max_length=MAX_USERS
    )
    source: str = Field(
        min_length=1, max_length=MAX_SOURCE_CHARS,
        description="Controller or model that produced it.",
    )  # fmt: skip
    predicted: dict[str, Any] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounded(self) -> _DesignModel:
        size = len(json.dumps([self.predicted, self.provenance], default=str))
        if size > MAX_DESIGN_EXTRA_BYTES:
            raise ValueError(
                f"predicted and provenance take {size} bytes; the limit is "
                f"{MAX_DESIGN_EXTRA_BYTES} bytes"
            )
        return self


def _problems(err: ValidationError, source: str) -> list[Problem]:
    return [
        Problem(source, None, ".".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()
    ]


# --------------------------------------------------------------------------- instance
def snap_to_levels(levels_mw: np.ndarray, power_mw: np.ndarray) -> np.ndarray:
    """Nearest of the sorted ``levels_mw`` for each power (ties go to the lower level)."""
    p = np.asarray(power_mw, dtype=float)
    if len(levels_mw) < 2:
        return np.full_like(p, levels_mw[0])
    idx = np.clip(np.searchsorted(levels_mw, p), 1, len(levels_mw) - 1)
    lo, hi = levels_mw[idx - 1], levels_mw[idx]
    return np.where(p - lo <= hi - p, lo, hi)


@dataclass(frozen=True, eq=False)
class ProblemInstance:
    """One snapshot of the network: what solvers, the planner and external tools work on."""

    gains: np.ndarray
    assoc: np.ndarray
    noise_mw: float
    bandwidth_hz: float
    levels_mw: np.ndarray
    price: float
    constraints: Constraints = Constraints()
    reuse: Reuse = "shared"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gains", np.asarray(self.gains, dtype=float))
        object.__setattr__(self, "assoc", np.asarray(self.assoc, dtype=np.intp))
        object.__setattr__(self, "levels_mw", np.asarray(self.levels_mw, dtype=float))
        if self.gains.ndim != 2 or self.assoc.shape != (self.gains.shape[0],):
            raise ValueError(f"gains {self.gains.shape} and assoc {self.assoc.shape} mismatch")
        if self.reuse not in REUSE_MODES:
            raise ValueError(f"reuse must be one of {REUSE_MODES}")

    @property
    def n_users(self) -> int:
        return int(self.gains.shape[0])

    @property
    def n_bs(self) -> int:
        return int(self.gains.shape[1])

    @property
    def max_power_mw(self) -> float:
        return float(self.levels_mw[-1])

    @property
    def lowest_on_mw(self) -> float | None:
        """The lowest level above 0 mW (None when every level is 0)."""
        positive = self.levels_mw[self.levels_mw > 0]
        return float(positive[0]) if positive.size else None

    def evaluate(self, power_mw: np.ndarray) -> RadioMetrics:
        """Metrics of one power vector on this instance."""
        return evaluate_power(
            self.gains, self.assoc, power_mw, self.noise_mw, self.bandwidth_hz, self.price,
            self.constraints, self.reuse,
        )  # fmt: skip

    def objective(self, power_mw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batched (utility, violation) over power vectors ``(..., U)``."""
        return objective(
            self.gains, self.assoc, power_mw, self.noise_mw, self.bandwidth_hz, self.price,
            self.constraints, self.reuse,
        )  # fmt: skip

    def snap_to_levels(self, power_mw: np.ndarray) -> np.ndarray:
        """Nearest allowed level for each power (ties go to the lower level)."""
        return snap_to_levels(self.levels_mw, power_mw)

    def check_power(self, power_mw: Any, source: str = "design") -> np.ndarray:
        """Return the power vector as an array, or refuse it with every reason."""
        problems: list[Problem] = []
        p = strict_numbers(power_mw, source, "power_mw")
        if p.shape != (self.n_users,):
            problems.append(
                Problem(source, None, "power_mw",
                        f"has {p.size} entries but the instance has {self.n_users} users")
            )  # fmt: skip
        elif not np.all(np.isfinite(p)):
            problems.append(Problem(source, None, "power_mw", "contains NaN or infinity"))
        else:
            off = np.abs(self.snap_to_levels(p) - p) > LEVEL_ATOL_MW
            if off.any():
                users = np.flatnonzero(off)[:5].tolist()
                problems.append(
                    Problem(source, None, "power_mw",
                            f"users {users} have powers {p[off][:5].tolist()} mW that are not "
                            f"allowed levels (levels: {_describe_levels(self.levels_mw)})")
                )  # fmt: skip
        if problems:
            raise DesignError(problems)
        return self.snap_to_levels(p)

    def fingerprint(self) -> str:
        """Short hash of the physics (not the metadata): identifies an instance in designs."""
        physics = {k: v for k, v in self.to_dict().items() if k != "meta"}
        blob = json.dumps(physics, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": INSTANCE_FORMAT,
            "gains": self.gains.tolist(),
            "assoc": self.assoc.tolist(),
            "noise_mw": float(self.noise_mw),
            "bandwidth_hz": float(self.bandwidth_hz),
            "levels_mw": self.levels_mw.tolist(),
            "price": float(self.price),
            "constraints": self.constraints.to_dict(),
            "reuse": self.reuse,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<instance>") -> ProblemInstance:
        try:
            m = _InstanceModel.model_validate(data)
        except ValidationError as err:
            raise InstanceError(_problems(err, source)) from None
        return cls(
            gains=np.array(m.gains), assoc=np.array(m.assoc), noise_mw=m.noise_mw,
            bandwidth_hz=m.bandwidth_hz, levels_mw=np.array(m.levels_mw), price=m.price,
            constraints=Constraints(**m.constraints.model_dump()), reuse=m.reuse, meta=m.meta,
        )  # fmt: skip

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ProblemInstance:
        return cls.from_dict(read_json(path, InstanceError), source=str(path))


def strict_numbers(values: Any, source: str, path: str) -> np.ndarray:
    """``values`` as a float array if every entry is a real number (not a bool, not text),
    else :class:`DesignError`: ``"28"`` and ``True`` are not powers."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        array = np.asarray(None, dtype=object)
    if array.dtype.kind not in "iuf" or (
        array.dtype.kind in "iu" and isinstance(values, list | tuple)
        and any(isinstance(v, bool | np.bool_) for v in values)
    ):  # fmt: skip
        raise DesignError([Problem(source, None, path, "must be a list of numbers (not text "
                                                       "or true/false)")])  # fmt: skip
    return array.astype(float)


def _describe_levels(levels: np.ndarray) -> str:
    if len(levels) > 6:
        steps = np.diff(levels)
        if np.allclose(steps, steps[0]):
            return f"{levels[0]:g} to {levels[-1]:g} mW in steps of {steps[0]:g}"
        return f"{len(levels)} values from {levels[0]:g} to {levels[-1]:g} mW"
    return ", ".join(f"{x:g}" for x in levels)


# --------------------------------------------------------------------------- design
@dataclass(eq=False)
class Design:
    """A proposed power vector, with its origin and the KPIs predicted for it."""

    power_mw: np.ndarray
    source: str
    predicted: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not 0 < len(self.source) <= MAX_SOURCE_CHARS:
            raise DesignError([Problem("design", None, "source", "must be text of 1 to "
                                       f"{MAX_SOURCE_CHARS} characters")])  # fmt: skip
        self.power_mw = strict_numbers(self.power_mw, self.source, "power_mw")

    @classmethod
    def for_instance(
        cls, instance: ProblemInstance, power_mw: np.ndarray, source: str, **provenance: Any
    ) -> Design:
        """A design with its predicted KPIs computed on ``instance`` and its fingerprint kept."""
        power = instance.check_power(power_mw, source=source)
        metrics = instance.evaluate(power)
        return cls(
            power_mw=power,
            source=source,
            predicted=summary_kpis(metrics),
            provenance={"instance": instance.fingerprint(), **instance.meta, **provenance},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": DESIGN_FORMAT,
            "power_mw": self.power_mw.tolist(),
            "source": self.source,
            "predicted": self.predicted,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<design>") -> Design:
        try:
            m = _DesignModel.model_validate(data)
        except ValidationError as err:
            raise DesignError(_problems(err, source)) from None
        return cls(np.array(m.power_mw), m.source, m.predicted, m.provenance)

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())


def load_designs(path: str | os.PathLike) -> list[Design]:
    """Read a design file: one design object, or ``{"designs": [...]}`` as the planner writes."""
    data = read_json(path, DesignError)
    source = str(path)
    if isinstance(data, dict) and "designs" in data:
        items = data["designs"]
        if not isinstance(items, list) or not items:
            raise DesignError([Problem(source, None, "designs", "must be a non-empty list")])
        return [Design.from_dict(d, source=f"{source}[{i}]") for i, d in enumerate(items)]
    return [Design.from_dict(data, source=source)]


def summary_kpis(metrics: RadioMetrics) -> dict[str, Any]:
    """The scalar KPIs stored with a design (per-user detail lives in ``evaluate``)."""
    return {
        "utility": metrics.utility,
        "sum_rate_bps": metrics.sum_rate_bps,
        "total_power_mw": metrics.total_power_mw,
        "min_rate_bps": float(np.min(metrics.rate_bps)),
        "feasible": metrics.feasible,
    }
