"""Exponential families: derivatives of A, maximum entropy, information quantities, Gibbs bound."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

import spinlens.exact as ex
from spinlens.expfam import (
    DiscreteExpFamily,
    cross_entropy,
    entropy,
    gibbs_lower_bound,
    ising_family,
    ising_from_theta,
    ising_theta,
    kl_divergence,
)
from spinlens.spins import IsingModel, sk


def _family(seed: int = 0, n_states: int = 12, k: int = 4) -> DiscreteExpFamily:
    g = np.random.default_rng(seed)
    return DiscreteExpFamily(g.normal(size=(n_states, k)), base_measure=g.uniform(0.5, 2.0, n_states))


def test_gradient_and_hessian_of_log_partition_match_finite_differences() -> None:
    fam = _family()
    th = np.random.default_rng(1).normal(size=4) * 0.5
    eps = 1e-5
    E = np.eye(4)
    grad_fd = np.array([(fam.log_partition(th + eps * e) - fam.log_partition(th - eps * e)) / (2 * eps) for e in E])
    np.testing.assert_allclose(fam.mean(th), grad_fd, atol=1e-8)
    hess_fd = np.array([(fam.mean(th + eps * e) - fam.mean(th - eps * e)) / (2 * eps) for e in E])
    np.testing.assert_allclose(fam.covariance(th), hess_fd, atol=1e-8)
    # covariance is positive semidefinite (A is convex)
    assert np.min(np.linalg.eigvalsh(fam.covariance(th))) > -1e-12


def test_information_quantities_agree_with_direct_sums() -> None:
    fam = _family(2)
    g = np.random.default_rng(3)
    t1, t2 = g.normal(size=4), g.normal(size=4)
    p, q = fam.probabilities(t1), fam.probabilities(t2)
    assert fam.entropy(t1) == pytest.approx(-np.sum(p * np.log(p)), rel=1e-12)
    assert fam.kl(t1, t2) == pytest.approx(np.sum(p * np.log(p / q)), rel=1e-10)
    assert fam.cross_entropy(t1, t2) == pytest.approx(-np.sum(p * np.log(q)), rel=1e-12)
    assert kl_divergence(p, q) == pytest.approx(fam.kl(t1, t2), rel=1e-10)
    assert cross_entropy(p, q) == pytest.approx(entropy(p) + kl_divergence(p, q), rel=1e-12)
    assert fam.free_energy(t1) == pytest.approx(-fam.log_partition(t1))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_kl_is_a_nonnegative_bregman_divergence(seed: int) -> None:
    fam = _family(seed % 7)
    g = np.random.default_rng(seed)
    t1, t2 = g.normal(size=4), g.normal(size=4)
    assert fam.kl(t1, t2) >= 0.0
    assert fam.kl(t1, t1) == pytest.approx(0.0, abs=1e-12)
    # log-loss decomposition: cross-entropy = entropy + KL
    assert fam.cross_entropy(t1, t2) == pytest.approx(fam.entropy(t1) + fam.kl(t1, t2), abs=1e-10)


def test_maxent_reproduces_constraints_and_is_the_mle() -> None:
    fam = _family(4)
    target = fam.mean(np.array([0.3, -0.7, 1.1, 0.2]))
    res = fam.fit_maxent(target)
    assert res.converged and res.max_error < 1e-8
    np.testing.assert_allclose(fam.mean(res.theta), target, atol=1e-8)
    # maximum entropy among distributions with these means: any other member with the same means is the same,
    # and the dual identity A*(t) = theta.t - A(theta) = -H(p) (+ base measure term) holds
    p = fam.probabilities(res.theta)
    assert res.entropy == pytest.approx(-np.sum(p * np.log(p)), rel=1e-10)


def test_ising_family_is_the_boltzmann_law_and_maxent_recovers_couplings() -> None:
    g = np.random.default_rng(5)
    model = sk(8, rng=g).with_field(g.normal(0, 0.3, 8))
    fam = ising_family(8)
    beta = 0.8
    th = ising_theta(model, beta)
    r = ex.enumerate(model, beta)
    assert fam.log_partition(th) == pytest.approx(r.log_z, rel=1e-12)
    states, p = ex.boltzmann_probabilities(model, beta)
    np.testing.assert_allclose(fam.probabilities(th), p, atol=1e-14)
    res = fam.fit_maxent(fam.mean(th))
    assert res.max_error < 1e-8
    back = ising_from_theta(res.theta, 8, beta)
    np.testing.assert_allclose(back.J, model.J, atol=1e-6)
    np.testing.assert_allclose(back.h, model.h, atol=1e-6)


def test_maxent_below_the_noise_floor_stops_there_and_says_so() -> None:
    # tol = 1e-20 is below what float64 moments can resolve: the fit stops at the noise floor, converged,
    # and says so (it used to run to max_iter and report converged=False)
    for fam, th in ((_family(4), np.array([0.3, -0.7, 1.1, 0.2])),
                    (ising_family(8), ising_theta(sk(8, rng=5), 1.0))):
        target = np.round(fam.mean(th), 6)  # moments known to 6 decimals
        res = fam.fit_maxent(target, tol=1e-20)
        assert res.converged and res.n_iter < 30, res.message
        assert "noise floor" in res.message
        assert res.max_error <= res.noise_floor < 1e-12
        assert res.noise_floor == pytest.approx(fam.mean_noise_floor(res.theta))
        np.testing.assert_allclose(res.theta, th, atol=1e-4)


def test_maxent_converges_at_any_blas_thread_count() -> None:
    # moments of 1000 samples of an n = 10 SK model: with one BLAS thread the Newton iterate landed at a
    # gradient of 1.3e-8 (tol 1e-8), where the decrease of a Newton step (~1e-15) is below the rounding of the
    # dual, so the Armijo-only line search stalled for 500 iterations (with two threads: 6e-9, converged)
    g = np.random.default_rng(5)
    model = sk(10, J=1.0, rng=g).with_field(g.normal(0.0, 0.3, 10))
    states, p = ex.boltzmann_probabilities(model, 1.0)
    S = states[np.random.default_rng(2).choice(p.size, size=1000, p=p)].astype(np.float64)
    iu = np.triu_indices(10, 1)
    t = np.concatenate([S.mean(0), (S.T @ S / 1000)[iu]])
    fam = ising_family(10)
    thetas = []
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads, user_api="blas"):
            res = fam.fit_maxent(t, tol=1e-8, max_iter=500)
        assert res.converged and res.n_iter < 30, (n_threads, res.n_iter, res.message)
        assert res.max_error <= 1e-8
        thetas.append(res.theta)
    np.testing.assert_allclose(thetas[0], thetas[1], atol=1e-7)


def test_maxent_line_search_stall_is_reported_at_once() -> None:
    # nearly redundant statistics: the Hessian has an eigenvalue ~1e-19, below the pseudo-inverse cut, so no
    # step lowers the dual at float64 precision; the fit says so instead of running to max_iter
    fam = DiscreteExpFamily([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0 + 1e-9], [2.0, 2.0]])
    res = fam.fit_maxent([1.0, 1.0 + 2e-10], tol=1e-20, max_iter=200)
    assert not res.converged and res.n_iter < 5
    assert "line search" in res.message and "ridge" in res.message


def test_gibbs_variational_lower_bound() -> None:
    for seed in range(3):
        model = sk(10, rng=seed).with_field(np.random.default_rng(seed).normal(0, 0.4, 10))
        for beta in (0.3, 1.0, 2.0):
            lnz = ex.enumerate(model, beta).log_z
            bound = gibbs_lower_bound(model, beta)
            assert bound <= lnz + 1e-10
            # any product law gives a (weaker) bound
            assert gibbs_lower_bound(model, beta, m=np.zeros(10)) <= bound + 1e-10
    # equality without couplings
    free = IsingModel(np.zeros((5, 5)), np.linspace(-1, 1, 5))
    assert gibbs_lower_bound(free, 0.7) == pytest.approx(ex.enumerate(free, 0.7).log_z, rel=1e-10)


def test_maxent_bad_targets() -> None:
    fam = ising_family(3)
    with pytest.raises(ValueError, match="outside"):
        fam.fit_maxent(np.array([0, 0, 0, 2.0, 0, 0]))
    with pytest.raises(ValueError, match="boundary"):
        fam.fit_maxent(np.array([1.0, 0, 0, 0, 0, 0]))  # spin 1 always up: infinite field
    res = fam.fit_maxent(np.array([0.9, 0, 0, 0, 0, 0]), ridge=1e-3)
    assert res.converged
    with pytest.raises(ValueError, match="shape"):
        fam.fit_maxent(np.zeros(2))
    with pytest.raises(ValueError, match="tol"):
        fam.fit_maxent(np.array([0.5, 0, 0, 0, 0, 0]), tol=0.0)
    with pytest.raises(ValueError):
        DiscreteExpFamily(np.ones((3, 2)), base_measure=[-1, 1, 1])
    with pytest.raises(ValueError):
        fam.log_partition(np.zeros(5))


_OBJ = np.array(["1.0", "1.0", "1.0"], dtype=object)


@pytest.mark.parametrize("stats, base, theta, name", [
    (np.full((3, 3), 1j), None, np.zeros(3), "stats"),            # was: complex cast silently to its real part
    (np.full((3, 3), "a"), None, np.zeros(3), "stats"),
    (np.eye(3), _OBJ, np.zeros(3), "base_measure"),               # was: strings parsed as numbers
    (np.eye(3), None, _OBJ, "theta"),
    (np.eye(3), None, np.array([1.0, np.nan, 0.0]), "theta"),
    (np.eye(3), np.array([1.0, -1.0, 1.0]), np.zeros(3), "base_measure"),
])
def test_discrete_family_refuses_non_real_input_naming_it(stats, base, theta, name) -> None:
    with pytest.raises(ValueError, match=name):
        DiscreteExpFamily(stats, base).log_partition(theta)


@pytest.mark.parametrize("call, name", [
    (lambda: ising_family(0), "n_spins"),
    (lambda: ising_family(2.5), "n_spins"),
    (lambda: ising_family(None), "n_spins"),
    (lambda: ising_from_theta(np.zeros(6), 0), "n_spins"),
    (lambda: ising_from_theta(np.zeros(6), 3, beta=0.0), "beta"),          # was: 0/0 -> "J contains NaN"
    (lambda: ising_from_theta(np.array([np.nan, 0, 0, 0, 0, 0]), 3), "theta"),  # was: "h contains NaN"
    (lambda: ising_from_theta(np.zeros(5), 3), "theta"),
    (lambda: ising_theta(None), "model"),                                   # was: AttributeError
    (lambda: ising_theta(IsingModel(np.zeros((3, 3))), beta=0.0), "beta"),  # was: theta = 0 silently
    (lambda: ising_theta(IsingModel(np.zeros((3, 3))), beta=True), "beta"),
])
def test_ising_family_helpers_name_the_bad_argument(call, name) -> None:
    with pytest.raises((ValueError, TypeError), match=name):
        call()
