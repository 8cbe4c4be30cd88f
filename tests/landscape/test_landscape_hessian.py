"""Hessian operators against quadratics and L = 1/2 (w1 w2 − 1)² with known spectra."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spinlens.landscape import (
    HessianOperator,
    curvature_fd,
    hessian_eigs,
    hessian_trace,
    spectral_density,
)
from tests.landscape._landscape_models import DUMMY, Product, Quadratic, identity_loss, planted

N = 120
LAM = np.concatenate([np.linspace(-2.0, 3.0, N - 3), [7.0, 9.0, -4.5]])
A, _ = planted(LAM)


@pytest.mark.parametrize("backend", ["double_backward", "forward_over_reverse"])
def test_hvp_equals_Av(backend: str) -> None:
    op = HessianOperator(Quadratic(A), identity_loss, DUMMY, backend=backend, device="cpu")
    V = np.random.default_rng(1).standard_normal((3, N))
    np.testing.assert_allclose(op.matvec(torch.as_tensor(V)).numpy(), V @ A, atol=1e-12)
    np.testing.assert_allclose(op.matvec(torch.as_tensor(V[0])).numpy(), A @ V[0], atol=1e-12)


@pytest.mark.parametrize("which", ["top", "bottom", "both"])
def test_lanczos_extremes(which: str) -> None:
    res = hessian_eigs(Quadratic(A), identity_loss, DUMMY, k=2, which=which, tol=1e-12, rng=0, device="cpu")
    srt = np.sort(LAM)
    want = {"top": srt[::-1][:2], "bottom": srt[:2], "both": np.r_[srt[::-1][:2], srt[:2]]}[which]
    np.testing.assert_allclose(res.eigenvalues, want, atol=1e-8)
    # signed: bottom means most negative, not smallest |lambda|
    if which == "bottom":
        assert res.eigenvalues[0] == pytest.approx(-4.5, abs=1e-8)
    for lam, v in zip(res.eigenvalues, res.eigenvectors, strict=False):
        np.testing.assert_allclose(A @ v, lam * v, atol=1e-6)


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
def test_trace_within_standard_error(method: str) -> None:
    exact = LAM.sum()
    inside = 0
    for seed in range(6):
        est = hessian_trace(Quadratic(A), identity_loss, DUMMY, method=method, n_matvec=60, rng=seed,
                            device="cpu").trace
        assert est.error > 0
        inside += abs(est.mean - exact) <= 3 * est.error
    assert inside >= 5


def test_hutchpp_beats_hutchinson_on_low_rank_spectrum() -> None:
    lam = np.r_[np.full(5, 50.0), np.full(N - 5, 0.1)]
    A2, _ = planted(lam, seed=3)
    hp = hessian_trace(Quadratic(A2), identity_loss, DUMMY, method="hutch++", n_matvec=60, rng=0, device="cpu")
    hu = hessian_trace(Quadratic(A2), identity_loss, DUMMY, method="hutchinson", n_matvec=60, rng=0, device="cpu")
    assert hp.trace.error < 0.2 * hu.trace.error
    assert hp.trace.within(lam.sum())


def test_slq_density_matches_histogram() -> None:
    n = 400
    g = np.random.default_rng(5)
    lam = np.r_[g.normal(0.0, 1.0, n - 10), g.normal(6.0, 0.3, 10)]
    A3, _ = planted(lam, seed=2)
    sd = spectral_density(Quadratic(A3), identity_loss, DUMMY, n_steps=50, n_vectors=16, sigma=0.3, rng=0,
                          device="cpu")
    # the broadened exact spectrum
    z = (sd.grid[:, None] - lam[None, :]) / sd.sigma
    exact = np.exp(-0.5 * z**2).sum(1) / (n * sd.sigma * np.sqrt(2 * np.pi))
    dt = sd.grid[1] - sd.grid[0]
    assert np.sum(sd.density) * dt == pytest.approx(1.0, abs=0.02)
    assert np.sum(np.abs(sd.density - exact)) * dt < 0.1
    # and the histogram itself: mass in [-4, 4] vs the outlier bump
    bulk = np.sum(sd.density[(sd.grid > -4) & (sd.grid < 4)]) * dt
    assert bulk == pytest.approx(np.mean(np.abs(lam) < 4), abs=0.05)
    assert sd.moment(1) == pytest.approx(lam.mean(), abs=0.15)


@pytest.mark.parametrize(
    ("point", "eigs"),
    [((0.0, 0.0), (-1.0, 1.0)), ((1.0, 1.0), (0.0, 2.0)), ((2.0, 0.5), (0.0, 4.25))],
)
def test_product_loss_hessian(point: tuple[float, float], eigs: tuple[float, float]) -> None:
    res = hessian_eigs(Product(*point), identity_loss, DUMMY, k=2, which="top", device="cpu", rng=0)
    np.testing.assert_allclose(np.sort(res.eigenvalues), eigs, atol=1e-10)
    low = hessian_eigs(Product(*point), identity_loss, DUMMY, k=1, which="bottom", device="cpu", rng=0)
    assert low.eigenvalues[0] == pytest.approx(eigs[0], abs=1e-10)


def test_forward_only_curvature_matches_trace() -> None:
    res = curvature_fd(Quadratic(A), identity_loss, DUMMY, n_directions=400, eps=1e-3, rng=0, device="cpu")
    assert res.trace.within(LAM.sum(), 4)
    # each curvature is exact u^T A u for a quadratic
    assert np.all(res.curvatures <= LAM.max() + 1e-6) and np.all(res.curvatures >= LAM.min() - 1e-6)


def test_per_layer_restriction_and_float64() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    X, y = torch.randn(30, 5), torch.randint(0, 2, (30,))
    loss = torch.nn.functional.cross_entropy
    Xd, b0, W2, b2 = X.double(), net[0].bias.double(), net[2].weight.double(), net[2].bias.double()

    def loss_of_w1(w: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(torch.nn.functional.linear(Xd, w.view(4, 5), b0))
        return loss(torch.nn.functional.linear(h, W2, b2), y)

    full = torch.autograd.functional.hessian(loss_of_w1, net[0].weight.detach().double().reshape(-1))
    res = hessian_eigs(net, loss, (X, y), k=3, which="both", params="0.weight", dtype=torch.float64,
                       device="cpu", rng=0, max_iter=20)
    ev = np.linalg.eigvalsh(full.numpy())
    np.testing.assert_allclose(res.eigenvalues[:3], ev[::-1][:3], atol=1e-9)
    np.testing.assert_allclose(res.eigenvalues[3:], ev[:3], atol=1e-9)
    assert res.n_params == 20


def test_dataloader_equals_tensors() -> None:
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    X, y = torch.randn(40, 6, dtype=torch.float64), torch.randint(0, 3, (40,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=10)
    loss = torch.nn.functional.cross_entropy
    v = torch.randn(sum(p.numel() for p in net.parameters()), dtype=torch.float64)
    a = HessianOperator(net, loss, (X, y), device="cpu").matvec(v)
    b = HessianOperator(net, loss, loader, device="cpu").matvec(v)
    c = HessianOperator(net, loss, loader, device="cpu", backend="forward_over_reverse").matvec(v)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
