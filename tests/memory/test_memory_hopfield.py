"""Hopfield memories: capacity (AGS), pseudo-inverse storage, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.memory import alpha_c, capacity_experiment, hopfield, retrieve


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
