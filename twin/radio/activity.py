"""User arrivals and departures: each user alternates active/idle with exponential durations.

One vectorized state per network (not one SimPy process per user): the twin's clock calls
:meth:`UserActivity.advance_to` and every user whose switch time has passed flips at once.
"""

from __future__ import annotations

import numpy as np

from twin.scenario.schema import Activity


class UserActivity:
    """Two-state (active/idle) Markov process per user; ``spec=None`` keeps everyone active."""

    def __init__(self, spec: Activity | None, n_users: int, rng: np.random.Generator):
        self._spec = spec
        self._rng = rng
        if spec is None:
            self.active = np.ones(n_users, dtype=bool)
            self._next_switch_s = np.full(n_users, np.inf)
        else:
            self.active = rng.random(n_users) < spec.initially_active
            self._next_switch_s = self._holding_times(self.active)

    def _holding_times(self, active: np.ndarray) -> np.ndarray:
        assert self._spec is not None
        mean = np.where(active, self._spec.mean_active_s, self._spec.mean_idle_s)
        return self._rng.exponential(mean)

    def advance_to(self, time_s: float) -> bool:
        """Flip every user whose switch time has passed; return whether anyone changed.

        A user flips at most once per call: callers advance in steps much shorter than the
        mean holding times, so several switches inside one step are negligible.
        """
        if self._spec is None:  # nobody arrives or leaves
            return False
        due = self._next_switch_s <= time_s
        if not due.any():
            return False
        self.active[due] = ~self.active[due]
        self._next_switch_s[due] = time_s + self._holding_times(self.active[due])
        return True
