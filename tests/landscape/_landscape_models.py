"""Small models with exactly known Hessians for the landscape tests."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

DUMMY = (torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))


def identity_loss(out: torch.Tensor, _target: torch.Tensor) -> torch.Tensor:
    return out


class Quadratic(nn.Module):
    """L(x) = 1/2 xᵀAx: Hessian A everywhere."""

    def __init__(self, A: np.ndarray, x0: np.ndarray | None = None) -> None:
        super().__init__()
        self.register_buffer("A", torch.as_tensor(A, dtype=torch.float64))
        n = A.shape[0]
        self.x = nn.Parameter(torch.as_tensor(np.ones(n) if x0 is None else x0, dtype=torch.float64))

    def forward(self, _inp: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.x @ self.A @ self.x


def planted(eigenvalues: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(g.standard_normal((len(eigenvalues), len(eigenvalues))))
    return Q @ np.diag(eigenvalues) @ Q.T, Q


class Product(nn.Module):
    """L = 1/2 (w1 w2 − 1)²."""

    def __init__(self, w1: float, w2: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w1, w2], dtype=torch.float64))

    def forward(self, _inp: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.w[0] * self.w[1] - 1.0) ** 2
