"""Exceptions meant for people: each says what was wrong, where, and what is allowed.

The CLI and the UI catch :class:`AignError` and show its message; anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class AignError(Exception):
    """Base class for every error a user can cause and fix."""


@dataclass(frozen=True)
class Problem:
    """One located problem in an input file: ``FILE:LINE: field.path: message``."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.path or '<root>'}: {self.message}"


class InputError(AignError):
    """An input file (scenario, instance, design) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ScenarioError(InputError):
    """A scenario file is invalid."""


class InstanceError(InputError):
    """A problem-instance JSON file is invalid."""


class DesignError(InputError):
    """A design is invalid, or does not fit the instance it is applied to."""


class InfeasibleError(AignError, ValueError):
    """A valid input that cannot be realized (users that cannot be placed as asked); also a
    ValueError, which is what the radio layer raised before."""


class TooLargeError(AignError):
    """A method was asked to do work beyond its documented limit (e.g. exhaustive search)."""


class DeploymentError(AignError):
    """A validation, deployment or rollback was refused or could not finish; says why and
    what is in force on the network."""


class NotValidatedError(DeploymentError):
    """A deployment refused because the design has no validation on this scenario."""


class StaleValidationError(DeploymentError):
    """A deployment refused because the design's latest validation does not allow it now;
    ``reasons`` name why, as codes a page can put in its own words: ``other_design``,
    ``scenario_changed``, ``gates_changed``, ``failed``, ``baseline_changed``, ``expired``,
    ``future``."""

    def __init__(self, message: str, reasons: list[str]):
        super().__init__(message)
        self.reasons = list(reasons)


class DeploymentLogError(AignError):
    """The deployment log cannot be used (locked, read-only, from a newer aign, not a log)."""


class NetworkElementError(AignError):
    """The physical layer refused a configuration or did not answer in time."""


class CalibrationError(AignError):
    """A twin calibration cannot be fitted (too few or degenerate reports) or a calibration
    file cannot be used (unreadable, corrupt, another scenario or format version)."""
