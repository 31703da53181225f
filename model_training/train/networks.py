"""The generator network (what is exported) and the ensemble of generators exported as one graph."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from blender_addon.core.face.landmark_normalize import FEATURE_SIZE

from .config import TRAINED


class Generator(nn.Module):
    """Standardise features (constants from the training set) -> MLP -> sigmoid; tongueOut appended as 0."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, hidden: tuple[int, ...]):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("inv_std", torch.as_tensor(1.0 / std, dtype=torch.float32))
        layers: list[nn.Module] = []
        d = FEATURE_SIZE
        for h in hidden:
            layers += [nn.Linear(d, h), nn.SiLU()]
            d = h
        layers.append(nn.Linear(d, len(TRAINED)))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = (features - self.mean) * self.inv_std
        y = torch.sigmoid(self.net(x))
        return torch.cat([y, torch.zeros_like(y[:, :1])], dim=1)


class Ensemble(nn.Module):
    """Weighted average of generators sharing one feature standardisation, exported as one graph.

    Why: arms trained on different data read different parts of the face best (the geometric-only arm moves the brows
    on photos, the real-frame arms rest quietly); weights are one per member, or one per member and output channel
    ((members, 51) in the trained-channel order) to take each channel from the arm that reads it.
    """

    def __init__(self, members: list[Generator], weights):
        super().__init__()
        self.register_buffer("mean", members[0].mean.clone())
        self.register_buffer("inv_std", members[0].inv_std.clone())
        for m in members[1:]:
            if not (torch.equal(m.mean, self.mean) and torch.equal(m.inv_std, self.inv_std)):
                raise ValueError("ensemble members must share the feature standardisation")
        self.nets = nn.ModuleList([m.net for m in members])
        mix = torch.as_tensor(np.asarray(weights, np.float32))
        if mix.shape[0] != len(members) or mix.dim() > 2 or (mix < 0).any() or (mix.sum(0) <= 0).any():
            raise ValueError("ensemble weights: one non-negative weight (or one row per channel) per member")
        self.register_buffer("mix", mix / mix.sum(0, keepdim=True))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = (features - self.mean) * self.inv_std
        y = sum(self.mix[i] * torch.sigmoid(net(x)) for i, net in enumerate(self.nets))
        return torch.cat([y, torch.zeros_like(y[:, :1])], dim=1)


def load_arm(path, hidden: tuple[int, ...]) -> nn.Module:
    """A saved arm (arm_<name>.pt): a Generator, or an Ensemble of them (its state has "mix"), in eval mode."""
    state = torch.load(path, weights_only=True)
    blank = (np.zeros(FEATURE_SIZE, np.float32), np.ones(FEATURE_SIZE, np.float32), tuple(hidden))
    if "mix" in state:
        model: nn.Module = Ensemble([Generator(*blank) for _ in range(len(state["mix"]))], state["mix"].numpy())
    else:
        model = Generator(*blank)
    model.load_state_dict(state)
    return model.eval()
