"""The base layer: errors for people, seeded random streams, records and files."""

from twin.core.errors import (
    AignError,
    CalibrationError,
    DeploymentError,
    DeploymentLogError,
    DesignError,
    InfeasibleError,
    InputError,
    InstanceError,
    NetworkElementError,
    Problem,
    ScenarioError,
    TooLargeError,
)
from twin.core.files import (
    DEFAULT_JSON_LIMITS,
    JsonLimits,
    parse_json,
    read_bytes_bounded,
    read_json,
    read_text_bounded,
    write_json_atomic,
)
from twin.core.records import CONFIDENCE, canonical_json, design_digest, finite, mean_ci
from twin.core.seeding import STREAMS, stream

__all__ = [
    "AignError",
    "CONFIDENCE",
    "DEFAULT_JSON_LIMITS",
    "JsonLimits",
    "CalibrationError",
    "DeploymentError",
    "DeploymentLogError",
    "DesignError",
    "InfeasibleError",
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
    "parse_json",
    "read_bytes_bounded",
    "read_json",
    "read_text_bounded",
    "stream",
    "write_json_atomic",
]
