"""Hopfield memories: capacity (AGS), finite-T retrieval, pseudo-inverse and Storkey storage, basins, spurious
states, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.memory import (
    alpha_c,
    basins,
    capacity_experiment,
    classify_states,
    hopfield,
    retrieve,
    solve_ags,
    spurious_states,
)


def _patterns(P: int, N: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    return np.where(g.random((P, N)) < 0.5, 1, -1).astype(np.int8)


def test_below_capacity_retrieval_overlap_above_096() -> None:
    N = 1000
    X = _patterns(100, N, 0)  # alpha = 0.1 < alpha_c
    res = retrieve(hopfield(X), X[:20], rng=1)
    m = res.overlaps[np.arange(20), np.arange(20)]
    assert np.all(res.converged)
    assert m.min() > 0.96
    # the best pattern of each final state is the one we started from
    assert np.array_equal(res.best_pattern, np.arange(20))


@pytest.mark.slow
def test_hebbian_alpha_c_finite_size_extrapolation() -> None:
    assert alpha_c() == pytest.approx(0.1379, abs=5e-4)
    res = capacity_experiment((250, 500, 1000, 2000), n_tested=200, rng=0)
    # finite-size capacities decrease towards the thermodynamic limit
    assert np.all(np.diff(res.alpha_c_n) < 0)
    assert abs(res.alpha_c.mean - 0.138) < 0.01


def test_pseudo_inverse_stores_independent_patterns_exactly() -> None:
    N, P = 100, 60  # alpha = 0.6, far beyond the Hebbian capacity
    X = _patterns(P, N, 3)
    assert np.linalg.matrix_rank(X.astype(float)) == P
    model = hopfield(X, rule="pseudo-inverse")
    for mode in ("async", "sync"):
        res = retrieve(model, X, mode=mode, rng=0)
        assert np.all(res.converged)
        assert np.array_equal(res.state, X)
    # local fields are aligned with every pattern bit: exact fixed points
    assert np.all(model.local_field(X) * X > 0)
    # Hebb fails at the same load
    hebb = retrieve(hopfield(X, rule="hebb"), X, rng=0)
    assert not np.array_equal(hebb.state, X)


@pytest.mark.parametrize("bad", [np.array([[0, 1, 1, 0], [1, 0, 1, 1]]), np.array([[0.5, 1, -1, 1]])])
def test_patterns_not_pm1_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="-1 and \\+1"):
        hopfield(bad)


def test_pseudo_inverse_rejects_p_not_below_n() -> None:
    X = _patterns(12, 10, 0)
    with pytest.raises(ValueError, match="at most N - 1"):
        hopfield(X, rule="pseudo-inverse")


def test_finite_temperature_retrieval_matches_ags_overlap() -> None:
    # retrieval at T > 0 runs through the Monte Carlo engine; the retrieval state's overlap is the AGS m(alpha, T)
    # (alpha = 0.02, T = 0.5 lies well inside the retrieval region, T_M(0.02) = 0.72; m_AGS = 0.945)
    N = 1000
    X = _patterns(20, N, 5)
    model = hopfield(X)
    m_ags = float(solve_ags(0.02, 0.5).m)
    for sampler in ("heatbath", "metropolis"):
        res = retrieve(model, X[:4], T=0.5, max_sweeps=100, rng=2, sampler=sampler)
        m = res.overlaps[np.arange(4), np.arange(4)]
        assert np.all(np.abs(m - m_ags) < 0.01), (sampler, m, m_ags)
    # above T_g = 1 + sqrt(alpha) the paramagnet forgets the pattern
    hot = retrieve(model, X[:4], T=1.5, max_sweeps=60, rng=3)
    assert np.all(np.abs(hot.overlaps) < 0.1)
    with pytest.raises(ValueError, match="sampler"):
        retrieve(model, X[0], T=0.3, sampler="wolff")  # type: ignore[arg-type]


def test_storkey_rule_matches_reference_and_beats_hebb() -> None:
    X = _patterns(4, 12, 7).astype(float)
    N = X.shape[1]
    W = np.zeros((N, N))
    for xi in X:  # Storkey (1997), literal loops: h_ij = sum_{k != i, j} w_ik xi_k
        H = np.array([[sum(W[i, k] * xi[k] for k in range(N) if k not in (i, j)) for j in range(N)]
                      for i in range(N)])
        W = W + (np.outer(xi, xi) - xi[:, None] * H.T - H * xi[None, :]) / N
        np.fill_diagonal(W, 0.0)
    assert np.allclose(hopfield(X.astype(np.int8), rule="storkey").J, W)
    # at alpha = 0.15 (above the Hebbian capacity) Storkey keeps every pattern a fixed point, Hebb does not
    Y = _patterns(30, 200, 8)
    stable = {r: np.mean(np.all(hopfield(Y, rule=r).local_field(Y) * Y > 0, axis=1)) for r in ("hebb", "storkey")}
    assert stable["storkey"] == 1.0 and stable["hebb"] < 0.6


def test_basins_of_attraction_low_load() -> None:
    X = _patterns(10, 500, 9)  # alpha = 0.02
    res = basins(hopfield(X), corruption=[0.0, 0.2, 0.35, 0.5], n_trials=30, rng=0)
    assert res.p_retrieval[0] == 1.0 and res.p_retrieval[1] == 1.0 and res.p_retrieval[2] > 0.8
    assert res.p_retrieval[3] < 0.3  # a random start rarely lands on the chosen target
    assert 0.35 <= res.basin_radius < 0.5


def test_spurious_mixture_states_are_found_and_classified() -> None:
    X = _patterns(3, 600, 10)
    model = hopfield(X)
    mix = np.sign(X.astype(int).sum(axis=0)).astype(np.int8)  # symmetric 3-mixture, overlaps 1/2 each
    assert classify_states(mix, X) == ("mixture-3",)
    res = retrieve(model, mix, rng=0)
    assert res.converged and np.array_equal(res.state, mix)  # a stable spurious attractor (AGS 1985)
    assert np.allclose(res.overlaps, 0.5, atol=0.08)
    found = spurious_states(model, n_starts=100, rng=0)
    assert found.counts.get("mixture-3", 0) > 5 and found.counts.get("retrieval", 0) > 5
    assert set(found.kinds) <= {"retrieval", "reversed", "mixture-3"}
