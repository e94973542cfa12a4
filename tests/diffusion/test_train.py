"""Training: both denoisers train end to end; bad arguments are refused before any work."""

import pytest

from diffusion import TrainArgs, load_planner, train_diffusion
from twin.core.errors import AignError


def test_temporal_unet_trains_and_plans(fig3_data, fig3_instance, tmp_path):
    report = train_diffusion(TrainArgs(data=str(fig3_data), out=str(tmp_path / "unet"),
                                       denoiser="unet", width=16, steps=30, batch_size=16))
    assert report.final_loss > 0 and report.model.denoiser_config.kind == "unet"
    result = load_planner(tmp_path / "unet").plan(fig3_instance, candidates=2, steps=5)
    assert result.trajectories_mw.shape == (2, 9, 2)


def test_progress_callback_sees_every_step(fig3_data, tmp_path):
    seen = []
    train_diffusion(TrainArgs(data=str(fig3_data), out=str(tmp_path / "m"), width=16, steps=5,
                              batch_size=8), progress=lambda s, n, loss: seen.append((s, n)))
    assert seen == [(s, 5) for s in range(1, 6)]


def test_same_seed_trains_the_same_weights(fig3_data, tmp_path):
    a, b = (train_diffusion(TrainArgs(data=str(fig3_data), out=str(tmp_path / name), width=16,
                                      steps=5, batch_size=8)) for name in "ab")
    sa, sb = a.model.denoiser.state_dict(), b.model.denoiser.state_dict()
    assert all((sa[k] == sb[k]).all() for k in sa)


@pytest.mark.parametrize("change, message", [
    ({"denoiser": "mlp"}, "transformer"),
    ({"steps": 0}, "steps"),
    ({"goal_drop_prob": 1.0}, "goal_drop_prob"),
    ({"data": []}, "no dataset"),
])  # fmt: skip
def test_bad_arguments_are_refused(fig3_data, tmp_path, change, message):
    args = {"data": str(fig3_data), "out": str(tmp_path / "x"), "steps": 2, **change}
    with pytest.raises(AignError, match=message):
        train_diffusion(TrainArgs(**args))


def test_missing_dataset_is_refused(tmp_path):
    with pytest.raises(AignError, match="dataset.json"):
        train_diffusion(TrainArgs(data=str(tmp_path / "none"), out=str(tmp_path / "m")))
