"""Price-aware weighted-MMSE (Shi et al. 2011) on continuous powers, snapped to levels.
"""

from __future__ import annotations

import math

import numpy as np

from twin.radio.instance import ProblemInstance
from twin.radio.uplink import serving_gain


def wmmse(instance: ProblemInstance, iters: int = 200, tol: float = 1e-6) -> np.ndarray:
    r"""Price-aware WMMSE on continuous powers, then snapped to levels (keeping users on).

    Problem: maximize ``sum_i ln(1 + R_i) - price * sum_i p_i`` with
    ``R_i = c ln(1 + SINR_i)``, ``c = bandwidth / ln 2``, ``p_i`` in ``[p_min, p_max]``.

    Weighted-MSE form (Shi et al., IEEE TSP 2011, for scalar uplink channels). Write
    ``v_i = sqrt(p_i)``, ``G[k, i] = g[k, b(i)]``, ``M[k, i]`` = 1 if ``k == i`` or ``k``
    interferes at ``i``'s BS (``shared``: every ``k``; ``orthogonal_in_cell``: ``k`` served
    by another BS). With a scalar receiver ``u_i`` the MSE of user ``i`` is::

        e_i = u_i^2 D_i - 2 u_i sqrt(G_ii) v_i + 1,   D_i = sum_k M_ki G_ki v_k^2 + noise

    minimized by the MMSE receiver ``u_i = sqrt(G_ii) v_i / D_i``, giving
    ``e_i = 1 / (1 + SINR_i)``, i.e. ``R_i = -c ln e_i``. The utility per user is then
    ``f(e_i) = ln(1 - c ln e_i)``, and ``-f`` has derivative ``alpha_i / e_i`` with::

        alpha_i = c / (1 + R_i)          (d ln(1+R) / d ln(1+SINR))
        w_i     = 1 / e_i = 1 + SINR_i   (MSE weight)

    Linearizing ``-f`` at the current point gives the weighted-MSE problem
    ``min sum_i alpha_i w_i e_i + price sum_i v_i^2``, which is separable and convex in each
    ``v_j`` for fixed ``u``, ``w``, ``alpha``; setting its derivative to zero and projecting::

        v_j = alpha_j w_j u_j sqrt(G_jj) / (sum_i M_ji alpha_i w_i u_i^2 G_ji + price)
        v_j <- clip(v_j, sqrt(p_min), sqrt(p_max))

    The iteration ``(alpha, u, w) -> v`` repeats from full power until ``v`` moves by less
    than ``tol * sqrt(p_max)``. Its fixed points are KKT points of the continuous problem.
    The weighted-MSE step is a true minorize-maximize step where ``-f`` is concave in ``e``,
    which holds for ``SINR_i`` above about ``e - 1`` (at any realistic bandwidth); below that
    it is the usual fixed-point heuristic. Hard constraints are not imposed: the design's
    predicted KPIs say whether it is feasible. Deterministic.
    """
    levels = instance.levels_mw
    gains, assoc, noise_mw = instance.gains, instance.assoc, instance.noise_mw
    bandwidth_hz, price = instance.bandwidth_hz, instance.price
    c = bandwidth_hz / math.log(2.0)
    orthogonal = instance.reuse == "orthogonal_in_cell"
    onehot = np.zeros_like(gains)  # onehot[i, b] = 1 if b serves i: keeps every step O(U B)
    onehot[np.arange(instance.n_users), assoc] = 1.0
    g_serv = serving_gain(gains, assoc)
    sqrt_gii = np.sqrt(g_serv)
    v_min, v_max = math.sqrt(levels[0]), math.sqrt(levels[-1])
    stop = tol * max(v_max, 1e-300)
    v = np.full(instance.n_users, v_max)
    for _ in range(iters):
        # Every line is one numpy operation over all users (no Python loop over users).
        power = v**2
        own = power * g_serv  # p_i g_ii
        received = power @ gains  # (B,): power each BS receives
        in_cell = (own @ onehot)[assoc] if orthogonal else own
        interference = np.maximum(received[assoc] - in_cell, 0.0)
        s = own / (noise_mw + interference)  # SINR
        alpha = c / (1.0 + bandwidth_hz * np.log2(1.0 + s))
        u = sqrt_gii * v / (own + interference + noise_mw)  # MMSE receiver, D_i
        aw = alpha * (1.0 + s)  # alpha_i * w_i
        numerator = aw * u * sqrt_gii
        # sum_i M_ji aw_i u_i^2 g[j, b(i)], grouped by the BS b(i): (U, B) @ (B,)
        weight = aw * u**2
        per_bs = weight @ onehot  # sum of aw u^2 over the users each BS serves
        denominator = gains @ per_bs
        if orthogonal:
            # drop j's own cell, then add back j itself (M_jj = 1)
            denominator = denominator - g_serv * per_bs[assoc] + weight * g_serv
        denominator += price
        # A user at zero power with price 0 gives 0/0: it stays at the lowest power.
        v_new = np.divide(numerator, denominator, out=np.full_like(v, v_min),
                          where=denominator > 0)  # fmt: skip
        np.clip(v_new, v_min, v_max, out=v_new)
        step = float(np.max(np.abs(v_new - v)))
        v = v_new
        if step <= stop:
            break
    return snap_keeping_on(instance, v**2)


def snap_keeping_on(instance: ProblemInstance, power_mw: np.ndarray) -> np.ndarray:
    """Nearest level, except that a user WMMSE keeps on is never switched off.

    Snapping a small positive power to 0 removes that user's whole ``ln(1 + R)`` term (about
    10 per user at 1 MHz), which made nearest-level WMMSE worse than max power on large
    shared-band instances; the lowest positive level keeps the user on.
    """
    snapped = instance.snap_to_levels(power_mw)
    lowest = instance.lowest_on_mw
    if lowest is not None:
        snapped = np.where((power_mw > 0) & (snapped == 0), lowest, snapped)
    return snapped
