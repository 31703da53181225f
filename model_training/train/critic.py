"""The seed paper's adversarial regulariser: a WGAN-GP critic on weight vectors."""

from __future__ import annotations

import torch
from torch import nn

from .config import TRAINED


class Critic(nn.Module):
    """WGAN critic on 51-d weight vectors: does this look like an expression from the prior?"""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(len(TRAINED), hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.net(w)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    eps = torch.rand(len(real), 1)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)[0]
    return ((grad.norm(dim=1) - 1) ** 2).mean()
