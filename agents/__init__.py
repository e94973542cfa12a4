"""Stage 1: the Gymnasium environment over the twin, SAC, labeled trajectory datasets, BCQ.

Importing the package registers ``aign/PowerAllocation-v0``
(``gymnasium.make("aign/PowerAllocation-v0", scenario="paper-fig3")``).
"""

import contextlib
import io

import gymnasium

# d3rlpy depends on the unmaintained ``gym``, whose import prints a notice to stderr; aign
# never uses it (stable-baselines3 only probes for it), so import it once, quietly.
with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(ImportError):
    import gym  # noqa: F401

from agents.env import PowerAllocationEnv
from agents.mdp import MDPConfig

ENV_ID = "aign/PowerAllocation-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="agents.env:PowerAllocationEnv")

__all__ = ["ENV_ID", "MDPConfig", "PowerAllocationEnv"]
