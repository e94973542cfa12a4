"""Stage 2: a conditional diffusion model over designs on the interference graph, and the
planner it drives.

stage-1 datasets -> :mod:`~diffusion.data` (instances, designs, goals) ->
:mod:`~diffusion.graph` (the interference graph; the radio state of a design) ->
:mod:`~diffusion.denoisers` (a graph network, any user count) trained by
:mod:`~diffusion.train` -> :mod:`~diffusion.sampler` (DDIM with classifier-free guidance and
the twin's radio state fed back, on the :mod:`~diffusion.scheduler`) ->
:mod:`~diffusion.planner` (K candidates scored on the twin, the best kept; a controller).
"""

from diffusion.checkpoint import DEFAULT_MODEL_DIR, DiffusionModel, default_model_dir, load_model
from diffusion.conditioning import GOAL_GROUPS, goal_vector
from diffusion.data import DesignData, DesignExample, examples_from_arrays, load_design_data
from diffusion.denoisers import DenoiserConfig, GraphDenoiser
from diffusion.envelope import Envelope
from diffusion.graph import DesignGraph, design_graph, radio_features
from diffusion.planner import (
    Planner,
    PlannerController,
    PlanResult,
    PlanSettings,
    default_candidates,
    diffusion_controller,
    load_planner,
)
from diffusion.sampler import sample_designs
from diffusion.scheduler import DDIMScheduler, SchedulerConfig, cosine_alphas_cumprod
from diffusion.train import TrainArgs, TrainReport, train_diffusion

__all__ = [
    "DEFAULT_MODEL_DIR",
    "DDIMScheduler",
    "DenoiserConfig",
    "DesignData",
    "DesignExample",
    "DesignGraph",
    "DiffusionModel",
    "Envelope",
    "GOAL_GROUPS",
    "GraphDenoiser",
    "PlanResult",
    "PlanSettings",
    "Planner",
    "PlannerController",
    "SchedulerConfig",
    "TrainArgs",
    "TrainReport",
    "cosine_alphas_cumprod",
    "default_candidates",
    "default_model_dir",
    "design_graph",
    "diffusion_controller",
    "examples_from_arrays",
    "goal_vector",
    "load_design_data",
    "load_model",
    "load_planner",
    "radio_features",
    "sample_designs",
    "train_diffusion",
]
