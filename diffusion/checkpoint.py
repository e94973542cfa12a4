"""A trained planner model on disk: ``model.safetensors`` (EMA weights) + ``config.json``.

``config.json`` holds everything needed to rebuild and use the network without the
training code: the architecture, the noise schedule, the graph (neighbours per user and the
names of the static, edge and radio features), the goal groups, the training envelope
(:mod:`diffusion.envelope`), dataset provenance and training settings. Nothing is unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from diffusion.conditioning import GOAL_GROUPS
from diffusion.denoisers import DenoiserConfig, GraphDenoiser
from diffusion.envelope import Envelope
from diffusion.graph import EDGE_FEATURES, RADIO_FEATURES, STATIC_FEATURES
from diffusion.scheduler import DDIMScheduler, SchedulerConfig
from twin.core import AignError, read_json, write_json_atomic

# The small default model that ships with the project (built by ``make model``).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "paper"
FORMAT = "aign.diffusion"
VERSION = 2  # 2: the graph denoiser over designs (1 was the padded trajectory model)
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def _features() -> dict[str, list[str]]:
    return {"static": list(STATIC_FEATURES), "edge": list(EDGE_FEATURES),
            "radio": list(RADIO_FEATURES), "goal_groups": list(GOAL_GROUPS)}  # fmt: skip


@dataclass
class DiffusionModel:
    """A denoiser with its scheduler, graph settings and envelope: what the planner needs."""

    denoiser: GraphDenoiser
    config: DenoiserConfig
    scheduler: DDIMScheduler
    neighbours: int
    envelope: Envelope
    meta: dict[str, Any] = field(default_factory=dict)  # provenance, training settings
    path: Path | None = None
    off_gap: float = 0.0  # the design space (diffusion.normalizer; 0: models before it)

    def config_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "denoiser": self.config.to_dict(),
            "scheduler": self.scheduler.config.to_dict(),
            "graph": {"neighbours": self.neighbours},
            "design_space": {"off_gap": self.off_gap},
            "features": _features(),
            "envelope": self.envelope.to_dict(),
            **self.meta,
        }

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the folder file by file, each atomically (weights first, then the config)."""
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
    if not config_file.is_file():
        raise AignError(f"{folder}: no {CONFIG_FILE}; {hint}")
    if not weights_file.is_file():
        raise AignError(f"{folder}: no {WEIGHTS_FILE}; {hint}")
    cfg = read_json(config_file, AignError, what="model config")
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise AignError(f"{config_file}: not an {FORMAT} model config; {hint}")
    if cfg.get("version") != VERSION:
        raise AignError(
            f"{config_file}: model version {cfg.get('version')!r}, this aign reads version "
            f"{VERSION} (the graph planner); retrain it with aign train diffusion"
        )
    try:
        if cfg["features"] != _features():
            raise AignError(
                f"{config_file}: the model was trained on other features than this aign "
                "computes; retrain it"
            )
        config = DenoiserConfig(**cfg["denoiser"])
        scheduler = DDIMScheduler(SchedulerConfig(**cfg["scheduler"]))
        neighbours = int(cfg["graph"]["neighbours"])
        envelope = Envelope.from_dict(cfg["envelope"])
        if neighbours < 1:
            raise ValueError("graph.neighbours must be >= 1")
        off_gap = float(cfg.get("design_space", {}).get("off_gap", 0.0))
        if not 0.0 <= off_gap < 1.0:
            raise ValueError(f"design_space.off_gap must be in [0, 1), got {off_gap}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AignError(f"{config_file}: malformed model config ({exc!r}); retrain it") from None
    try:
        denoiser = GraphDenoiser(config)
    except ValueError as exc:
        raise AignError(f"{config_file}: malformed model config ({exc}); retrain it") from None
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
    known = {"format", "version", "denoiser", "scheduler", "graph", "design_space", "features",
             "envelope"}  # fmt: skip
    meta = {k: v for k, v in cfg.items() if k not in known}
    return DiffusionModel(denoiser, config, scheduler, neighbours, envelope, meta, folder,
                          off_gap)  # fmt: skip


def default_model_dir() -> Path:
    """The shipped model folder, or a clear error saying how to build it."""
    if not (DEFAULT_MODEL_DIR / CONFIG_FILE).exists():
        raise AignError(
            f"no --model given and the default model {DEFAULT_MODEL_DIR} is missing; "
            f"build it with `make model` or pass --model DIR"
        )
    return DEFAULT_MODEL_DIR
