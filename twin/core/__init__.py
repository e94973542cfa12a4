"""The base layer: errors for people, seeded random streams, records and files."""

from twin.core.errors import (
    AignError,
    CalibrationError,
    DeploymentError,
    DeploymentLogError,
    DesignError,
    InputError,
    InstanceError,
    NetworkElementError,
    Problem,
    ScenarioError,
    TooLargeError,
)
from twin.core.files import read_json, write_json_atomic
from twin.core.records import CONFIDENCE, canonical_json, design_digest, finite, mean_ci
from twin.core.seeding import STREAMS, stream

__all__ = [
    "AignError",
    "CONFIDENCE",
    "CalibrationError",
    "DeploymentError",
    "DeploymentLogError",
    "DesignError",
    "InputError",
    "InstanceError",
    "NetworkElementError",
    "Problem",
    "STREAMS",
    "ScenarioError",
    "TooLargeError",
    "canonical_json",
    "design_digest",
    "finite",
    "mean_ci",
    "read_json",
    "stream",
    "write_json_atomic",
]
