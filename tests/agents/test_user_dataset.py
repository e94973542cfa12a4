"""Per-user datasets: collection, round trip, labels recomputed by the twin, resumption,
d3rlpy and Minari's own loader."""

import numpy as np
import pytest

from agents.collect import CollectArgs, collect
from agents.dataset import DatasetError, TrajectoryDataset
from agents.peruser import user_rewards
from agents.user_dataset import UserTrajectoryDataset
from twin.core import AignError


def per_user(policy, out, episodes=4, **kw):
    return collect(CollectArgs("paper-20", policy, episodes, str(out), users=[3, 7], batch=3,
                               formulation="per-user", **kw))  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("users")
    for policy in ("coordinate", "random", "noisy:coordinate,sigma=0.3"):
        per_user(policy, out)
    return UserTrajectoryDataset.load(out)


def test_round_trip_keeps_every_episode_and_user_without_padding(mixed):
    assert mixed.n_episodes == 12
    assert mixed["n_users"].tolist() == [3, 7, 3, 7] * 3  # round-robin user counts
    assert mixed.n_user_episodes == 60
    h = mixed.horizon
    assert mixed["observations"].shape[:2] == (60, h + 1) and mixed["actions"].shape == (60, h)
    for k in range(mixed.n_episodes):
        rows = mixed.users_of(k)
        assert np.all(mixed["user_episode"][rows] == k)


def test_stored_rewards_and_utilities_are_what_the_twin_computes(mixed):
    for k in (0, 5, 11):
        inst, powers = mixed.instance(k), mixed.power_trajectory(k)
        rewards = mixed["rewards"][mixed.users_of(k)]
        for t in range(mixed.horizon):
            r, u, _ = user_rewards(inst, powers[t + 1], mixed.header.mdp, powers[t])
            assert np.allclose(rewards[:, t], r, rtol=1e-5, atol=1e-4)
            assert mixed["utilities"][k, t + 1] == pytest.approx(u)
        assert mixed["final_utility"][k] == pytest.approx(float(inst.objective(powers[-1])[0]))
        assert mixed["env_params"][k, 0] == inst.n_users


def test_labels_rank_the_expert_above_random_actions(mixed):
    source = mixed["source"]
    per_user_utility = mixed["final_utility"] / mixed["n_users"]
    assert per_user_utility[source == "coordinate"].mean() > per_user_utility[
        source == "random"].mean()  # fmt: skip
    info = mixed.info()
    assert info["sources"] == {"coordinate": 4, "random": 4,
                               "noisy:coordinate,sigma=0.3,epsilon=0": 4}  # fmt: skip
    assert 0 < info["coverage"]["state_action_cells_visited_share"] <= 1
    assert info["quality"]["feasible_share"] == 1.0 and info["user_episodes"] == 60


def test_rerunning_a_collection_resumes_it(tmp_path):
    per_user("random", tmp_path, episodes=3)
    again = per_user("random", tmp_path, episodes=6)
    assert again["already_stored"] == 3 and again["collected"] == 3
    whole = tmp_path.parent / "whole"
    per_user("random", whole, episodes=6)
    a, b = UserTrajectoryDataset.load(tmp_path), UserTrajectoryDataset.load(whole)
    for name in ("observations", "actions", "rewards", "powers_mw", "gains"):
        assert np.array_equal(a[name], b[name])


def test_formats_are_not_confused(tmp_path, mixed):
    with pytest.raises(DatasetError, match="per-user episodes"):
        TrajectoryDataset.load(mixed.path)
    with pytest.raises(AignError, match="max-users"):
        per_user("random", tmp_path, max_users=9)


def test_d3rlpy_reads_one_episode_per_user(mixed):
    d = mixed.to_d3rlpy()
    assert d.transition_count == 60 * mixed.horizon and len(d.episodes) == 60
    assert d.episodes[0].actions.shape == (mixed.horizon, 1)


def test_minari_loads_the_export_with_its_own_loader(tmp_path, mixed, monkeypatch):
    import minari

    mixed.export_minari("aign/test-users-v0", tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    loaded = minari.load_dataset("aign/test-users-v0")
    assert loaded.total_episodes == 60 and loaded.total_steps == 60 * mixed.horizon
    episodes = list(loaded.iterate_episodes())
    for u in (0, 17, 59):
        assert np.array_equal(episodes[u].observations, mixed["observations"][u])
        assert np.allclose(episodes[u].rewards, mixed["rewards"][u])
        assert np.array_equal(episodes[u].actions[:, 0], mixed["actions"][u])
        assert episodes[u].terminations[-1] and not episodes[u].truncations.any()


def test_price_jitter_draws_a_price_per_episode_and_the_dataset_keeps_it_exactly(tmp_path):
    per_user("coordinate", tmp_path / "j", episodes=6, price_jitter=2.0)
    data = UserTrajectoryDataset.load(tmp_path / "j")
    base = data.header.price
    prices = np.array([data.instance(k).price for k in range(6)])
    assert np.all((prices >= base / 2) & (prices <= base * 2)) and len(set(prices)) == 6
    for k in range(6):  # the stored utilities were computed at the drawn price
        inst, powers = data.instance(k), data.power_trajectory(k)
        assert data["final_utility"][k] == float(inst.objective(powers[-1])[0])
    per_user("coordinate", tmp_path / "plain", episodes=2)  # no jitter: the header's price
    plain = UserTrajectoryDataset.load(tmp_path / "plain")
    assert [plain.instance(k).price for k in range(2)] == [base, base]
    assert "price_jitter" not in plain.header.to_dict()  # earlier datasets' headers match


def test_price_jitter_is_refused_for_joint_episodes(tmp_path):
    with pytest.raises(AignError, match="per-user"):
        collect(CollectArgs("paper-20", "random", 2, str(tmp_path / "d"), users=[3],
                            price_jitter=2.0))  # fmt: skip


def test_episodes_of_a_batch_are_those_of_batches_of_one(tmp_path):
    # One sampler (and its shadowing fields) serves a whole batch: same episodes as alone.
    per_user("coordinate", tmp_path / "b3", episodes=3)
    collect(CollectArgs("paper-20", "coordinate", 3, str(tmp_path / "b1"), users=[3, 7],
                        batch=1, formulation="per-user"))  # fmt: skip
    a, b = UserTrajectoryDataset.load(tmp_path / "b3"), UserTrajectoryDataset.load(tmp_path / "b1")
    for k in range(3):
        assert np.array_equal(a.instance(k).gains, b.instance(k).gains)
        assert np.array_equal(a.power_trajectory(k), b.power_trajectory(k))


def test_an_agents_episodes_are_recorded_on_its_own_anchor(tmp_path, mixed):
    # An agent trained on the priced anchor (older agents read as such) acts relative to
    # it: its collection records that anchor, and replaying the recorded actions with it
    # gives the recorded powers. Policies that are not agents record the default.
    from agents.peruser import target_power
    from agents.sac import SACArgs, train_sac

    assert mixed.header.mdp.anchor == "checked"
    sac = train_sac(SACArgs(scenario="paper-20", users=[3], steps=64, learning_starts=16,
                            checkpoint_every=0, anchor="priced",
                            out=str(tmp_path / "sac")))  # fmt: skip
    per_user(f"sac:{sac}", tmp_path / "d", episodes=2)
    data = UserTrajectoryDataset.load(tmp_path / "d")
    assert data.header.mdp.anchor == "priced"
    for k in range(data.n_episodes):
        inst, powers = data.instance(k), data.power_trajectory(k)
        rows = data.users_of(k)
        for t in range(data.horizon):
            moved = data["moves"][rows, t]
            replay = target_power(inst, data["actions"][rows, t], data.header.mdp, powers[t])
            assert np.array_equal(replay[moved], powers[t + 1][moved])


def test_bcq_learns_from_per_user_datasets_of_several_networks(tmp_path, mixed):
    import json

    from agents.bcq import BCQArgs, train_bcq

    collect(CollectArgs("default", "coordinate", 3, str(tmp_path / "default"), users=[4],
                        batch=3, formulation="per-user"))  # fmt: skip
    other = UserTrajectoryDataset.load(tmp_path / "default")
    both = mixed.to_d3rlpy(other)
    assert both.transition_count == (mixed.n_user_episodes + other.n_user_episodes) * mixed.horizon
    assert len(both.episodes) == mixed.n_user_episodes + other.n_user_episodes
    out = train_bcq(BCQArgs(data=[str(mixed.path), str(tmp_path / "default")], steps=2,
                            steps_per_epoch=2, out=str(tmp_path / "bcq")))  # fmt: skip
    meta = json.loads((out / "agent.json").read_text())
    assert meta["episodes"] == mixed.n_episodes + other.n_episodes
    assert meta["scenario"] == "paper-20,default"
    # episodes of another MDP (here: another horizon) are not mixed in
    collect(CollectArgs("default", "random", 2, str(tmp_path / "short"), users=[4], horizon=4,
                        formulation="per-user"))  # fmt: skip
    with pytest.raises(AignError, match="cannot be combined"):
        train_bcq(BCQArgs(data=[str(mixed.path), str(tmp_path / "short")], steps=2,
                          steps_per_epoch=2, out=str(tmp_path / "bcq2")))  # fmt: skip
