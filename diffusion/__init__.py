"""Stage 2: a conditional diffusion model over power trajectories, and the planner it drives.

trajectory dataset -> :mod:`~diffusion.normalizer` -> :mod:`~diffusion.conditioning` ->
:mod:`~diffusion.denoisers` (temporal U-Net or user transformer) trained by
:mod:`~diffusion.train` -> :mod:`~diffusion.sampler` (DDIM with classifier-free guidance, on
the :mod:`~diffusion.scheduler`) -> :mod:`~diffusion.planner` (K candidates scored on the
twin, the best kept; a controller).
"""

from diffusion.checkpoint import DEFAULT_MODEL_DIR, DiffusionModel, default_model_dir, load_model
from diffusion.conditioning import Condition
from diffusion.denoisers import DenoiserConfig, TemporalUNet, UserTransformer, build_denoiser
from diffusion.planner import (
    Planner,
    PlannerController,
    PlanResult,
    PlanSettings,
    diffusion_controller,
    load_planner,
)
from diffusion.sampler import sample_trajectories
from diffusion.scheduler import DDIMScheduler, SchedulerConfig, cosine_alphas_cumprod
from diffusion.train import TrainArgs, TrainReport, train_diffusion

__all__ = [
    "DEFAULT_MODEL_DIR",
    "Condition",
    "DDIMScheduler",
    "DenoiserConfig",
    "DiffusionModel",
    "PlanResult",
    "PlanSettings",
    "Planner",
    "PlannerController",
    "SchedulerConfig",
    "TemporalUNet",
    "TrainArgs",
    "TrainReport",
    "UserTransformer",
    "build_denoiser",
    "cosine_alphas_cumprod",
    "default_model_dir",
    "diffusion_controller",
    "load_model",
    "load_planner",
    "sample_trajectories",
    "train_diffusion",
]
