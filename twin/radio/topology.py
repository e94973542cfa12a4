"""The network as a networkx graph: BSs, users, association and strong-interference edges.

Used by the UI's map and as features for learning. Node ids are ``("bs", j)`` and
``("user", i)``; every node carries its position.
"""

from __future__ import annotations

import networkx as nx
import numpy as np


def network_graph(
    bs_positions: np.ndarray,
    user_positions: np.ndarray,
    gains: np.ndarray,
    assoc: np.ndarray,
    active: np.ndarray | None = None,
    strong_interference_db: float = 10.0,
    max_interference_edges: int | None = None,
) -> nx.Graph:
    """Graph of the network at one instant.

    An ``interference`` edge joins user ``k`` and a BS ``j`` that does not serve it when the
    gain towards ``j`` is within ``strong_interference_db`` of the gain towards its serving BS:
    whatever power ``k`` uses, ``j`` hears it almost as well as ``k``'s own BS does.

    ``max_interference_edges`` keeps only that many, the strongest (highest relative gain;
    ties to the lower user, then BS, index), so that a dense network of ``U`` users does not
    become a graph of ``O(U B)`` edges. ``graph.graph["interference_edges"]`` holds how many
    qualified before the cap. Build time and size are ``O(U + B + edges kept)`` in Python
    objects; the ``(U, B)`` selection runs in numpy.
    """
    n_users = gains.shape[0]
    active = np.ones(n_users, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    graph = nx.Graph()
    graph.add_nodes_from(
        (("bs", j), {"kind": "bs", "pos": (x, y)})
        for j, (x, y) in enumerate(np.asarray(bs_positions, dtype=float).tolist())
    )
    users = np.flatnonzero(active)
    user_list = users.tolist()
    user_xy = np.asarray(user_positions, dtype=float)[users].tolist()
    graph.add_nodes_from(
        (("user", i), {"kind": "user", "pos": (x, y)})
        for i, (x, y) in zip(user_list, user_xy, strict=True)
    )
    serving = gains[np.arange(n_users), assoc]
    with np.errstate(divide="ignore"):
        serving_db = (10 * np.log10(serving[users])).tolist()
    graph.add_edges_from(
        (("user", i), ("bs", j), {"kind": "association", "gain_db": g_db})
        for i, j, g_db in zip(user_list, assoc[users].tolist(), serving_db, strict=True)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_db = 10 * np.log10(gains[users] / serving[users, None])
    ratio_db[np.arange(users.size), assoc[users]] = -np.inf
    ks, js = np.nonzero(ratio_db >= -strong_interference_db)  # row-major: by user, then BS
    graph.graph["interference_edges"] = int(ks.size)
    relative_db = ratio_db[ks, js]
    if max_interference_edges is not None and ks.size > max_interference_edges:
        # Strongest first; a stable sort keeps equal strengths in row-major order.
        keep = np.sort(np.argsort(-relative_db, kind="stable")[: max(0, max_interference_edges)])
        ks, js, relative_db = ks[keep], js[keep], relative_db[keep]
    graph.add_edges_from(
        (("user", u), ("bs", j), {"kind": "interference", "relative_db": r_db})
        for u, j, r_db in zip(users[ks].tolist(), js.tolist(), relative_db.tolist(), strict=True)
    )
    return graph
