"""A trained diffusion model on disk: ``model.safetensors`` (EMA weights) + ``config.json``.

``config.json`` holds everything needed to rebuild and use the network without the training
code: architecture, noise schedule, normalizer, MDP, conditioning spec (feature names, goal
groups, return ranges), dataset provenance and training settings. Nothing is unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from agents.mdp import MDPConfig
from diffusion.conditioning import GLOBAL_FEATURE_NAMES, GOAL_GROUPS, USER_FEATURE_NAMES
from diffusion.denoisers import DenoiserConfig, build_denoiser
from diffusion.normalizer import PowerNormalizer
from diffusion.scheduler import DDIMScheduler, SchedulerConfig
from twin.core import AignError, read_json, write_json_atomic

# The small default model that ships with the project (built by ``make model``).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "paper"
FORMAT = "aign.diffusion"
VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class DiffusionModel:
    """A denoiser with its scheduler, normalizer and conditioning: what the planner needs."""

    denoiser: nn.Module
    denoiser_config: DenoiserConfig
    scheduler: DDIMScheduler
    normalizer: PowerNormalizer
    mdp: MDPConfig
    return_ranges: dict[int, list[float]]
    levels_mw: list[float]
    meta: dict[str, Any] = field(default_factory=dict)  # provenance, training settings
    path: Path | None = None

    def config_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "denoiser": self.denoiser_config.to_dict(),
            "scheduler": self.scheduler.config.to_dict(),
            "normalizer": self.normalizer.to_dict(),
            "mdp": self.mdp.to_dict(),
            "conditioning": {
                "user_features": list(USER_FEATURE_NAMES),
                "global_features": list(GLOBAL_FEATURE_NAMES),
                "goal_groups": dict(GOAL_GROUPS),
                "return_ranges": {str(n): r for n, r in self.return_ranges.items()},
                "always_given": "problem features (user and global); goals may be dropped",
            },
            "levels_mw": list(self.levels_mw),
            **self.meta,
        }

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the folder atomically file by file (weights first, then the config)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.denoiser.state_dict().items()}
        tmp = folder / f".{WEIGHTS_FILE}.tmp"
        save_file(tensors, str(tmp), metadata={"format": f"{FORMAT}/{VERSION}"})
        os.replace(tmp, folder / WEIGHTS_FILE)
        write_json_atomic(folder / CONFIG_FILE, self.config_dict())
        return folder


def model_dir(path: str | os.PathLike) -> Path:
    """The model folder for ``DIR``, ``DIR/config.json`` or ``DIR/model.safetensors``."""
    p = Path(path)
    return p.parent if p.name in (WEIGHTS_FILE, CONFIG_FILE) else p


def load_model(path: str | os.PathLike) -> DiffusionModel:
    """Read a model folder; a missing, corrupt or mismatched one raises :class:`AignError`."""
    folder = model_dir(path)
    config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    hint = "is this the --out folder of aign train diffusion?"
    if not config_file.exists():
        raise AignError(f"{folder}: no {CONFIG_FILE}; {hint}")
    if not weights_file.exists():
        raise AignError(f"{folder}: no {WEIGHTS_FILE}; {hint}")
    cfg = read_json(config_file, AignError, what="model config")
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise AignError(f"{config_file}: not an {FORMAT} model config; {hint}")
    if cfg.get("version") != VERSION:
        raise AignError(
            f"{config_file}: model version {cfg.get('version')!r}, this aign reads version "
            f"{VERSION}; retrain it or use the aign that wrote it"
        )
    try:
        cond = cfg["conditioning"]
        if (cond["user_features"], cond["global_features"], cond["goal_groups"]) != (
            list(USER_FEATURE_NAMES),
            list(GLOBAL_FEATURE_NAMES),
            dict(GOAL_GROUPS),
        ):
            raise AignError(
                f"{config_file}: the model was trained on other condition features than this "
                "aign computes; retrain it"
            )
        denoiser_config = DenoiserConfig(**cfg["denoiser"])
        scheduler = DDIMScheduler(SchedulerConfig(**cfg["scheduler"]))
        normalizer = PowerNormalizer(**cfg["normalizer"])
        mdp = MDPConfig(**cfg["mdp"])
        ranges = {int(n): list(r) for n, r in cond["return_ranges"].items()}
        levels = [float(x) for x in cfg["levels_mw"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise AignError(f"{config_file}: malformed model config ({exc!r}); retrain it") from None
    denoiser = build_denoiser(denoiser_config)
    try:
        state = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise AignError(
            f"{weights_file}: corrupt or truncated weights ({exc}); retrain the model or copy "
            "the folder again"
        ) from None
    try:
        denoiser.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise AignError(
            f"{weights_file}: the weights do not fit the architecture in {CONFIG_FILE} "
            f"({first}); the two files come from different models"
        ) from None
    denoiser.eval()
    known = {"format", "version", "denoiser", "scheduler", "normalizer", "mdp", "conditioning",
             "levels_mw"}  # fmt: skip
    meta = {k: v for k, v in cfg.items() if k not in known}
    return DiffusionModel(denoiser, denoiser_config, scheduler, normalizer, mdp, ranges, levels,
                          meta, folder)  # fmt: skip


def default_model_dir() -> Path:
    """The shipped model folder, or a clear error saying how to build it."""
    if not (DEFAULT_MODEL_DIR / CONFIG_FILE).exists():
        raise AignError(
            f"no --model given and the default model {DEFAULT_MODEL_DIR} is missing; "
            f"build it with `make model` or pass --model DIR"
        )
    return DEFAULT_MODEL_DIR
