"""Stage 1: the Gymnasium environment over the twin, SAC, labeled trajectory datasets, BCQ.

Importing the package registers two environments:

- ``aign/PowerAllocation-v0``: the joint MDP, the paper's literal reading (one action for all
  users, padded to ``max_users``): ``gymnasium.make("aign/PowerAllocation-v0", scenario=...)``;
- ``aign/PerUserPowerAllocation-v0``: the per-user MDP (one shared policy, local
  observations, any user count): ``gymnasium.make(..., scenario=..., n_users=20)`` for one
  instance, ``gymnasium.make_vec(..., num_envs=G, scenario=..., users=[20, 50, 80])`` for the
  users of ``G`` groups of instances as the vector's slots.
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
from agents.peruser import UserMDPConfig
from agents.peruser_env import PerUserEnv, UserSlotsVectorEnv

ENV_ID = "aign/PowerAllocation-v0"
PER_USER_ENV_ID = "aign/PerUserPowerAllocation-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="agents.env:PowerAllocationEnv")
if PER_USER_ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=PER_USER_ENV_ID,
        entry_point="agents.peruser_env:PerUserEnv",
        vector_entry_point="agents.peruser_env:make_user_slots",
    )

__all__ = [
    "ENV_ID",
    "PER_USER_ENV_ID",
    "MDPConfig",
    "PerUserEnv",
    "PowerAllocationEnv",
    "UserMDPConfig",
    "UserSlotsVectorEnv",
]
