"""Naive mean field and TAP against exact enumeration and known SK results."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import spinlens.exact as ex
from spinlens.meanfield import (
    lowest_eigenpairs,
    naive,
    paramagnet_hessian,
    paramagnet_stability,
    tap,
    tap_free_energy,
    tap_hessian,
    tap_scan,
)
from spinlens.spins import IsingModel, layered_sk, sk


def _models(n: int = 10, k: int = 3) -> list[IsingModel]:
    out = []
    for seed in range(k):
        g = np.random.default_rng(100 + seed)
        out.append(sk(n, rng=g).with_field(g.normal(0.0, 0.5, n)))
    return out


def test_tap_beats_naive_at_high_temperature_and_both_vanish_as_beta_to_zero() -> None:
    errs: dict[str, list[float]] = {"naive": [], "tap": []}
    betas = [0.4, 0.2, 0.1]
    for beta in betas:
        e_mf, e_tap = [], []
        for model in _models():
            m_exact = ex.enumerate(model, beta).m
            r_mf = naive(model, beta, m0=np.zeros(model.n_spins))
            r_tap = tap(model, beta, m0=np.zeros(model.n_spins))
            assert r_mf.converged and r_tap.converged
            e_mf.append(np.max(np.abs(r_mf.m - m_exact)))
            e_tap.append(np.max(np.abs(r_tap.m - m_exact)))
        errs["naive"].append(float(np.mean(e_mf)))
        errs["tap"].append(float(np.mean(e_tap)))
    for name in errs:  # errors shrink monotonically with beta -> 0
        assert errs[name][0] > errs[name][1] > errs[name][2]
    # TAP is correct to second order in beta, naive MF only to first: TAP error well below naive
    for e_mf, e_tap in zip(errs["naive"], errs["tap"], strict=True):
        assert e_tap < 0.25 * e_mf
    # and the naive error scales like beta^2, the TAP error like beta^3 (ratios for halving beta)
    assert errs["naive"][1] / errs["naive"][2] > 3.0
    assert errs["tap"][1] / errs["tap"][2] > 5.0


def test_tap_free_energy_approximates_exact_at_high_temperature() -> None:
    for model in _models(k=2):
        beta = 0.15
        r = tap(model, beta, m0=np.zeros(model.n_spins))
        exact = ex.enumerate(model, beta)
        r_mf = naive(model, beta, m0=np.zeros(model.n_spins))
        assert abs(r.free_energy - exact.free_energy) < 0.25 * abs(r_mf.free_energy - exact.free_energy)
        # naive mean field is a variational upper bound on F
        assert r_mf.free_energy >= exact.free_energy - 1e-12


def test_sk_paramagnet_is_a_tap_solution_with_the_annealed_free_energy() -> None:
    model = sk(300, rng=3)
    for beta in (0.5, 2.0):
        r = tap(model, beta, m0=np.zeros(300))
        assert r.converged and np.all(r.m == 0.0) and r.residual == 0.0
        iu = np.triu_indices(300, 1)
        expect = -(300 * np.log(2) + 0.5 * beta**2 * np.sum(model.J[iu] ** 2)) / beta
        assert r.free_energy == pytest.approx(expect, rel=1e-12)
        assert tap_free_energy(model, np.zeros(300), beta) == pytest.approx(expect, rel=1e-12)
    # and above T = 1 it attracts random starts
    r = tap(model, 0.5, n_starts=3, rng=0)
    assert np.all(r.converged) and np.max(np.abs(r.m)) < 1e-8


def test_z2_pairs_without_field() -> None:
    model = sk(200, J0=2.0, rng=4)  # ferromagnetic phase below T = J0 = 2
    beta = 1.0
    x = np.random.default_rng(0).uniform(-1, 1, 200)
    r = tap(model, beta, m0=np.stack([x, -x]))
    assert np.all(r.converged)
    np.testing.assert_allclose(r.m[0], -r.m[1], atol=1e-9)
    assert abs(r.m[0].mean()) > 0.5
    assert r.free_energy[0] == pytest.approx(r.free_energy[1], rel=1e-10)
    # the ordered pair has lower TAP free energy than the paramagnet
    assert r.free_energy[0] < tap_free_energy(model, np.zeros(200), beta)
    # random starts only find the pair +-m*
    rs = tap(model, beta, n_starts=6, rng=1)
    for m in rs.m:
        assert min(np.max(np.abs(m - r.m[0])), np.max(np.abs(m + r.m[0]))) < 1e-6
    # naive mean field: annealed random starts break the symmetry into the pair +-m_MF as well
    nm = naive(model, beta, n_starts=4, anneal=True, rng=2)
    assert nm.m.shape == (4, 200) and np.all(nm.converged)
    ref = nm.m[0]
    assert abs(ref.mean()) > 0.5
    for m in nm.m:
        assert min(np.max(np.abs(m - ref)), np.max(np.abs(m + ref))) < 1e-6


def test_sk_paramagnet_hessian_touches_zero_at_T_equal_one() -> None:
    model = sk(1000, rng=7)
    T = np.linspace(0.8, 1.25, 46)
    f = paramagnet_stability(model, T)
    t_min = T[np.argmin(f)]
    assert abs(t_min - 1.0) <= 0.02
    assert -0.02 < f.min() < 0.02
    # away from T = 1 it follows (sqrt T - 1/sqrt T)^2
    T2 = np.array([0.6, 2.0, 3.0])
    np.testing.assert_allclose(paramagnet_stability(model, T2), (np.sqrt(T2) - 1 / np.sqrt(T2)) ** 2, atol=0.03)
    # consistency with the explicit Hessian: f(T) = T * lambda_min(A(1/T))
    w, _ = lowest_eigenpairs(paramagnet_hessian(model, 1 / 1.5), k=1)
    assert paramagnet_stability(model, [1.5])[0] == pytest.approx(1.5 * w[0], abs=1e-8)


def test_stability_sparse_matches_dense_and_detects_outlier() -> None:
    model = layered_sk([150, 150, 150], C=1.0, rng=2)
    dense = IsingModel(model.dense_J())
    T = np.linspace(0.5, 2.0, 12)
    np.testing.assert_allclose(paramagnet_stability(model, T), paramagnet_stability(dense, T), atol=1e-7)
    f2 = paramagnet_stability(model, T, k=2)
    assert f2.shape == (12, 2) and np.all(f2[:, 0] <= f2[:, 1] + 1e-12)
    # spiked SK: outlier J0 + 1/J0 makes f < 0 below T_c = J0
    spiked = sk(600, J0=2.0, rng=5)
    fs = paramagnet_stability(spiked, [1.5, 2.5])
    assert fs[0] < -0.1 and fs[1] > 0.1


def test_tap_hessian_matches_finite_differences_and_paramagnet() -> None:
    g = np.random.default_rng(1)
    model = sk(6, rng=g).with_field(g.normal(size=6))
    beta = 0.7
    np.testing.assert_allclose(tap_hessian(model, np.zeros(6), beta), paramagnet_hessian(model, beta), atol=1e-14)
    m = g.uniform(-0.6, 0.6, 6)
    eps = 1e-4
    H = np.zeros((6, 6))
    E = np.eye(6)
    for i in range(6):
        for j in range(6):
            f = lambda x: beta * tap_free_energy(model, x, beta)
            H[i, j] = (f(m + eps * (E[i] + E[j])) - f(m + eps * (E[i] - E[j])) - f(m - eps * (E[i] - E[j]))
                       + f(m - eps * (E[i] + E[j]))) / (4 * eps**2)
    np.testing.assert_allclose(tap_hessian(model, m, beta), H, atol=1e-5)
    sparse_model = IsingModel(sp.csr_matrix(model.J), model.h)
    np.testing.assert_allclose(tap_hessian(sparse_model, m, beta).toarray(), tap_hessian(model, m, beta), atol=1e-14)


def test_tap_scan_matches_per_temperature_solutions() -> None:
    model = sk(120, J0=1.5, rng=6)
    betas = np.array([0.4, 0.8, 1.25, 2.0])
    s = tap_scan(model, betas, rng=0)
    assert s.m.shape == (4, 120) and np.all(s.converged)
    for k, b in enumerate(betas):
        r = tap(model, b, m0=s.m[k])
        assert r.residual < 1e-9
        # residual of the scan solution itself
        assert s.residual[k] < 1e-10
    assert s.q[0] < 1e-12 and s.q[-1] > 0.3  # paramagnet at T = 2.5, ordered at T = 0.5


def test_sparse_and_dense_tap_agree() -> None:
    model = layered_sk([30, 30, 30], C=2.0, rng=1).with_field(np.random.default_rng(1).normal(0, 0.5, 90))
    dense = IsingModel(model.dense_J(), model.h)
    m0 = np.random.default_rng(0).uniform(-1, 1, 90)
    a = tap(model, 0.6, m0=m0)
    b = tap(dense, 0.6, m0=m0)
    assert a.converged and b.converged
    np.testing.assert_allclose(a.m, b.m, atol=1e-10)
    assert a.free_energy == pytest.approx(b.free_energy, rel=1e-10)


def test_same_seed_same_numbers() -> None:
    model = sk(50, rng=0)
    a = tap(model, 2.0, n_starts=3, rng=11)
    b = tap(model, 2.0, n_starts=3, rng=11)
    np.testing.assert_array_equal(a.m, b.m)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: tap(m, 0.0),
        lambda m: tap(m, -1.0),
        lambda m: tap(m, float("nan")),
        lambda m: naive(m, 1.0, damping=1.0),
        lambda m: tap(m, 1.0, m0=np.zeros(3)),
        lambda m: tap(m, 1.0, m0=np.full(10, 2.0)),
        lambda m: tap(m, 1.0, n_starts=0),
        lambda m: naive(m, 1.0, n_starts=0),
        lambda m: naive(m, 1.0, m0=np.zeros((3, 10)), n_starts=2),
        lambda m: tap(m, 1.0, anneal=-1),
        lambda m: tap_scan(m, []),
        lambda m: paramagnet_stability(m, [1.0, -1.0]),
        lambda m: tap_hessian(m, np.ones(10), 1.0),
    ],
)
def test_bad_input_raises_clear_errors(call) -> None:
    with pytest.raises(ValueError):
        call(sk(10, rng=0))


def test_model_type_checked() -> None:
    with pytest.raises(TypeError):
        tap(np.eye(3), 1.0)
