"""Perceptrons: McCulloch-Pitts units, the perceptron rule, Cover's counting and Gardner's capacity (issue 19)."""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import nbinom

from spinlens import memory as me
from spinlens.results import load_result, save_result


# ------------------------------------------------------------------ Cover's count: exact identities
def test_cover_count_identities() -> None:
    for P in range(1, 12):
        assert me.cover_count(P, 1) == 2
        for N in range(1, 12):
            c = me.cover_count(P, N)
            if P <= N:
                assert c == 2 ** P
            # Cover's recursion C(P+1, N) = C(P, N) + C(P, N-1)
            if N >= 2:
                assert me.cover_count(P + 1, N) == c + me.cover_count(P, N - 1)
            f = me.cover_fraction(P, N)
            assert abs(f - float(Fraction(c, 2 ** P))) < 1e-14
    for N in (1, 5, 20, 100):
        assert me.cover_fraction(2 * N, N) == pytest.approx(0.5, abs=1e-13)
    arr = me.cover_fraction(np.array([10, 20, 40, 80]), 20)
    assert arr.shape == (4,) and arr[0] == 1.0 and arr[2] == pytest.approx(0.5, abs=1e-13)


@pytest.mark.parametrize("P,N", [(7, 3), (6, 2), (8, 4)])
def test_cover_count_equals_lp_enumeration_in_general_position(P: int, N: int) -> None:
    """Every one of the 2^P labellings of Gaussian points (general position a.s.) decided by the LP."""
    X = np.random.default_rng(P * 10 + N).standard_normal((P, N))
    n_sep = sum(me.is_linearly_separable(X, np.array(lab, dtype=float))
                for lab in itertools.product((-1.0, 1.0), repeat=P))
    assert n_sep == me.cover_count(P, N)


@pytest.mark.parametrize("n,count", [(1, 4), (2, 14), (3, 104)])
def test_number_of_threshold_functions(n: int, count: int) -> None:
    """Linearly separable Boolean functions of n inputs (with a bias): 4, 14, 104 (Muroga; OEIS A000609)."""
    X = np.array(list(itertools.product((0.0, 1.0), repeat=n)))
    n_sep = sum(me.is_linearly_separable(X, np.array(lab, dtype=float), bias=True)
                for lab in itertools.product((-1.0, 1.0), repeat=2 ** n))
    assert n_sep == count


def test_separating_weights_separate_and_xor_does_not() -> None:
    g = np.random.default_rng(0)
    X = g.standard_normal((15, 10))
    y = np.where(X @ g.standard_normal(10) + 0.3 > 0, 1.0, -1.0)
    out = me.separating_weights(X, y, bias=True)
    assert out is not None
    w, b = out
    assert np.all(y * (X @ w + b) >= 1 - 1e-6)
    xor_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    xor_y = np.array([-1.0, 1.0, 1.0, -1.0])
    assert me.separating_weights(xor_X, xor_y, bias=True) is None
    assert not me.is_linearly_separable(xor_X, xor_y, bias=True)


def test_gardner_capacity() -> None:
    assert me.gardner_capacity() == 2.0 == me.GARDNER_ALPHA_C
    from scipy.integrate import quad
    from scipy.stats import norm

    for k in (-0.5, 0.5, 1.0, 2.0):
        integral = quad(lambda t, k=k: norm.pdf(t) * (t + k) ** 2, -k, np.inf)[0]
        assert me.gardner_capacity(k) == pytest.approx(1.0 / integral, rel=1e-10)


# ------------------------------------------------------------------ McCulloch-Pitts units
def test_mcculloch_pitts_logic_gates() -> None:
    X = np.array(list(itertools.product((0, 1), repeat=2)), dtype=float)
    assert me.mcculloch_pitts(X, [1, 1], threshold=2).tolist() == [0, 0, 0, 1]  # AND
    assert me.mcculloch_pitts(X, [1, 1], threshold=1).tolist() == [0, 1, 1, 1]  # OR
    # x1 AND NOT x2 by absolute inhibition
    assert me.mcculloch_pitts(X, [1, 0], threshold=1, inhibitory=np.array([False, True])).tolist() == [0, 0, 1, 0]
    # NOT x: a constant excitatory input of weight 1 against an inhibitory x
    Y = np.array([[1, 0], [1, 1]], dtype=float)
    assert me.mcculloch_pitts(Y, [1, 0], threshold=1, inhibitory=np.array([False, True])).tolist() == [1, 0]
    assert me.mcculloch_pitts(np.array([1.0, 1.0]), [1, 1], threshold=2).tolist() == 1
    with pytest.raises(ValueError, match="0 or 1"):
        me.mcculloch_pitts(np.array([0.5, 1.0]), [1, 1])


# ------------------------------------------------------------------ the perceptron rule
def test_perceptron_converges_within_novikoff_bound() -> None:
    g = np.random.default_rng(3)
    N, P = 20, 30
    X = np.where(g.random((P, N)) < 0.5, 1.0, -1.0)
    y = np.where(X @ g.standard_normal(N) > 0, 1.0, -1.0)
    w_lp, _ = me.separating_weights(X, y)  # type: ignore[misc]
    gamma = float(np.min(y * (X @ w_lp))) / float(np.linalg.norm(w_lp))  # a lower bound on the best margin
    R = float(np.max(np.linalg.norm(X, axis=1)))
    p = me.Perceptron(max_epochs=10_000, rng=0).fit(X, y)
    assert p.converged_ and "separated" in p.message_
    assert np.array_equal(p.predict(X), y.astype(np.int8))
    assert np.all(y * p.decision_function(X) > 0)
    assert 0 < p.n_updates_ <= (R / gamma) ** 2
    assert p.errors_[-1] == 0 and p.errors_.sum() == p.n_updates_ and p.n_epochs_ == p.errors_.size
    # from w = 0 the learning rate only rescales w (a power of 2: the rescaling is exact in floating point)
    a = me.Perceptron(learning_rate=1.0, shuffle=False).fit(X, y)
    b = me.Perceptron(learning_rate=0.25, shuffle=False).fit(X, y)
    assert a.n_updates_ == b.n_updates_ and np.array_equal(a.w_ * 0.25, b.w_)


def test_perceptron_reports_non_convergence() -> None:
    g = np.random.default_rng(4)
    N, P = 10, 40  # alpha = 4: random labels are not separable (Cover fraction ~ 2e-4); the LP confirms it
    X = np.where(g.random((P, N)) < 0.5, 1.0, -1.0)
    y = np.where(g.random(P) < 0.5, 1.0, -1.0)
    assert not me.is_linearly_separable(X, y)
    p = me.Perceptron(max_epochs=50, rng=0).fit(X, y)
    assert not p.converged_ and p.n_epochs_ == 50 and "did not converge" in p.message_
    assert np.all(p.errors_ > 0)
    xor = me.Perceptron(max_epochs=100, bias=True, rng=0).fit(np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]),
                                                               np.array([-1.0, 1, 1, -1]))
    assert not xor.converged_
    with pytest.raises(ValueError, match="not fitted"):
        me.Perceptron().predict(X)


# ------------------------------------------------------------------ measured fractions against Cover
@pytest.mark.parametrize("kind", ["binary", "gaussian"])
def test_separable_fraction_follows_cover(kind: str) -> None:
    """Independent sets at N = 20: the binomial z-score of the measured fraction against Cover's exact value."""
    N, n = 20, 200
    for P, seed in ((36, 1), (40, 2), (46, 3)):
        est = me.separable_fraction(P, N, n_trials=n, patterns=kind, rng=seed)  # type: ignore[arg-type]
        c = me.cover_fraction(P, N)
        z = (est.mean - c) / math.sqrt(c * (1 - c) / n)
        assert abs(z) < 3.5, (P, est, c)


def test_cover_chi2_pvalue_detects_a_wrong_law() -> None:
    g = np.random.default_rng(0)
    N = 20
    right = N + nbinom.rvs(N, 0.5, size=400, random_state=g)
    wrong = N + nbinom.rvs(N, 0.55, size=400, random_state=g)  # mean 2N - 3.6
    assert me.cover_chi2_pvalue(right, N) > 1e-3
    assert me.cover_chi2_pvalue(wrong, N) < 1e-3


def _check_capacity(res: me.PerceptronCapacityResult) -> None:
    n = res.n_trials
    for i, N in enumerate(res.n_inputs):
        ps = res.p_star[i]
        # E P* = 2N, Var P* = 2N under Cover's law: z-score of the mean with the exact variance
        z = (ps.mean() - 2 * N) / math.sqrt(2 * N / n)
        assert abs(z) < 3.5, (N, ps.mean())
        assert res.chi2_pvalue[i] > 1e-3, (N, res.chi2_pvalue[i])
        # pointwise binomial check of the separable fraction against Cover's exact curve
        c = res.cover[i]
        sd = np.sqrt(np.maximum(c * (1 - c), 1e-12) / n)
        assert np.all(np.abs(res.fraction[i] - c) <= 4 * sd + 1.5 / n), N
        P = np.maximum(1, np.round(res.alphas * N)).astype(int)
        assert np.allclose(c, [float(Fraction(me.cover_count(int(p), int(N)), 2 ** int(p))) for p in P], atol=1e-13)


def test_perceptron_capacity_small_sizes() -> None:
    res = me.perceptron_capacity([20, 30, 40], n_trials=60, rng=0)
    _check_capacity(res)
    assert res.alpha_c.within(2.0, n_sigma=3.0) and res.alpha_c.error < 0.15
    assert res.p_star.shape == (3, 60) and not res.notes


def test_binary_patterns_leave_general_position_at_small_n() -> None:
    """At N = 8..12 random +-1 patterns often coincide: the chi-square test must see it (the check can fail)."""
    binary = me.perceptron_capacity([8, 10, 12], n_trials=100, rng=1)
    assert binary.chi2_pvalue[0] < 1e-3 and binary.alpha_c_n[0] < 1.85 and binary.notes
    gauss = me.perceptron_capacity([8, 10, 12], n_trials=100, patterns="gaussian", rng=1)
    assert np.all(gauss.chi2_pvalue > 1e-3)
    assert all(abs(a - 2) < 3.5 * e for a, e in zip(gauss.alpha_c_n, gauss.alpha_c_n_error, strict=True))


@pytest.mark.slow
def test_gardner_capacity_extrapolation() -> None:
    """N = 20..100, 200 trials each: Cover within binomial error and alpha_c = 2 +- 0.05 (about 60 s)."""
    res = me.perceptron_capacity([20, 40, 60, 80, 100], n_trials=200, rng=2024)
    _check_capacity(res)
    assert abs(res.alpha_c.mean - 2.0) < 0.05 and res.alpha_c.error < 0.03


def test_capacity_result_round_trip_and_figure(tmp_path) -> None:
    res = me.perceptron_capacity([10, 12, 14], n_trials=4, rng=0, alphas=[1.5, 2.0, 2.5])
    save_result(res, tmp_path)
    back = load_result(me.PerceptronCapacityResult, tmp_path)
    assert np.array_equal(back.p_star, res.p_star) and back.alpha_c.mean == res.alpha_c.mean
    # the same seed gives the same numbers
    assert np.array_equal(me.perceptron_capacity([10, 12, 14], n_trials=4, rng=0).p_star, res.p_star)
    fig = me.perceptron_capacity_figure(res)
    assert len(fig.axes) == 2
    with pytest.raises(TypeError):
        me.perceptron_capacity_figure(None)  # type: ignore[arg-type]


def test_cli_perceptron_capacity(tmp_path, capsys) -> None:
    import json

    from tests.cli_helpers import run_main

    out = tmp_path / "run"
    code, text = run_main(["perceptron", "capacity", "--sizes", "10,14,20", "--n-trials", "6", "--workers", "1",
                           "--out", str(out)], capsys)
    assert code == 0, text
    assert "alpha_c(N -> inf)" in text and "Gardner 2" in text
    for name in ("results.json", "results.npz", "summary.json", "capacity.png", "report.html", "manifest.json"):
        assert (out / name).is_file(), name
    res = load_result(me.PerceptronCapacityResult, out)
    assert res.p_star.shape == (3, 6) and res.n_inputs.tolist() == [10, 14, 20]
    summary = json.loads((out / "summary.json").read_text())
    assert [r["N"] for r in summary["finite_size"]] == [10, 14, 20]
    # the same command again reuses the finished units (resumable run directory)
    code2, _ = run_main(["perceptron", "capacity", "--sizes", "10,14,20", "--n-trials", "6", "--workers", "1",
                         "--out", str(out)], capsys)
    assert code2 == 0 and np.array_equal(load_result(me.PerceptronCapacityResult, out).p_star, res.p_star)
