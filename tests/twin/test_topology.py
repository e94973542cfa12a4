"""The networkx topology: association and strong-interference edges."""

import numpy as np

from twin.topology import network_graph


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
