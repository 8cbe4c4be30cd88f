"""Hessian and PCA directions, projected curvatures, and the landscape figures."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from spinlens.landscape import (
    hessian_eigs,
    hessian_trace,
    interpolate,
    orthonormalize,
    pca_directions,
    plots,
    projection_curvature,
    spectral_density,
    surface_1d,
    surface_2d,
)
from tests.landscape._landscape_models import DUMMY, Quadratic, identity_loss, planted

N = 40
LAM = np.r_[np.linspace(-1.0, 2.0, N - 2), [5.0, -3.0]]
A, Q = planted(LAM, seed=7)


def test_hessian_plane_of_a_quadratic_is_exact() -> None:
    """On L = 1/2 xᵀAx at x = 0 the Hessian plane is L(α e_max + β e_min) = (λ_max α² + λ_min β²)/2."""
    model = Quadratic(A, x0=np.zeros(N))
    s = surface_2d(model, identity_loss, DUMMY, "hessian", n_points=5, span=(-1.0, 1.0), rng=0, device="cpu")
    np.testing.assert_allclose(s.curvatures, [5.0, -3.0], atol=1e-8)
    al, be = np.meshgrid(s.alphas, s.betas, indexing="ij")
    np.testing.assert_allclose(s.loss, 0.5 * (5.0 * al**2 - 3.0 * be**2), atol=1e-9)
    line = surface_1d(model, identity_loss, DUMMY, "hessian", n_points=5, rng=0, device="cpu")
    np.testing.assert_allclose(line.loss, 0.5 * 5.0 * line.alphas**2, atol=1e-9)


def test_projected_curvatures_hessian_vs_random_plane() -> None:
    model = Quadratic(A)
    eigs = hessian_eigs(model, identity_loss, DUMMY, k=1, which="both", tol=1e-12, rng=0, device="cpu")
    hp = projection_curvature(model, identity_loss, DUMMY, directions=eigs.eigenvectors, device="cpu")
    np.testing.assert_allclose(hp.principal_curvatures, [-3.0, 5.0], atol=1e-8)
    assert hp.kind == "saddle" and hp.lambda_min == pytest.approx(-3.0, abs=1e-8)
    g = np.random.default_rng(0)
    rp = projection_curvature(model, identity_loss, DUMMY, directions=g.standard_normal((2, N)),
                              extremes=(-3.0, 5.0), device="cpu")
    # Cauchy interlacing: inside [lambda_min, lambda_max], and much closer to the mean eigenvalue than the ends
    assert -3.0 <= rp.principal_curvatures[0] <= rp.principal_curvatures[1] <= 5.0
    assert np.all(np.abs(rp.principal_curvatures - LAM.mean()) < 2.5)


def test_pca_recovers_a_planar_trajectory() -> None:
    g = np.random.default_rng(2)
    u, v = orthonormalize([g.standard_normal(50), g.standard_normal(50)])
    t = np.linspace(0.0, 1.0, 12)
    a, b = 3.0 * (1 - t), np.sin(3 * t) * (1 - t)
    end = g.standard_normal(50)
    traj = end + a[:, None] * u + b[:, None] * v
    pca = pca_directions(traj)
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(pca.origin, end)
    # the plane is spanned: the coordinates reconstruct every point exactly
    np.testing.assert_allclose(end + pca.coordinates @ pca.directions, traj, atol=1e-12)
    np.testing.assert_allclose(np.abs(pca.directions @ np.stack([u, v]).T).sum(1) >= 1 - 1e-12, True)
    with pytest.raises(ValueError, match="too short"):
        pca_directions(traj[:2])


def test_trajectory_projection_on_the_plane() -> None:
    model = Quadratic(A, x0=np.zeros(N))
    g = np.random.default_rng(3)
    d = orthonormalize([g.standard_normal(N), g.standard_normal(N)])
    coords = g.standard_normal((6, 2))
    s = surface_2d(model, identity_loss, DUMMY, d, n_points=3, trajectory=coords @ d, device="cpu")
    np.testing.assert_allclose(s.trajectory, coords, atol=1e-10)


def _mlp(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()


def test_figures_build() -> None:
    model = Quadratic(A, x0=np.zeros(N))
    eigs = hessian_eigs(model, identity_loss, DUMMY, k=2, which="both", rng=0, device="cpu")
    dens = spectral_density(model, identity_loss, DUMMY, n_steps=20, n_vectors=2, rng=0, device="cpu")
    s_h = surface_2d(model, identity_loss, DUMMY, "hessian", n_points=5, rng=0, device="cpu")
    s_r = surface_2d(model, identity_loss, DUMMY, "unit", n_points=5, rng=0, device="cpu")
    X = torch.randn(20, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    interp = interpolate(_mlp(0), _mlp(1), torch.nn.functional.cross_entropy, (X, y), n_points=5, align=True,
                         device="cpu")
    figs = [
        plots.plot_spectrum(dens, eigs),
        plots.plot_planes([s_r, s_h], ["random", "Hessian"]),
        plots.plot_contour(s_h),
        plots.plot_surface3d(s_h),
        plots.plot_interpolation(interp),
        plots.plot_line({"hessian": surface_1d(model, identity_loss, DUMMY, "hessian", n_points=5, rng=0,
                                               device="cpu")}),
    ]
    for f in figs:
        assert isinstance(f, Figure) and f.axes
    # negative eigenvalues are drawn in their own colour, so the sign is visible
    colours = {tuple(line.get_color()) if not isinstance(line.get_color(), str) else line.get_color()
               for line in figs[0].axes[0].get_lines()[1:]}
    assert len(colours) == 2


def test_trace_standard_error_is_calibrated() -> None:
    """z = (estimate − tr A)/se over independent seeds has unit spread (the error bar is honest)."""
    z = []
    for seed in range(30):
        est = hessian_trace(Quadratic(A), identity_loss, DUMMY, method="hutchinson", n_matvec=24, rng=seed,
                            device="cpu").trace
        z.append((est.mean - LAM.sum()) / est.error)
    z = np.asarray(z)
    assert 0.6 < z.std() < 1.6
    assert abs(z.mean()) < 3 / np.sqrt(len(z)) * 1.6
