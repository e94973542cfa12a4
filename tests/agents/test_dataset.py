"""Trajectory datasets: round trip, labels recomputed by the twin, resume, merge, refusals."""

import hashlib
import json

import numpy as np
import pytest

from agents.collect import CollectArgs, collect
from agents.dataset import VERSION, DatasetError, TrajectoryDataset
from agents.mdp import MDPConfig, next_power


def _collect(out, policy="random", episodes=6, batch=4, scenario="paper-fig3", **kw):
    return collect(
        CollectArgs(
            scenario=scenario,
            policy=policy,
            episodes=episodes,
            out=str(out),
            batch=batch,
            horizon=4,
            **kw,
        )
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "mixed"
    _collect(out, "random", episodes=6, scenario="default", users=[3, 5], max_users=6)
    _collect(out, "coordinate", episodes=4, scenario="default", users=[3, 5], max_users=6)
    return TrajectoryDataset.load(out)


def test_round_trip_keeps_every_episode_and_shape(mixed):
    assert mixed.n_episodes == 10
    assert mixed["observations"].shape == (10, 5, MDPConfig(6, 4).obs_dim)
    assert mixed["actions"].shape == (10, 4, 6) and mixed["gains"].shape == (10, 6, 3)
    assert sorted(set(mixed["n_users"].tolist())) <= [3, 5]


def test_stored_returns_equal_returns_recomputed_by_the_twin_from_stored_actions(mixed):
    config = mixed.header.mdp
    for k in range(mixed.n_episodes):
        inst = mixed.instance(k)
        n = inst.n_users
        power = mixed["powers_mw"][k, 0, :n].astype(float)
        total = 0.0
        for t in range(config.horizon):
            power = next_power(inst, power, mixed["actions"][k, t], config)
            assert np.array_equal(power, mixed["powers_mw"][k, t + 1, :n])
            utility, violation = inst.objective(power)
            total += utility / n - config.violation_penalty * violation
        assert mixed["returns"][k] == pytest.approx(total, rel=1e-12)
        assert mixed["final_utility"][k] == pytest.approx(float(utility), rel=1e-12)


def test_labels_describe_the_environment(mixed):
    params = mixed["env_params"]
    assert np.array_equal(params[:, 0], mixed["n_users"])
    assert params[:, 1] == pytest.approx(10 * np.log10(mixed["noise_mw"]), abs=1e-4)
    assert mixed["feasible"].all() and mixed["constraint_ok"].all()
    assert mixed["seeds"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]


def test_info_reports_sources_quality_and_coverage(mixed):
    info = mixed.info()
    assert info["sources"] == {"random": 6, "coordinate": 4}
    assert info["transitions"] == 40
    assert info["quality"]["mean_return"] == pytest.approx(mixed["returns"].mean())
    cov = info["coverage"]
    assert 0 < cov["distinct_state_action_pairs"] <= 40 and 0 < cov["distinct_share"] <= 1


def test_expert_rollouts_reach_the_fig3_optimum(tmp_path):
    _collect(tmp_path / "d", "coordinate", episodes=2, batch=2)
    ds = TrajectoryDataset.load(tmp_path / "d")
    assert ds["final_utility"] == pytest.approx([24.0922, 24.0922], abs=1e-4)
    assert ds["powers_mw"][:, -1].tolist() == [[28, 31], [28, 31]]


def test_interrupted_collection_resumes_without_losing_or_redoing_episodes(tmp_path):
    calls = []

    def interrupt(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    args = CollectArgs(
        "paper-fig3", "random", episodes=8, out=str(tmp_path / "r"), batch=2, horizon=4
    )
    with pytest.raises(KeyboardInterrupt):
        collect(args, progress=interrupt)
    assert TrajectoryDataset.load(tmp_path / "r").n_episodes == 4
    report = collect(args)
    assert report["already_stored"] == 4 and report["collected"] == 4
    resumed = TrajectoryDataset.load(tmp_path / "r")
    _collect(tmp_path / "u", "random", episodes=8, batch=2)
    straight = TrajectoryDataset.load(tmp_path / "u")
    for name in ("observations", "actions", "returns", "seeds"):
        assert np.array_equal(resumed[name], straight[name]), name


def test_corrupt_shard_is_refused_with_a_fix(tmp_path):
    _collect(tmp_path / "c", episodes=2, batch=2)
    shard = next((tmp_path / "c").glob("shard-*.npz"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="corrupt.*re-run aign collect"):
        TrajectoryDataset.load(tmp_path / "c")


def test_truncated_shard_is_refused(tmp_path):
    _collect(tmp_path / "t", episodes=2, batch=2)
    shard = next((tmp_path / "t").glob("shard-*.npz"))
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DatasetError, match="unreadable or truncated"):
        TrajectoryDataset.load(tmp_path / "t", verify=False)


def test_newer_dataset_version_is_refused(tmp_path):
    _collect(tmp_path / "v", episodes=2, batch=2)
    manifest = tmp_path / "v" / "dataset.json"
    data = json.loads(manifest.read_text())
    data["version"] = VERSION + 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=f"version {VERSION + 1}.*upgrade aign"):
        TrajectoryDataset.load(tmp_path / "v")


def _downgrade_to_version_1(path):
    """Rewrite a dataset as version 1 wrote it: no per-episode limits in the shards."""
    manifest = path / "dataset.json"
    data = json.loads(manifest.read_text())
    for shard in data["shards"]:
        file = path / shard["file"]
        with np.load(file) as npz:
            arrays = {k: npz[k] for k in npz.files if k != "constraint_limits"}
        with open(file, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        shard["sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    data["version"] = 1
    manifest.write_text(json.dumps(data))


def test_version_1_datasets_still_load_with_the_header_constraints(tmp_path):
    _collect(tmp_path / "old", episodes=3, batch=3)
    _downgrade_to_version_1(tmp_path / "old")
    old = TrajectoryDataset.load(tmp_path / "old")
    assert old["constraint_limits"].shape == (3, 3)
    assert np.isnan(old["constraint_limits"]).all()  # paper-fig3 imposes nothing
    assert old.instance(0).constraints.active() == ()
    # appending would mix versions in one manifest: refused, nothing written
    before = (tmp_path / "old" / "dataset.json").read_text()
    with pytest.raises(DatasetError, match="version 1 dataset.*new --out"):
        _collect(tmp_path / "old", episodes=4, batch=2)
    assert (tmp_path / "old" / "dataset.json").read_text() == before


def test_episodes_of_another_shape_are_not_mixed_in(tmp_path):
    _collect(tmp_path / "m", episodes=2, batch=2)
    with pytest.raises(DatasetError, match="mdp.*differ"):
        _collect(tmp_path / "m", episodes=2, batch=2, scenario="default", users=[3])


def test_d3rlpy_reads_the_dataset_without_conversion_code(mixed):
    d3 = mixed.to_d3rlpy()
    assert len(d3.episodes) == mixed.n_episodes
    assert d3.episodes[0].observations.shape == (4, mixed.header.mdp.obs_dim)


def test_one_dataset_collects_the_same_policy_on_several_scenarios(tmp_path):
    out = tmp_path / "multi"
    for name in ("paper-20", "paper-50"):
        n = name.split("-")[1]
        report = _collect(
            out, "random", episodes=2, batch=2, scenario=name, users=[int(n)], max_users=50
        )
        assert report["collected"] == 2
    ds = TrajectoryDataset.load(out)
    assert ds.info()["scenarios"] == {"paper-20": 2, "paper-50": 2}
    assert sorted(ds["n_users"].tolist()) == [20, 20, 50, 50]
