"""Denoisers: networks ``eps_theta(x_t, t, condition)`` that predict the noise in a batch of
normalized power trajectories ``x_t`` ``(B, T, N)`` (T = horizon + 1 states, N = max users).

- :class:`TemporalUNet`: the Decision Diffuser / Diffuser network (Janner et al. 2022): 1-D
  convolutions over the time axis, the users (and their channel features) as channels.
- :class:`UserTransformer`: users as tokens (each token carries one user's trajectory and
  channel features); self-attention over the real users only, so it is
  permutation-equivariant and any user count up to ``max_users`` is handled by the mask.

Both read the condition through :class:`ConditionEmbedding` (diffusion timestep, global
features and goal groups, summed) and apply it by FiLM (feature-wise scale and shift).
Neither knows the noise schedule: that is the scheduler's business.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from diffusion.conditioning import (
    GLOBAL_FEATURE_NAMES,
    GOAL_GROUPS,
    USER_FEATURE_NAMES,
    Condition,
    goal_slices,
)

DENOISER_KINDS = ("transformer", "unet")


@dataclass(frozen=True)
class DenoiserConfig:
    """Architecture of a denoiser (stored in the model's ``config.json``)."""

    kind: str = "transformer"  # "transformer" (users as tokens) or "unet" (temporal U-Net)
    max_users: int = 2  # N: users the trajectories are padded to
    horizon: int = 8  # H: trajectories hold H + 1 states
    width: int = 64  # transformer: token size; U-Net: channels of the first level
    depth: int = 2  # transformer: attention blocks (U-Net: unused)
    heads: int = 4  # transformer: attention heads (U-Net: unused)
    dim_mults: tuple[int, ...] = (1, 2)  # U-Net: channel multiplier per level (transformer: unused)

    def __post_init__(self) -> None:
        if self.kind not in DENOISER_KINDS:
            raise ValueError(f"denoiser kind must be one of {DENOISER_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "dim_mults", tuple(int(m) for m in self.dim_mults))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dim_mults"] = list(self.dim_mults)
        return d


def build_denoiser(config: DenoiserConfig) -> nn.Module:
    """The network a config describes."""
    return UserTransformer(config) if config.kind == "transformer" else TemporalUNet(config)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017; as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ConditionEmbedding(nn.Module):
    """One vector per sample: ``MLP(timestep) + Linear(globals) + sum_g goal_g``, where a
    dropped goal group contributes a learned null embedding instead of its value (the
    classifier-free guidance "empty" condition, Ho & Salimans 2022, per group)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.time = nn.Sequential(nn.Linear(dim, dim * 2), nn.SiLU(), nn.Linear(dim * 2, dim))
        self.globals = nn.Linear(len(GLOBAL_FEATURE_NAMES), dim)
        self.goals = nn.ModuleList(nn.Linear(width, dim) for width in GOAL_GROUPS.values())
        self.null_goals = nn.Parameter(torch.zeros(len(GOAL_GROUPS), dim))
        self.slices = list(goal_slices().values())

    def forward(self, t: torch.Tensor, cond: Condition) -> torch.Tensor:
        h = self.time(timestep_embedding(t, self.dim)) + self.globals(cond.global_features)
        for g, (layer, sl) in enumerate(zip(self.goals, self.slices, strict=True)):
            keep = cond.goal_keep[:, g : g + 1]
            h = h + keep * layer(cond.goals[:, sl]) + (1.0 - keep) * self.null_goals[g]
        return F.silu(h)


# --------------------------------------------------------------------------- transformer
class _UserAttention(nn.Module):
    """Multi-head self-attention over users; padded users are never attended to.

    (``torch.nn.functional.scaled_dot_product_attention`` with a boolean key mask: on CPU
    it is several times faster than ``nn.MultiheadAttention``'s masked path.)
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} must be a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, h: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        b, n, d = h.shape
        q, k, v = self.qkv(h).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attend[:, None, None, :])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class _AdaLNBlock(nn.Module):
    """Pre-norm transformer block whose norms are scaled and shifted by the condition
    (adaptive layer norm, as in DiT, Peebles & Xie 2023)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = _UserAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))
        self.film = nn.Linear(dim, dim * 4)

    def forward(self, h: torch.Tensor, c: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        s1, b1, s2, b2 = self.film(c)[:, None].chunk(4, dim=-1)
        h = h + self.attn(self.norm1(h) * (1 + s1) + b1, attend)
        return h + self.mlp(self.norm2(h) * (1 + s2) + b2)


class UserTransformer(nn.Module):
    """Users as tokens: token ``i`` = (trajectory of user ``i``, its channel features)."""

    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.config = config
        steps, d = config.horizon + 1, config.width
        self.embed = nn.Linear(steps + len(USER_FEATURE_NAMES), d)
        self.cond = ConditionEmbedding(d)
        self.blocks = nn.ModuleList(_AdaLNBlock(d, config.heads) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.out = nn.Linear(d, steps)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Condition) -> torch.Tensor:
        mask = cond.user_mask
        tokens = torch.cat([x.transpose(1, 2) * mask[..., None], cond.user_features], dim=-1)
        h = self.embed(tokens)
        c = self.cond(t, cond)
        attend = mask > 0.5
        for block in self.blocks:
            h = block(h, c, attend)
        return self.out(self.norm(h)).transpose(1, 2)


# --------------------------------------------------------------------------- temporal U-Net
def _groups(channels: int) -> int:
    return math.gcd(8, channels)


class _ResidualTemporalBlock(nn.Module):
    """Two (conv, group norm, Mish) layers over time; FiLM from the condition in between."""

    def __init__(self, c_in: int, c_out: int, d_cond: int, kernel: int = 5):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        self.norm1 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=kernel // 2)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.film = nn.Linear(d_cond, c_out * 2)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.mish(self.norm1(self.conv1(x)))
        scale, shift = self.film(c)[..., None].chunk(2, dim=1)
        h = h * (1 + scale) + shift
        h = F.mish(self.norm2(self.conv2(h)))
        return h + self.skip(x)


class TemporalUNet(nn.Module):
    """Diffuser's temporal U-Net: channels = users' powers and channel features, length = time.

    The time axis is padded (repeating the last state) to a multiple of
    ``2 ** (levels - 1)`` so that every downsampling halves it exactly; the output is
    cropped back.
    """

    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.config = config
        n, d = config.max_users, config.width
        c_in = n * (1 + len(USER_FEATURE_NAMES))
        dims = [d * m for m in config.dim_mults]
        self.cond = ConditionEmbedding(d)
        self.stem = nn.Conv1d(c_in, dims[0], 1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, c = [], dims[0]
        for i, dim in enumerate(dims):
            self.down.append(_ResidualTemporalBlock(c, dim, d))
            skips.append(dim)
            last = i == len(dims) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv1d(dim, dim, 3, 2, 1))
            c = dim
        self.mid = _ResidualTemporalBlock(c, c, d)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, dim in enumerate(reversed(dims)):
            self.up.append(_ResidualTemporalBlock(c + skips.pop(), dim, d))
            last = i == len(dims) - 1
            self.upsample.append(nn.Identity() if last else nn.ConvTranspose1d(dim, dim, 4, 2, 1))
            c = dim
        self.out = nn.Conv1d(c, n, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.multiple = 2 ** (len(dims) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Condition) -> torch.Tensor:
        b, steps, n = x.shape
        mask = cond.user_mask
        feats = cond.user_features.reshape(b, -1, 1).expand(-1, -1, steps)
        h = torch.cat([(x * mask[:, None]).transpose(1, 2), feats], dim=1)  # (B, C, T)
        pad = (-steps) % self.multiple
        if pad:
            h = F.pad(h, (0, pad), mode="replicate")
        c = self.cond(t, cond)
        h = self.stem(h)
        skips = []
        for block, down in zip(self.down, self.downsample, strict=True):
            h = block(h, c)
            skips.append(h)
            h = down(h)
        h = self.mid(h, c)
        for block, up in zip(self.up, self.upsample, strict=True):
            h = block(torch.cat([h, skips.pop()], dim=1), c)
            h = up(h)
        return self.out(h)[..., :steps].transpose(1, 2)
