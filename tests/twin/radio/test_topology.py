"""The networkx topology: association and strong-interference edges."""

import numpy as np

from twin.radio.topology import network_graph


def test_graph_has_association_and_strong_interference_edges():
    bs = np.array([[0.0, 0.0], [100.0, 0.0]])
    users = np.array([[10.0, 0.0], [50.0, 0.0], [95.0, 0.0]])
    # user 1 hears BS 1 only 3 dB below its serving BS 0: strong; user 0 is 30 dB apart.
    gains = np.array([[1e-9, 1e-12], [1e-10, 5e-11], [1e-13, 1e-9]])
    assoc = np.array([0, 0, 1])
    g = network_graph(bs, users, gains, assoc, strong_interference_db=10.0)
    assert g.edges[("user", 0), ("bs", 0)]["kind"] == "association"
    assert g.edges[("user", 1), ("bs", 1)]["kind"] == "interference"
    assert not g.has_edge(("user", 0), ("bs", 1))
    assert g.nodes[("bs", 1)]["pos"] == (100.0, 0.0)
    kinds = [d["kind"] for _, _, d in g.edges(data=True)]
    assert kinds.count("association") == 3 and kinds.count("interference") == 1


def test_idle_users_are_left_out():
    bs = np.array([[0.0, 0.0]])
    users = np.array([[10.0, 0.0], [20.0, 0.0]])
    g = network_graph(bs, users, np.ones((2, 1)), np.array([0, 0]), active=np.array([True, False]))
    assert ("user", 1) not in g and g.number_of_edges() == 1


def test_interference_cap_keeps_the_strongest_edges():
    bs = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    users = np.zeros((3, 2))
    # Relative gains (dB) towards the non-serving BSs: user 0: -1, -9; user 1: -3; user 2: -6.
    gains = np.array([[1.0, 10**-0.1, 10**-0.9], [10**-0.3, 1.0, 1e-3], [1e-3, 10**-0.6, 1.0]])
    assoc = np.array([0, 1, 2])
    full = network_graph(bs, users, gains, assoc, strong_interference_db=10.0)
    capped = network_graph(bs, users, gains, assoc, strong_interference_db=10.0,
                           max_interference_edges=2)  # fmt: skip

    def interference(g):
        edges = [sorted((a, b), reverse=True) for a, b, d in g.edges(data=True)
                 if d["kind"] == "interference"]  # fmt: skip
        return {(user[1], bs[1]) for user, bs in edges}  # ("user", i) sorts after ("bs", j)

    assert interference(full) == {(0, 1), (0, 2), (1, 0), (2, 1)}
    assert interference(capped) == {(0, 1), (1, 0)}  # -1 dB and -3 dB
    assert full.graph["interference_edges"] == capped.graph["interference_edges"] == 4
    assert capped.number_of_nodes() == full.number_of_nodes()
