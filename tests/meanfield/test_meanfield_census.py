"""TAP census and melting temperature against planted and exhaustively enumerated answers."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import root

from spinlens.meanfield import melting_temperature, tap_census, tap_free_energy, tap_hessian
from spinlens.spins import IsingModel, sk


def _spiked(n: int = 200, seed: int = 1) -> IsingModel:
    return sk(n, J0=2.0, rng=seed)


def test_spiked_sk_hidden_order_one_pair_aligned_with_spike() -> None:
    model = _spiked()
    c = tap_census(model, [1.0, 1.5], n_random=24, n_annealed=4, rng=0)
    spike = np.ones(model.n_spins) / np.sqrt(model.n_spins)
    for lv in c.levels:
        assert lv.phase == "hidden order"
        assert lv.n_minima == 1
        i = int(np.flatnonzero(lv.is_minimum & (lv.q > 1e-6))[0])
        assert lv.both_signs[i]  # m* and -m* both reached, reported once
        assert lv.counts[i] + lv.annealed_counts[i] >= 16  # every descent start (12) and annealed start (4)
        m = lv.m[i]
        assert abs(m @ spike) / np.linalg.norm(m) > 0.85  # measured 0.90 (T = 1), disorder spreads the |m_i|
        # m = 0 is a solution and, below T_c, a saddle
        j = int(np.flatnonzero(lv.q <= 1e-6)[0])
        assert not lv.is_minimum[j] and lv.hessian_min[j] < 0
        assert np.all(lv.residual < 1e-7)
        assert lv.free_energy[i] < lv.free_energy[j]
    assert c.levels[0].q[0] > c.levels[1].q[0]  # order grows on cooling


@pytest.mark.slow
def test_spiked_sk_melting_matches_stability_tc() -> None:
    from spinlens.networks.phases import analyze

    model = _spiked(400)
    r = melting_temperature(model, 1.0, rng=0)
    a = analyze(model)
    assert r.reason == "collapsed"
    assert r.t_high_bracket - r.t_low_bracket <= 1.1e-3
    # same sample: the ordered minimum dies where the paramagnet loses stability (pitchfork)
    assert abs(r.t_melt - a.t_c) < 3e-3
    # large-n limit T_c = J0 = 2; finite n = 400 measured 1.935 (about 3% low)
    assert abs(r.t_melt - 2.0) < 0.1


def test_spiked_sk_melting_small() -> None:
    from spinlens.networks.phases import analyze

    model = _spiked(150, seed=3)
    r = melting_temperature(model, 1.2, step=0.1, resolution=4e-3, n_starts=4, rng=0)
    assert r.reason == "collapsed"
    assert abs(r.t_melt - analyze(model).t_c) < 0.01
    assert abs(r.t_melt - 2.0) < 0.2
    assert np.all(np.diff(r.q[np.argsort(r.temperatures)]) < 0)  # q falls on heating


def test_paramagnet_only_m_zero() -> None:
    model = _spiked(150)
    c = tap_census(model, [3.0, 4.0], n_random=16, n_annealed=2, rng=0)
    for lv in c.levels:
        assert lv.phase == "paramagnet"
        assert lv.m.shape[0] == 1 and np.all(lv.m == 0.0)
        assert lv.counts[0] == 16 and lv.annealed_counts[0] == 2
        assert lv.hessian_min[0] > 0 and lv.plefka[0] < 1


def test_sk_low_temperature_is_not_paramagnet_or_hidden_order() -> None:
    """SK (J0 = 0) at T = 0.5: the TAP paramagnet is still a local minimum of F_TAP but violates Plefka's
    condition (x = beta^2 lambda_max(J∘J) ≈ beta^2 = 4), so it is not a valid paramagnet."""
    model = sk(200, rng=1)
    lv = tap_census(model, [0.5], n_random=16, n_annealed=2, rng=0).levels[0]
    assert lv.phase not in ("paramagnet", "hidden order")
    j = int(np.flatnonzero(lv.q <= 1e-6)[0])
    assert lv.plefka[j] == pytest.approx(4.0 * np.linalg.eigvalsh(model.J**2)[-1], rel=1e-6)
    assert lv.plefka[j] > 3.5


def _all_solutions(model: IsingModel, beta: float, n_tries: int = 400) -> np.ndarray:
    """Every TAP solution of a tiny model by root finding from many starts (in x = artanh m)."""
    J, h = model.J, model.h
    J2 = J * J

    def eq(x: np.ndarray) -> np.ndarray:
        m = np.tanh(x)
        return x - beta * (h + J @ m) + beta**2 * m * (J2 @ (1 - m * m))

    g = np.random.default_rng(5)
    sols: list[np.ndarray] = []
    for _ in range(n_tries):
        r = root(eq, g.normal(0, 2, size=model.n_spins), tol=1e-13)
        if r.success and np.max(np.abs(eq(r.x))) < 1e-10:
            m = np.tanh(r.x)
            if not any(np.max(np.abs(m - s)) < 1e-6 for s in sols):
                sols.append(m)
    return np.array(sols)


def _fd_hessian(model: IsingModel, m: np.ndarray, beta: float, eps: float = 2e-5) -> np.ndarray:
    n = m.size
    H = np.empty((n, n))
    E = np.eye(n) * eps
    for i in range(n):
        for j in range(n):
            H[i, j] = (tap_free_energy(model, m + E[i] + E[j], beta) - tap_free_energy(model, m + E[i] - E[j], beta)
                       - tap_free_energy(model, m - E[i] + E[j], beta)
                       + tap_free_energy(model, m - E[i] - E[j], beta)) / (4 * eps * eps)
    return H


def test_small_model_dedup_and_minimum_saddle_labels() -> None:
    g = np.random.default_rng(2)
    n = 5
    A = g.normal(0.0, 0.8, size=(n, n)) + 0.5
    J = np.triu(A, 1) + np.triu(A, 1).T
    model = IsingModel(J, np.zeros(n))
    T = 0.7
    beta = 1.0 / T
    allsol = _all_solutions(model, beta)
    c = tap_census(model, [T], n_random=64, n_annealed=4, rng=0)
    lv = c.levels[0]
    # every census row is one of the enumerated solutions, up to the flip, and no two rows are flips of each other
    for m in lv.m:
        assert min(min(np.max(np.abs(m - s)), np.max(np.abs(m + s))) for s in allsol) < 1e-6
    for a in range(len(lv.m)):
        for b in range(a):
            assert np.max(np.abs(lv.m[a] + lv.m[b])) > 1e-3 and np.max(np.abs(lv.m[a] - lv.m[b])) > 1e-3
    # the flip pairs of the enumeration collapse to single rows; the census finds every minimum
    mins_all = [s for s in allsol if np.linalg.eigvalsh(tap_hessian(model, s, beta))[0] > 0]
    mins_all_up_to_flip = []
    for s in mins_all:
        if not any(np.max(np.abs(s + t)) < 1e-6 or np.max(np.abs(s - t)) < 1e-6 for t in mins_all_up_to_flip):
            mins_all_up_to_flip.append(s)
    assert int(np.sum(lv.is_minimum)) == len(mins_all_up_to_flip)
    classes = []
    for s in allsol:
        if not any(np.max(np.abs(s + t)) < 1e-6 or np.max(np.abs(s - t)) < 1e-6 for t in classes):
            classes.append(s)
    assert len(lv.m) == len(classes) == 3  # m = 0 (a minimum here), one pair of minima, one pair of saddles
    assert int(np.sum(~lv.is_minimum)) == 1 and lv.n_saddles == 1
    for m, hmin, is_min in zip(lv.m, lv.hessian_min, lv.is_minimum, strict=True):
        H_fd = _fd_hessian(model, m, beta)  # d^2 F/dm^2 by central differences of tap_free_energy
        H = tap_hessian(model, m, beta) / beta
        np.testing.assert_allclose(H, H_fd, rtol=1e-3, atol=1e-4)
        assert hmin == pytest.approx(np.linalg.eigvalsh(H)[0], rel=1e-9, abs=1e-9)
        w = np.linalg.eigvalsh(H_fd)[0]
        assert hmin == pytest.approx(w, rel=1e-3, abs=1e-4)
        assert is_min == (w > 0)


def test_fields_do_not_identify_flips_and_same_seed_same_census() -> None:
    model = IsingModel(_spiked(120).J, np.full(120, 0.02))
    c1 = tap_census(model, [1.0], n_random=12, n_annealed=2, rng=7)
    c2 = tap_census(model, [1.0], n_random=12, n_annealed=2, rng=7)
    np.testing.assert_array_equal(c1.levels[0].m, c2.levels[0].m)
    lv = c1.levels[0]
    assert not np.any(lv.both_signs)
    assert lv.phase == "hidden order"
    # with h > 0 the state along +h has the lower free energy
    assert np.mean(lv.m[0]) > 0
    d = lv.to_dict()
    assert d["phase"] == "hidden order"
