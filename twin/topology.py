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
) -> nx.Graph:
    """Graph of the network at one instant.

    An ``interference`` edge joins user ``k`` and a BS ``j`` that does not serve it when the
    gain towards ``j`` is within ``strong_interference_db`` of the gain towards its serving BS:
    whatever power ``k`` uses, ``j`` hears it almost as well as ``k``'s own BS does.
    """
    n_users = gains.shape[0]
    active = np.ones(n_users, dtype=bool) if active is None else active
    graph = nx.Graph()
    graph.add_nodes_from(
        (("bs", j), {"kind": "bs", "pos": tuple(map(float, p))}) for j, p in enumerate(bs_positions)
    )
    users = np.flatnonzero(active)
    graph.add_nodes_from(
        (("user", int(i)), {"kind": "user", "pos": tuple(map(float, user_positions[i]))})
        for i in users
    )
    serving = gains[np.arange(n_users), assoc]
    graph.add_edges_from(
        (("user", int(i)), ("bs", int(assoc[i])),
         {"kind": "association", "gain_db": float(10 * np.log10(serving[i]))})
        for i in users
    )  # fmt: skip
    ratio_db = 10 * np.log10(gains[users] / serving[users, None])
    ratio_db[np.arange(users.size), assoc[users]] = -np.inf
    ks, js = np.nonzero(ratio_db >= -strong_interference_db)
    graph.add_edges_from(
        (("user", int(users[k])), ("bs", int(j)),
         {"kind": "interference", "relative_db": float(ratio_db[k, j])})
        for k, j in zip(ks, js, strict=True)
    )  # fmt: skip
    return graph
