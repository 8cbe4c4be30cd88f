"""Phase analysis on planted models: SK glass at T=1, layered SK, spiked SK hidden order, Z2 pairs."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.networks.phases import (
    analyze,
    init_prediction,
    layered_tc,
    mc_crosscheck,
    stability_curve,
    tap_evidence,
)
from spinlens.spins import IsingModel, layered_sk, sk


def _equal_width_tc(L, C):
    return np.sqrt(2 * C * np.cos(np.pi / (L + 2)))


def test_layered_formula_closed_forms():
    assert layered_tc([50, 50], [1 / 50]) == pytest.approx(1.0)
    assert layered_tc([700] * 3, [1 / 700] * 2) == pytest.approx(1.189, abs=5e-4)
    assert layered_tc([500] * 4, [2 / 500] * 3) == pytest.approx(1.799, abs=5e-4)
    assert layered_tc([400] * 6, [1 / 400] * 5) == pytest.approx(1.342, abs=5e-4)
    for L in (1, 2, 5):
        assert layered_tc([30] * (L + 1), [0.7 / 30] * L) == pytest.approx(_equal_width_tc(L, 0.7))
    # bipartite, unequal: T_c^4 = n_0 n_1 s^4
    assert layered_tc([100, 400], [0.01]) == pytest.approx((100 * 400 * 1e-4) ** 0.25)
    with pytest.raises(ValueError):
        layered_tc([3, 4], [0.1, 0.2])


def test_sk_stability_curve_shape():
    """Large-n SK: f(T) = (sqrt T - 1/sqrt T)^2 away from the tangency point."""
    m = sk(600, rng=1)
    T = np.array([0.4, 0.6, 1.6, 2.5])
    c = stability_curve(m, T, refine=False)
    np.testing.assert_allclose(c.f, (np.sqrt(T) - 1 / np.sqrt(T)) ** 2, atol=0.06)


def test_sk_glass_tc_within_2_percent():
    m = sk(1000, rng=0)
    r = analyze(m, n_starts=0)
    assert r.phase == "spin glass" and r.criterion == "tangency"
    assert abs(r.t_c - 1.0) < 0.02
    assert abs(r.f_min_rel) < r.tolerance * 5


def test_stability_matches_meanfield_implementation():
    from spinlens.meanfield import paramagnet_stability

    m = layered_sk([60, 30, 90], 1.0, rng=2)
    T = np.array([0.7, 1.0, 1.4])
    np.testing.assert_allclose(stability_curve(m, T, refine=False).f, paramagnet_stability(m, T), atol=1e-7)


def test_unequal_widths_formula_vs_direct_tap_stability():
    widths = [600, 300, 900]
    m = layered_sk(widths, 1.0, rng=0)
    pred = init_prediction([m.dense_J()[:600, 600:900].T, m.dense_J()[600:900, 900:].T])
    assert pred == pytest.approx(layered_tc(widths, [1 / 600, 1 / 300]), rel=0.03)
    r = analyze(m, n_starts=0)
    assert r.phase == "spin glass"
    assert abs(r.t_c / pred - 1) < 0.02


@pytest.mark.slow
def test_unequal_widths_formula_vs_direct_tap_iteration():
    """TAP itself: random starts fall back to the paramagnet m = 0 above the predicted T_c, leave it below."""
    from spinlens.meanfield import tap

    widths = [600, 300, 900]
    m = layered_sk(widths, 1.0, rng=0)
    pred = layered_tc(widths, [1 / 600, 1 / 300])
    above = tap(m, 1 / (1.15 * pred), n_starts=2, damping=0.5, max_iter=1000, tol=1e-8, rng=0)
    assert np.all(above.converged) and np.max(np.abs(above.m)) < 1e-6
    below = tap(m, 1 / (0.85 * pred), n_starts=2, damping=0.5, max_iter=300, tol=1e-8, rng=0)
    assert np.all(np.mean(np.atleast_2d(below.m) ** 2, axis=1) > 1e-3)


@pytest.mark.parametrize(
    "widths, C, expected",
    [
        ([700] * 3, 1.0, 1.189),
        pytest.param([500] * 4, 2.0, 1.799, marks=pytest.mark.slow),
        pytest.param([400] * 6, 1.0, 1.342, marks=pytest.mark.slow),
    ],
)
def test_layered_sk_tc_within_2_percent(widths, C, expected):
    m = layered_sk(widths, C, rng=0)
    c = stability_curve(m)
    assert abs(c.t_star / expected - 1) < 0.02


@pytest.mark.parametrize("J0", [2.0, 3.0])
def test_spiked_sk_hidden_order(J0):
    m = sk(1000, J0=J0, rng=0)
    r = analyze(m, n_starts=0)
    assert r.phase == "hidden order" and r.criterion == "upper zero"
    assert abs(r.t_c / J0 - 1) < 0.03
    # equal-d formula with the sample's actual outlier (removes the finite-n outlier fluctuation)
    lam = np.linalg.eigvalsh(m.dense_J())[-1]
    d = m.coupling_square_sums().mean()
    assert r.t_c == pytest.approx((lam + np.sqrt(lam**2 - 4 * d)) / 2, rel=0.01)


def test_spiked_sk_evidence_and_z2_pairs():
    from spinlens.meanfield import tap

    m = sk(200, J0=2.0, rng=3)
    r = analyze(m, n_starts=10, rng=0)
    assert r.phase == "hidden order" and r.evidence_agrees
    ev = r.tap[0]
    assert ev.n_distinct == 1 and ev.pm_pairs and ev.n_nontrivial >= 8
    assert ev.alignment[0] > 0.9  # m* lies along the outlier eigenvector
    assert np.all(np.abs(np.abs(ev.overlaps) - 1) < 1e-3)
    # Z2 with h = 0: -m* is a fixed point as well
    back = tap(m, 1 / ev.temperature, m0=-ev.m_best, max_iter=50, tol=1e-8)
    np.testing.assert_allclose(back.m, -ev.m_best, atol=1e-5)


def test_pure_sk_classified_glass_with_tap_evidence():
    m = sk(300, rng=4)
    r = analyze(m, n_starts=6, tap_max_iter=200, rng=1)
    assert r.phase == "spin glass"
    assert r.evidence_agrees is not False
    assert r.tap[0].n_distinct != 1


def test_paramagnet_cases():
    # a single bond: f(T) = T + w^2/T - |w| >= |w| > 0 -- no instability at all
    J = np.array([[0.0, 0.8], [0.8, 0.0]])
    r = analyze(IsingModel(J), n_starts=0)
    assert r.phase == "paramagnet" and np.isnan(r.t_c)
    # no couplings at all
    r0 = analyze(IsingModel(np.zeros((3, 3))), n_starts=2)
    assert r0.phase == "paramagnet"
    # a temperature range wholly above T_c = 1 of SK
    r2 = analyze(sk(300, rng=0), temperatures=np.linspace(1.5, 3.0, 6), n_starts=0)
    assert r2.phase == "paramagnet" and np.isnan(r2.t_c) and "below" in r2.notes[0]


def test_analyze_accepts_networks_and_is_deterministic():
    from spinlens.networks import mlp, to_spins

    net = mlp([40, 30, 20], rng=0)
    a = analyze(net, n_starts=4, rng=5)
    b = analyze(to_spins(net), n_starts=4, rng=5)
    assert a.t_c == b.t_c and a.phase == b.phase
    np.testing.assert_array_equal(a.tap[0].overlaps, b.tap[0].overlaps)
    assert a.to_dict()["phase"] == a.phase
    with pytest.raises(ValueError):
        analyze(net, temperatures=[-1.0, 2.0])


def test_tap_evidence_layers():
    m = layered_sk([30, 20, 10], 6.0, rng=0)
    ev = tap_evidence(m, 0.3, n_starts=4, rng=0)
    assert ev.q_layers.shape == (3,) and ev.m_layers.shape == (3,)


@pytest.mark.slow
def test_mc_crosscheck_spiked_sk():
    m = sk(200, J0=2.0, rng=3)
    tc = analyze(m, n_starts=0).t_c
    mc = mc_crosscheck(m, np.geomspace(0.6 * tc, 1.7 * tc, 12), n_sweeps=3000, rng=1)
    assert mc.binder[0] > 0.8  # ordered well below T_c
    assert mc.binder[-1] < 0.3  # paramagnetic well above
    assert 0.75 * tc < mc.t_onset < 1.1 * tc
