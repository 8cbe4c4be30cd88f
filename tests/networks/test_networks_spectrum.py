"""Spectra: random-matrix edge, BBP outliers, weight motion, power-law fit."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.networks.experiment import fit_power_law
from spinlens.networks.spectrum import bbp_threshold, bulk_edge, extreme_eigenvalues, relative_change, spectrum


def test_bulk_edge_and_bbp_outliers():
    g = np.random.default_rng(0)
    n, m, s = 400, 200, 0.05
    W = g.normal(0, s, size=(n, m))
    r = spectrum([W.T])
    assert r.top_ratio[0] == pytest.approx(1.0, abs=0.05)
    assert r.outliers[0] == 0
    u, v = g.normal(size=n), g.normal(size=m)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    strong = W + 2.0 * bbp_threshold(n, m, s) * np.outer(u, v)
    weak = W + 0.5 * bbp_threshold(n, m, s) * np.outer(u, v)
    assert spectrum([strong.T], [W.T]).outliers[0] == 1
    assert spectrum([weak.T], [W.T]).outliers[0] == 0
    assert bulk_edge(n, m, s) == pytest.approx(s * (20 + np.sqrt(200)))


def test_bipartite_spectrum_is_symmetric_and_matches_svd():
    g = np.random.default_rng(1)
    W = g.normal(size=(30, 50))
    top, bot = extreme_eigenvalues([W], k=4)
    sv = np.linalg.svd(W, compute_uv=False)
    np.testing.assert_allclose(top, sv[:4], rtol=1e-8)
    np.testing.assert_allclose(bot, -sv[:4], rtol=1e-8)


def test_relative_change():
    W0 = [np.ones((2, 3)), np.ones((1, 2))]
    W = [2 * np.ones((2, 3)), np.ones((1, 2))]
    np.testing.assert_allclose(relative_change(W, W0), [1.0, 0.0])
    with pytest.raises(ValueError):
        relative_change([np.ones((3, 3))], W0)


def test_power_law_fit_recovers_exponent():
    g = np.random.default_rng(2)
    t = np.geomspace(10, 1e4, 15)
    y = 0.7 * t**0.3 * np.exp(g.normal(0, 0.02, t.size))
    f = fit_power_law(t, y)
    assert f.exponent_ci[0] < 0.3 < f.exponent_ci[1]
    assert abs(f.exponent - 0.3) < 0.02 and f.n_points == 15
    f2 = fit_power_law(np.r_[0, t], np.r_[1.0, y], t_range=(100, 1e4))
    assert f2.t_start >= 100 and f2.n_points < 15
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1, 2], [1, 2])
