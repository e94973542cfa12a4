"""From design to network: validate on the twin, calibrate it, deploy, observe, roll back, log."""

from twin.rollout.calibrate import calibrate, calibrate_from_network, collect_reports
from twin.rollout.deploy import DEFAULT_APPLY_TIMEOUT_S
from twin.rollout.deploylog import (
    DeploymentLog,
    FullDiskLogError,
    LockedLogError,
    LogRow,
    LostLogError,
    ReadOnlyLogError,
)
from twin.rollout.deployment import Operations
from twin.rollout.element import ElementFaults, NetworkElement
from twin.rollout.home import aign_home
from twin.rollout.observation import Realized, observe
from twin.rollout.outcomes import InForce, Outcome, Recovery
from twin.rollout.validation import check_design, validate_design

__all__ = [
    "DEFAULT_APPLY_TIMEOUT_S",
    "DeploymentLog",
    "ElementFaults",
    "InForce",
    "FullDiskLogError",
    "LockedLogError",
    "LostLogError",
    "LogRow",
    "NetworkElement",
    "Operations",
    "Outcome",
    "ReadOnlyLogError",
    "Realized",
    "Recovery",
    "aign_home",
    "calibrate",
    "calibrate_from_network",
    "check_design",
    "collect_reports",
    "observe",
    "validate_design",
]
