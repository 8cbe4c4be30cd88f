"""The dynamic-neuron ensemble at beta > 0 (issue 19, item 3): the network limit, equipartition, the translational
symmetry along depth, and a chi-square test of the HMC sampler against the exact density on a grid."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from spinlens.criticality import dynamic_neuron_terms, forward_pass, sample_dynamic_ensemble


def _chain(width: int, depth: int, gain: float, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Identical layers W^m = gain * (an orthogonal matrix), b^m = b."""
    g = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(g.normal(size=(width, width)))
    b = g.normal(0.0, 0.2, width)
    return [gain * Q] * depth, [b] * depth


def test_large_lambda_recovers_the_forward_pass() -> None:
    g = np.random.default_rng(0)
    X = g.normal(size=(4, 3))
    Y = g.normal(size=(4, 2))
    Ws = [g.normal(0, 0.6, (3, 3)), g.normal(0, 0.6, (2, 3))]
    bs = [g.normal(0, 0.2, 3), g.normal(0, 0.2, 2)]
    fw = np.concatenate([a.ravel() for a in forward_pass(X, Ws, bs, "tanh")[1:]])
    scaled = []
    for lam in (1e2, 1e4, 1e6):
        r = sample_dynamic_ensemble(X, Y, Ws, bs, "tanh", lam=lam, beta=2.0, learn_params=False, n_samples=300,
                                    n_burn=150, rng=1)
        scaled.append(r.deviation * lam)  # mean squared distance from the forward pass ~ 1/lam
        if lam == 1e6:
            assert np.max(np.abs(r.neuron_mean - fw)) < 2e-3
            assert np.all(r.deviation < 1e-5)
    scaled_a = np.array(scaled)
    assert np.all((scaled_a > 0.3) & (scaled_a < 5.0)), scaled_a
    assert np.allclose(scaled_a[1], scaled_a[2], rtol=0.5)  # the 1/lam law has set in


def test_equipartition_at_beta_zero() -> None:
    """At beta = 0 (fixed W, b) each h^(m+1) given h^(m) is Gaussian: <coupling_m> = P n_(m+1) / 2 exactly."""
    Ws, bs = _chain(3, 3, 0.9, seed=2)
    X = np.random.default_rng(3).normal(size=(2, 3))
    r = sample_dynamic_ensemble(X, np.zeros((2, 3)), Ws, bs, "tanh", lam=10.0, beta=0.0, learn_params=False,
                                n_samples=1500, n_burn=300, rng=4)
    z = (r.coupling - 2 * 3 / 2) / r.coupling_error
    assert np.all(np.abs(z) < 4), (r.coupling, r.coupling_error)
    assert np.all(r.tau_int < 10) and 0.5 < r.acceptance < 0.98


def test_translational_symmetry_of_the_energy() -> None:
    """Shifting a configuration of identical layers by one layer changes only the boundary terms."""
    depth, width, P = 6, 3, 4
    Ws, bs = _chain(width, depth, 0.8, seed=5)
    g = np.random.default_rng(6)
    h = [g.normal(size=(P, width)) for _ in range(depth + 1)]
    Y = g.normal(size=(P, width))
    shifted = [g.normal(size=(P, width)), *h[:-1]]  # h'^(m+1) = h^(m), a new input h'^(0)
    c, loss = dynamic_neuron_terms(h, Y, Ws, bs, "tanh", lam=3.0, beta=1.5)
    cs, loss_s = dynamic_neuron_terms(shifted, Y, Ws, bs, "tanh", lam=3.0, beta=1.5)
    assert np.array_equal(cs[1:], c[:-1])  # the bulk is invariant, term by term
    bulk_change = float(np.sum(cs) + loss_s - np.sum(c) - loss)
    boundary = float(cs[0] - c[-1] + loss_s - loss)
    assert bulk_change == pytest.approx(boundary, abs=1e-12)
    # negative control: layers that are not identical break the symmetry
    Wd = [W * (1 + 0.1 * m) for m, W in enumerate(Ws)]
    c2, _ = dynamic_neuron_terms(h, Y, Wd, bs, "tanh", lam=3.0, beta=1.5)
    cs2, _ = dynamic_neuron_terms(shifted, Y, Wd, bs, "tanh", lam=3.0, beta=1.5)
    assert not np.allclose(cs2[1:], c2[:-1])


def test_translational_symmetry_in_the_ensemble() -> None:
    """Identical contracting layers at beta > 0: the output pull is a boundary effect. The layers far from the output
    keep the bulk value P n / 2 of every coupling term; the last one does not."""
    Ws, bs = _chain(2, 6, 0.5, seed=7)
    X = np.array([[0.3, -0.2]])
    Y = np.array([[2.5, -2.5]])  # far from what the network outputs
    r = sample_dynamic_ensemble(X, Y, Ws, bs, "tanh", lam=4.0, beta=3.0, learn_params=False, n_samples=1500,
                                n_burn=300, rng=8)
    z = (r.coupling - 1.0) / r.coupling_error  # P n / 2 = 1
    assert np.all(np.abs(z[:3]) < 4), (r.coupling, r.coupling_error)
    assert abs(z[-1]) > 6, (r.coupling, r.coupling_error)


def _chi2_pvalue(samples: np.ndarray, density: np.ndarray, edges: list[np.ndarray]) -> float:
    """Pearson chi-square of 2-D samples against grid cell probabilities summed into the bins (< 5 pooled)."""
    counts, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=edges)
    n = samples.shape[0]
    expected = n * density
    inside = counts.sum()
    small = expected < 5
    O = np.concatenate([counts[~small], [counts[small].sum() + (n - inside)]])
    E = np.concatenate([expected[~small], [expected[small].sum() + n - expected.sum()]])
    keep = E > 0
    stat = float(np.sum((O[keep] - E[keep]) ** 2 / E[keep]))
    return float(chi2.sf(stat, keep.sum() - 1))


def _bin_mass(logp: np.ndarray, axes: list[np.ndarray], edges: list[np.ndarray], sum_axes: tuple[int, ...] = ()
              ) -> np.ndarray:
    p = np.exp(logp - logp.max())
    p /= p.sum()
    if sum_axes:
        p = p.sum(axis=sum_axes)
    ia = np.digitize(axes[0], edges[0]) - 1
    ib = np.digitize(axes[1], edges[1]) - 1
    out = np.zeros((edges[0].size - 1, edges[1].size - 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = p[np.ix_(ia == i, ib == j)].sum()
    return out


def test_sampler_chi_square_fixed_parameters() -> None:
    """Two neurons (h1, h2) of a 1-1-1 network with fixed W, b: the exact density on a fine grid."""
    W = [np.array([[1.2]]), np.array([[0.9]])]
    b = [np.array([0.1]), np.array([-0.2])]
    x, y, lam, beta = 0.8, 0.5, 4.0, 1.0
    r = sample_dynamic_ensemble([x], [y], W, b, "tanh", lam=lam, beta=beta, learn_params=False, n_samples=4000,
                                n_burn=400, n_leapfrog=6, keep_trace=True, rng=0)
    thin = int(np.ceil(2 * r.tau_int.max()))
    S = r.trace[::thin]
    grid = np.linspace(-2.5, 3.5, 1201)
    A, B = np.meshgrid(grid, grid, indexing="ij")

    def logp(lam_: float) -> np.ndarray:
        return -(beta * (y - B) ** 2 + 0.5 * lam_ * (A - np.tanh(1.2 * x + 0.1)) ** 2
                 + 0.5 * lam_ * (B - np.tanh(0.9 * A - 0.2)) ** 2)

    edges = [np.linspace(-0.8, 2.4, 11), np.linspace(-1.2, 2.0, 11)]
    assert _chi2_pvalue(S, _bin_mass(logp(lam), [grid, grid], edges), edges) > 1e-3
    assert _chi2_pvalue(S, _bin_mass(logp(1.3 * lam), [grid, grid], edges), edges) < 1e-3  # the test has power


def test_sampler_chi_square_learned_parameters() -> None:
    """One neuron h1 and the weight W of a 1-1 network, with the bias b integrated out exactly on the grid."""
    x, y, lam, beta, sw2, sb2 = 0.8, 0.5, 4.0, 1.0, 1.0, 0.5
    r = sample_dynamic_ensemble([x], [y], [np.array([[0.3]])], [np.array([0.0])], "tanh", lam=lam, beta=beta,
                                sigma_w2=sw2, sigma_b2=sb2, n_samples=4000, n_burn=400, n_leapfrog=6,
                                keep_trace=True, rng=1)
    thin = int(np.ceil(2 * r.tau_int.max()))
    S = r.trace[::thin][:, :2]  # (h1, W); b is the third coordinate
    h = np.linspace(-2.5, 3.0, 221)
    w = np.linspace(-4.5, 4.5, 221)
    bb = np.linspace(-3.5, 3.5, 141)
    Hh, Ww, Bb = np.meshgrid(h, w, bb, indexing="ij")
    lp = -(beta * (y - Hh) ** 2 + 0.5 * lam * (Hh - np.tanh(Ww * x + Bb)) ** 2 + 0.5 * Ww ** 2 / sw2
           + 0.5 * Bb ** 2 / sb2)
    edges = [np.linspace(-0.8, 1.8, 9), np.linspace(-2.5, 2.5, 9)]
    assert _chi2_pvalue(S, _bin_mass(lp, [h, w], edges, sum_axes=(2,)), edges) > 1e-3
    assert r.learn_params and r.trace.shape[1] == 3
