"""The fast stability curve (batched Lanczos, stencil refinement) against dense references.

A circular-padding CNN is translation invariant: J is block diagonal over wave vectors, and on these networks the
wave vector of the critical mode changes across the temperature range. A solver that stays in one wave-vector
sector (a warm start from another temperature's mode) returns the top of that sector only; the tests check that the
sector top of the high-temperature mode is far below the true top at low temperature, so such a solver fails them.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from spinlens.networks.phases import analyze, stability_curve
from spinlens.spins import IsingModel, sk

torch = pytest.importorskip("torch")
nn = torch.nn

from spinlens.networks import map_network  # noqa: E402


def _cnn(channels, pad, seed):
    torch.manual_seed(seed)
    mods: list = []
    for a, b in zip(channels[:-1], channels[1:], strict=True):
        mods += [nn.Conv2d(a, b, 3, padding=1, padding_mode=pad), nn.ReLU()]
    return nn.Sequential(*mods[:-1])


class _Dense:
    """Exact f(T) = T - lambda_max(J - D/T), its Hellmann-Feynman derivative and the landmarks, by LAPACK."""

    def __init__(self, model: IsingModel) -> None:
        self.J = model.dense_J()
        self.d = model.coupling_square_sums()
        self.lam = float(np.linalg.eigvalsh(self.J)[-1])

    def top(self, T: float) -> tuple[float, np.ndarray]:
        w, V = np.linalg.eigh(self.J - np.diag(self.d / T))
        return float(w[-1]), V[:, -1]

    def f(self, T: float) -> float:
        return T - self.top(T)[0]

    def fp(self, T: float) -> float:
        v = self.top(T)[1]
        return 1.0 - float(v @ (self.d * v)) / T**2

    def t_star(self, lo: float, hi: float) -> float:
        return float(brentq(self.fp, lo, hi, xtol=1e-14, rtol=1e-14))

    def zero(self, lo: float, hi: float) -> float:
        return float(brentq(self.f, lo, hi, xtol=1e-14, rtol=1e-14))


def _sector_tops(graph, T: float) -> dict[tuple[int, int], float]:
    """lambda_max of J - D/T in every wave-vector sector (layers of shape (C, L, L), circular padding)."""
    J, d = graph.model.dense_J(), graph.model.coupling_square_sums()
    L = graph.layers[0].shape[-1]
    F = np.fft.fft(np.eye(L)) / np.sqrt(L)
    F2 = np.kron(F, F)  # unitary 2-D DFT over (row, col), C order
    blocks = [np.kron(np.eye(layer.shape[0]), F2) for layer in graph.layers]
    n = J.shape[0]
    U = np.zeros((n, n), dtype=complex)
    for layer, B in zip(graph.layers, blocks, strict=True):
        U[layer.slice, layer.slice] = B
    H = U.conj().T @ (J - np.diag(d / T)) @ U
    out = {}
    for ky in range(L):
        for kx in range(L):
            k = ky * L + kx
            idx = np.concatenate([layer.offset + c * L * L + k + np.zeros(1, dtype=int)
                                  for layer in graph.layers for c in range(layer.shape[0])])
            out[(ky, kx)] = float(np.linalg.eigvalsh(H[np.ix_(idx, idx)])[-1])
    return out


# (channels, seed): a hidden-order and a glass circular CNN on 8x8 maps whose critical wave vector changes with T
CIRCULAR = [((2, 4, 4), 0, "hidden order"), ((1, 3, 3), 0, "spin glass")]


@pytest.mark.parametrize("channels, seed, phase", CIRCULAR)
def test_circular_cnn_curve_is_the_dense_curve_across_sector_crossings(channels, seed, phase):
    g = map_network(_cnn(channels, "circular", seed), (1, channels[0], 8, 8))
    ref = _Dense(g.model)
    t_hi = 1.05 * max(ref.lam, float(np.sqrt(ref.d.max())))
    T = np.geomspace(t_hi / 20, t_hi, 12)
    # the setting: the sector of the hot critical mode is far from the top at the cold end
    hot, cold = _sector_tops(g, T[-1]), _sector_tops(g, T[0])
    k_hot = max(hot, key=hot.get)
    k_cold = max(cold, key=cold.get)
    assert k_hot != k_cold
    assert max(cold.values()) == pytest.approx(ref.top(T[0])[0], abs=1e-10)  # the sector decomposition is exact
    assert max(cold.values()) - cold[k_hot] > 1e-3  # what a solver locked in the hot sector would be off by
    # all twelve temperatures in one batched solve
    c = stability_curve(g, T, refine=False)
    f_ref = np.array([ref.f(t) for t in T])
    scale = np.maximum(ref.lam, T)
    np.testing.assert_allclose(c.f, f_ref, rtol=0, atol=1e-8 * scale.max())
    assert c.lambda_max == pytest.approx(ref.lam, rel=1e-9)


@pytest.mark.parametrize("channels, seed, phase", CIRCULAR)
def test_circular_cnn_analyze_matches_tight_dense_landmarks(channels, seed, phase):
    g = map_network(_cnn(channels, "circular", seed), (1, channels[0], 8, 8))
    ref = _Dense(g.model)
    r = analyze(g, n_starts=0)
    assert r.phase == phase
    t_star = ref.t_star(r.t_star * 0.98, r.t_star * 1.02)
    assert r.t_star == pytest.approx(t_star, rel=1e-7)
    assert r.f_min == pytest.approx(ref.f(t_star), abs=1e-9)
    if phase == "hidden order":
        t_up = ref.zero(r.t_c * 0.99, r.t_c * 1.01)
        assert r.t_c == pytest.approx(t_up, rel=1e-8)
        assert r.t_lower == pytest.approx(ref.zero(r.t_lower * 0.99, r.t_lower * 1.01), rel=1e-8)
    else:
        assert r.t_c == r.t_star
    # every refinement temperature to rtol, every default-grid value to 1e-3 of its margin
    f_ref = np.array([ref.f(t) for t in r.temperatures])
    err = np.abs(r.stability - f_ref)
    assert err.max() <= 1e-3 * np.abs(f_ref).max()
    near = np.abs(np.log(r.temperatures / r.t_c)) < 0.05
    assert err[near].max() <= 1e-8 * max(ref.lam, r.t_c)
    # the critical mode lies in the dense top eigenspace at T_c (degenerate: +-k; it was formed within 1% of T_c)
    w, V = np.linalg.eigh(ref.J - np.diag(ref.d / r.t_c))
    top = V[:, w >= w[-1] - 1e-6]
    assert np.linalg.norm(top.T @ r.critical_mode) > 0.999


@pytest.mark.parametrize("J0, seed", [(2.5, 1), (1.6, 2)])
def test_fast_path_tc_equals_tight_dense_computation_hidden_order(J0, seed):
    """A small spiked SK model (n > 100: the Lanczos path): t_c, t_lower, t_star against brentq on LAPACK."""
    m = sk(400, J0=J0, rng=seed)
    ref = _Dense(m)
    c = stability_curve(m)
    assert np.isfinite(c.t_upper) and np.isfinite(c.t_lower)
    assert c.t_upper == pytest.approx(ref.zero(c.t_upper * 0.99, c.t_upper * 1.01), rel=1e-8)
    assert c.t_lower == pytest.approx(ref.zero(c.t_lower * 0.99, c.t_lower * 1.01), rel=1e-8)
    assert c.t_star == pytest.approx(ref.t_star(c.t_star * 0.98, c.t_star * 1.02), rel=1e-7)
    assert c.lambda_max == pytest.approx(ref.lam, rel=1e-9)
    # Hellmann-Feynman derivatives where the eigenvector was formed (default-grid vectors are as loose as their f)
    ok = np.isfinite(c.df)
    assert ok.any()
    np.testing.assert_allclose(c.df[ok], [ref.fp(t) for t in c.temperatures[ok]], rtol=1e-4, atol=1e-5)
    r = analyze(m, n_starts=0)
    assert r.phase == "hidden order" and r.t_c == c.t_upper


def test_zero_padded_cnn_with_dense_head_matches_dense():
    """No translation symmetry, a dense head: the generic sparse case."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                        nn.Linear(3 * 16, 12), nn.ReLU(), nn.Linear(12, 4))
    g = map_network(net, (1, 1, 8, 8))
    ref = _Dense(g.model)
    r = analyze(g, n_starts=0)
    assert r.lambda_max == pytest.approx(ref.lam, rel=1e-9)
    assert r.t_star == pytest.approx(ref.t_star(r.t_star * 0.98, r.t_star * 1.02), rel=1e-7)
    if r.phase == "hidden order":
        assert r.t_c == pytest.approx(ref.zero(r.t_c * 0.99, r.t_c * 1.01), rel=1e-8)


def test_mapped_model_is_the_validated_model():
    """map_network builds its IsingModel without the public checks: the public constructor gives the same J."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 25, 7)).eval()
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    g = map_network(net, (1, 2, 5, 5), bias_as_field=True)
    J = g.model.J
    pub = IsingModel(J.copy(), np.array(g.model.h), layers=g.model.layers)
    assert J.format == "csr" and J.has_sorted_indices and not J.data.flags.writeable
    np.testing.assert_array_equal(J.indptr, pub.J.indptr)
    np.testing.assert_array_equal(J.indices, pub.J.indices)
    np.testing.assert_array_equal(J.data, pub.J.data)
    assert abs(J - J.T).max() == 0 and np.all(J.diagonal() == 0) and np.all(J.data != 0)
    np.testing.assert_array_equal(g.model.h, pub.h)
    assert g.model.layers == pub.layers and not g.model.h.flags.writeable
    with pytest.raises(TypeError):
        IsingModel._trusted(J.toarray(), np.zeros(J.shape[0]))
