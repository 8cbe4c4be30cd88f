"""Bad input gets a clear error."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from spinlens.landscape import hessian_eigs, hessian_trace, surface_2d


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_no_trainable_parameters() -> None:
    net = _net().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        hessian_eigs(net, nn.functional.cross_entropy, (torch.randn(5, 4), torch.zeros(5, dtype=torch.long)))


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        hessian_trace(_net(), nn.functional.cross_entropy, (torch.randn(5, 7), torch.zeros(5, dtype=torch.long)))
    with pytest.raises(ValueError, match="disagree in length"):
        hessian_trace(_net(), nn.functional.cross_entropy, (torch.randn(5, 4), torch.zeros(6, dtype=torch.long)))


def test_non_scalar_loss() -> None:
    loss = nn.CrossEntropyLoss(reduction="none")
    with pytest.raises(ValueError, match="scalar"):
        surface_2d(_net(), loss, (torch.randn(5, 4), torch.zeros(5, dtype=torch.long)), n_points=3)


def test_bad_options() -> None:
    data = (torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="which"):
        hessian_eigs(_net(), nn.functional.cross_entropy, data, which="largest")
    with pytest.raises(ValueError, match="backend"):
        hessian_eigs(_net(), nn.functional.cross_entropy, data, backend="magic")
    with pytest.raises(ValueError, match="selects none"):
        hessian_eigs(_net(), nn.functional.cross_entropy, data, params="7.weight")
