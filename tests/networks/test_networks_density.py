"""The bond-matrix density against its shuffled null, outliers, tail mass and localisation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spinlens.networks import mlp, spin_graph
from spinlens.networks.density import bond_density


def _spiked(theta: float):
    net = mlp((400, 300, 200), rng=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        u, v = torch.randn(300, generator=g), torch.randn(400, generator=g)
        net[0].weight.add_(theta * torch.outer(u, v) / (u.norm() * v.norm()))
    return spin_graph(net)


def test_a_planted_spike_is_one_outlier_beyond_the_null_edge_and_lives_in_its_two_layers():
    g = _spiked(3.0)
    d = bond_density(g, rng=0)
    J = g.model.dense_J()
    lam = np.linalg.eigvalsh(J)
    assert d.top_eigenvalues[0] == pytest.approx(lam[-1], rel=1e-8)
    assert d.n_outliers == 1 and d.null_edge < d.top_eigenvalues[0] / 2
    # the spike's eigenvector: half its weight on the input layer, half on the first hidden layer
    np.testing.assert_allclose(d.layer_share[0][:2], [0.5, 0.5], atol=0.03)
    assert d.ipr[0] < 20 / g.n_spins  # delocalised over its two layers (1/n scale)
    # densities are normalised and their second moments are tr(J^2)/n (SLQ with 4 vectors: within 10%)
    dx = d.grid[1] - d.grid[0]
    assert np.sum(d.density) * dx == pytest.approx(1.0, abs=1e-3)
    assert np.sum(d.null_density) * dx == pytest.approx(1.0, abs=1e-3)
    m2 = np.sum(d.grid**2 * d.density) * dx
    assert m2 == pytest.approx(np.mean(lam**2), rel=0.1)
    assert 0 < d.tail_mass < 5 / g.n_spins  # one eigenvalue (broadened) beyond the null edge


def test_no_spike_no_outlier():
    d = bond_density(_spiked(0.0), rng=0)
    assert d.n_outliers == 0 and d.top_eigenvalues[0] == pytest.approx(d.null_edge, rel=0.05)


def test_bad_input():
    with pytest.raises(ValueError):
        bond_density(_spiked(0.0), k=0)
    with pytest.raises(ValueError):
        bond_density(_spiked(0.0), n_steps=1)
