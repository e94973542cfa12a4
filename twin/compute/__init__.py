"""Where work runs (local processes or Ray, one interface) and the sweeps that use it."""

from twin.compute.executors import EXECUTOR_HELP, Executor, TaskError, TaskFailure, make_executor
from twin.compute.sweep import SweepSpec, override, parse_param, run_sweep, summarize

__all__ = [
    "EXECUTOR_HELP",
    "Executor",
    "SweepSpec",
    "TaskError",
    "TaskFailure",
    "make_executor",
    "override",
    "parse_param",
    "run_sweep",
    "summarize",
]
