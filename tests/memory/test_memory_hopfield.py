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
    extrapolate_alpha_c,
    fit_alpha_c,
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
    # every size's step lies inside the default loads 0.10..0.22, so all four enter the extrapolation
    assert res.alpha_c_n_flag == ("ok",) * 4 and res.notes == ()
    # finite-size capacities decrease towards the thermodynamic limit
    assert np.all(np.diff(res.alpha_c_n) < 0)
    assert abs(res.alpha_c.mean - 0.138) < 0.01


def test_alpha_c_outside_the_scanned_loads_is_flagged_not_returned() -> None:
    # N = 100 still retrieves 90 % of its patterns at the largest load 0.2, so its alpha_c(N) lies above the grid
    # (the logistic fit would put it near 0.29, far outside 0.05..0.2); with only two sizes resolved there is no
    # extrapolation either, instead of a number from two points with a meaningless error bar
    res = capacity_experiment((100, 200, 400), alphas=[0.05, 0.1, 0.15, 0.2], n_tested=20, rng=0)
    assert res.alpha_c_n_flag == ("above", "ok", "ok")
    assert res.resolved.tolist() == [False, True, True]
    assert np.isnan(res.alpha_c_n[0]) and np.isnan(res.alpha_c_n_error[0])
    assert np.all((res.alpha_c_n[1:] >= 0.05) & (res.alpha_c_n[1:] <= 0.2))
    assert np.isnan(res.alpha_c.mean) and np.isnan(res.alpha_c.error) and np.isnan(res.slope)
    assert any("N=100" in n and "above the scanned loads" in n and "extend alphas beyond 0.2" in n
               for n in res.notes)
    assert any("no finite-size extrapolation" in n and "got 2" in n for n in res.notes)
    assert "notes" in res.to_dict() and res.to_dict()["alpha_c_n_flag"] == ["above", "ok", "ok"]


def test_fit_alpha_c_refuses_a_step_outside_the_loads() -> None:
    a = [0.1, 0.15, 0.2, 0.25]
    ac, err = fit_alpha_c(a, [1.0, 0.9, 0.2, 0.0], 100)
    assert 0.15 < ac < 0.2 and 0 < err < 0.05
    with pytest.raises(ValueError, match="above the scanned loads.*extend alphas beyond 0.25"):
        fit_alpha_c(a, [1.0, 1.0, 0.95, 0.8], 100)
    with pytest.raises(ValueError, match="below the scanned loads.*extend alphas below 0.1"):
        fit_alpha_c(a, [0.4, 0.1, 0.0, 0.0], 100)
    with pytest.raises(ValueError, match="three increasing loads"):
        fit_alpha_c([0.1, 0.2], [1.0, 0.0], 100)


def test_extrapolation_needs_three_sizes_and_recovers_ags() -> None:
    # synthetic alpha_c(N) = 0.1379 + 0.8 N^-1/2: the weighted fit returns the AGS value within its error
    Ns = np.array([250, 500, 1000, 2000])
    est, slope = extrapolate_alpha_c(Ns, alpha_c() + 0.8 / np.sqrt(Ns), np.full(4, 0.002))
    assert est.mean == pytest.approx(alpha_c(), abs=1e-9) and alpha_c() == pytest.approx(0.1379, abs=1e-4)
    assert slope == pytest.approx(0.8) and 0 < est.error < 0.01
    with pytest.raises(ValueError, match="3 or more distinct sizes"):
        extrapolate_alpha_c([100, 200], [0.2, 0.19], [0.01, 0.01])
    with pytest.raises(ValueError, match="finite"):
        extrapolate_alpha_c([100, 200, 400], [np.nan, 0.19, 0.18], [0.01, 0.01, 0.01])


@pytest.mark.parametrize(("sizes", "alphas", "match"), [
    ((100, 200), None, "at least 3 sizes"),
    ((100, 200, 200), None, "distinct"),
    ((5, 100, 200), None, "N >= 10"),
    ((100, 200, 400), [0.1, 0.2], "at least 3 loads"),
    ((100, 200, 400), [0.1, 0.1, 0.2], "distinct"),
    ((100, 200, 400), [0.0, 0.1, 0.2], "positive"),
])
def test_capacity_experiment_refuses_a_grid_that_cannot_be_fitted(sizes, alphas, match) -> None:
    with pytest.raises(ValueError, match=match):
        capacity_experiment(sizes, alphas=alphas, n_tested=5, rng=0)


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


_GRID = {"n_spins": [10, 12, 14], "alphas": [0.1, 0.14, 0.18], "n_tested": 2, "per_set": 1, "max_sweeps": 5,
         "rng": 0}


@pytest.mark.parametrize(("kw", "name"), [
    ({"n_spins": None}, "n_spins"), ({"n_spins": 250}, "n_spins"), ({"n_spins": [20, 30.5, 40]}, "n_spins"),
    ({"n_spins": [[20], [30], [40]]}, "n_spins"), ({"alphas": ["a", "b", "c"]}, "alphas"),
    ({"alphas": [[0.1, 0.14, 0.18]]}, "alphas"), ({"n_tested": [2]}, "n_tested"), ({"per_set": [2]}, "per_set"),
    ({"max_sweeps": [2]}, "max_sweeps"), ({"threshold": True}, "threshold"), ({"threshold": 0.0}, "threshold"),
])
def test_capacity_experiment_names_the_bad_argument(kw, name) -> None:
    """Were: TypeError from int()/iteration naming nothing, numpy's 'could not convert string', threshold=True run."""
    with pytest.raises(ValueError, match=name):
        capacity_experiment(**{**_GRID, **kw})


@pytest.mark.parametrize(("kw", "name"), [
    ({"alphas": np.array(0.0)}, "alphas"),                              # was: the message named no argument
    ({"n": 0}, "n"),                                                     # was: ZeroDivisionError
    ({"p": np.array([1.0, 2.0, 0.5, 0.1, -1.0])}, "p"),                  # was: fitted silently
    ({"p": np.array(["1", "1", "1", "1", "1"], dtype=object)}, "p"), ({"p": np.ones(4)}, "p"),
])
def test_fit_alpha_c_names_the_bad_argument(kw, name) -> None:
    args = {"alphas": np.linspace(0.1, 0.2, 5), "p": np.array([1.0, 0.9, 0.5, 0.1, 0.0]), "n": 100, **kw}
    with pytest.raises(ValueError, match=name):
        fit_alpha_c(**args)


_OBJ3 = np.array(["1.0", "1.0", "1.0"], dtype=object)


@pytest.mark.parametrize(("kw", "name"), [
    ({"alpha_c_n": _OBJ3}, "alpha_c_n"), ({"errors": _OBJ3}, "errors"),          # were: strings parsed silently
    ({"exponent": 0.0}, "exponent"),            # was: N^0 = 1 at every size, reported as "add sizes"
    ({"n_spins": np.array([np.nan, 0.0, 0.0])}, "n_spins"), ({"n_spins": np.array([100, -200, 400])}, "n_spins"),
    ({"errors": np.array([0.01, -0.01, 0.01])}, "errors"),
])
def test_extrapolate_alpha_c_names_the_bad_argument(kw, name) -> None:
    args = {"n_spins": np.array([100, 200, 400]), "alpha_c_n": np.array([0.15, 0.145, 0.142]),
            "errors": np.array([0.01, 0.01, 0.01]), **kw}
    with pytest.raises(ValueError, match=name):
        extrapolate_alpha_c(**args)


@pytest.mark.parametrize("bad", [None, 3, "r", np.zeros(3)])
def test_capacity_figure_refuses_a_non_result(bad) -> None:
    from spinlens.memory import capacity_figure

    with pytest.raises(TypeError, match="result"):
        capacity_figure(bad)
