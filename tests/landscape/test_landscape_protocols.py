"""Spin-glass protocols: random walks, ultrametricity, sharpness, edge of stability (slow)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spinlens.landscape.protocols import cluster_solutions, edge_of_stability, random_walk, sharpness
from tests.landscape._landscape_models import DUMMY, Quadratic, identity_loss


def test_random_walk_on_quadratic_follows_mean_curvature() -> None:
    n = 200
    lam = np.linspace(0.5, 1.5, n)
    res = random_walk(Quadratic(np.diag(lam), x0=np.zeros(n)), identity_loss, DUMMY, n_steps=20, step_size=0.5,
                      n_walkers=3, rng=0, device="cpu")
    # L = 1/2 sum lam_i x_i^2 ~ 1/2 mean(lam) r^2 for an isotropic position
    pred = 0.5 * lam.mean() * res.distance**2
    np.testing.assert_allclose(res.loss[:, 1:], pred[:, 1:], rtol=0.35)
    np.testing.assert_allclose(res.distance[:, -1], 0.5 * np.sqrt(20), rtol=0.4)


def test_ultrametric_tree_is_detected() -> None:
    g = np.random.default_rng(0)
    n = 500
    centres = g.standard_normal((3, n)) * 10
    pts = np.vstack([c + g.standard_normal((4, n)) * 0.5 for c in centres])
    res = cluster_solutions(pts)
    assert res.mean_ratio < 0.1
    assert res.cophenetic > 0.95
    flat = cluster_solutions(g.standard_normal((4, 3)))  # 4 points in 3-D: far from ultrametric
    assert flat.mean_ratio > res.mean_ratio


def test_sharpness_sam_on_quadratic() -> None:
    lam = np.array([4.0, 1.0, 0.5])
    x0 = np.zeros(3)
    x0[1] = 1e-3  # gradient points along the second axis only
    s = sharpness(Quadratic(np.diag(lam), x0=x0), identity_loss, DUMMY, rho=0.1, kind="sam", device="cpu")
    assert s == pytest.approx(0.5 * 1.0 * (0.1 + 1e-3) ** 2 - 0.5 * 1e-6, rel=1e-6)
    r = sharpness(Quadratic(np.diag(lam), x0=np.zeros(3)), identity_loss, DUMMY, rho=0.1, kind="random",
                  n_directions=200, rng=0, device="cpu")
    assert 0.5 * 0.5 * 0.01 <= r <= 0.5 * 4.0 * 0.01 + 1e-12


@pytest.mark.slow
def test_edge_of_stability_full_batch_gd() -> None:
    from spinlens.data import load_digits

    ds = load_digits(n_samples=200)
    X = torch.as_tensor(ds.X, dtype=torch.float64)
    Y = torch.nn.functional.one_hot(torch.as_tensor(ds.y), 10).double()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).double()
    lr = 0.15

    def mse(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((out - t) ** 2).sum(1).mean()

    eos = edge_of_stability(net, mse, (X, Y), lr=lr, n_steps=1200, eig_every=40, device="cpu")
    assert eos.lambda_max[0] < 0.8 * eos.threshold  # it has to rise (progressive sharpening)
    assert abs(eos.settled_ratio(0.3) - 1.0) < 0.05


def test_sharpness_vs_error_matches_its_parts() -> None:
    from spinlens.landscape import sharpness_vs_error

    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 3, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    Xt = torch.randn(40, 3, generator=g, dtype=torch.float64)
    yt = (Xt[:, 0] > 0).long()
    models = []
    for angle in (0.0, 0.6, 1.2, 1.5):  # classifiers rotated away from the true boundary: growing test error
        m = nn.Linear(3, 2).double()
        w = [np.cos(angle), np.sin(angle), 0.0]
        with torch.no_grad():
            m.weight.copy_(torch.tensor([[-v for v in w], w], dtype=torch.float64) * 2.0)
            m.bias.zero_()
        models.append(m)
    loss = nn.functional.cross_entropy
    res = sharpness_vs_error(models, loss, (X, y), (Xt.numpy(), yt.numpy()), rho=0.05)
    for m, s, e, tl in zip(models, res.sharpness, res.test_error, res.train_loss, strict=True):
        assert s == pytest.approx(sharpness(m, loss, (X, y), 0.05), rel=1e-12)
        with torch.no_grad():
            assert e == pytest.approx(float((m(Xt).argmax(1) != yt).double().mean()))
            assert tl == pytest.approx(float(loss(m(X), y)))
    from scipy.stats import spearmanr

    assert res.test_error[-1] > res.test_error[0]
    assert res.spearman == pytest.approx(float(spearmanr(res.sharpness, res.test_error)[0]))
