"""Continuous exponential families (Gaussian, exponential, von Mises) and the log-loss / max-ent / minimax
equivalence (issue 19, item 4)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import gamma

from spinlens import expfam
from spinlens.expfam import DiscreteExpFamily, Exponential, Gaussian, VonMises, maxent_equivalence
from spinlens.spins import sk

# (family, [theta, ...], integration range)
CASES = [
    (Gaussian(), [Gaussian.natural(0.3, 1.7), Gaussian.natural(-2.0, 0.25), np.array([1.5, -0.8])], (-np.inf, np.inf)),
    (Exponential(), [Exponential.natural(0.7), Exponential.natural(3.0)], (0.0, np.inf)),
    (VonMises(), [VonMises.natural(0.4, 2.5), VonMises.natural(-2.0, 0.3), np.array([5.0, -7.0]), np.zeros(2)],
     (-np.pi, np.pi)),
]
IDS = ["gaussian", "exponential", "von-mises"]


def _quad(fam, th, fn, lo, hi):
    A = fam.log_partition(th)
    f = lambda x: fn(x) * np.exp(fam.sufficient_statistics(x)[0] @ th - A)  # noqa: E731
    return quad(f, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


def _grad(f, th, h=1e-3):
    """Fourth-order central differences (truncation ~h^4, rounding ~eps/h)."""
    g = []
    for j in range(th.size):
        e = np.zeros(th.size)
        e[j] = h
        g.append((8 * (f(th + e) - f(th - e)) - (f(th + 2 * e) - f(th - 2 * e))) / (12 * h))
    return np.array(g).T


@pytest.mark.parametrize("fam,thetas,rng_", CASES, ids=IDS)
def test_log_partition_moments_and_entropy(fam, thetas, rng_) -> None:
    lo, hi = rng_
    for th in thetas:
        # A against quadrature of the unnormalised density
        Z = quad(lambda x, th=th: np.exp(fam.sufficient_statistics(x)[0] @ th), lo, hi, epsabs=0, epsrel=1e-13,
                 limit=200)[0]
        assert fam.log_partition(th) == pytest.approx(np.log(Z), abs=1e-10)
        # moments: numerical derivatives of A (to 1e-8) and quadrature
        m = fam.mean(th)
        assert np.max(np.abs(m - _grad(fam.log_partition, th))) < 1e-8
        for j in range(fam.n_stats):
            assert m[j] == pytest.approx(_quad(fam, th, lambda x, j=j: fam.sufficient_statistics(x)[0][j], lo, hi),
                                         abs=1e-9)
        # covariance: numerical derivative of the mean, symmetric positive definite
        C = fam.covariance(th)
        assert np.max(np.abs(C - _grad(fam.mean, th))) < 1e-8
        assert np.all(np.linalg.eigvalsh(C) > 0)
        # entropy and KL against quadrature
        H = _quad(fam, th, lambda x, th=th: -fam.logpdf(x, th)[0], lo, hi)
        assert fam.entropy(th) == pytest.approx(H, abs=1e-9)
        other = thetas[0] if th is not thetas[0] else thetas[-1]
        kl = _quad(fam, th, lambda x, th=th, o=other: fam.logpdf(x, th)[0] - fam.logpdf(x, o)[0], lo, hi)
        assert fam.kl(th, other) == pytest.approx(kl, abs=1e-9)
        assert fam.cross_entropy(th, other) == pytest.approx(fam.entropy(th) + fam.kl(th, other), abs=1e-12)


def test_closed_forms() -> None:
    g, e = Gaussian(), Exponential()
    th = Gaussian.natural(1.2, 0.5)
    assert g.standard(th) == pytest.approx((1.2, 0.5))
    assert g.entropy(th) == pytest.approx(0.5 * np.log(2 * np.pi * np.e * 0.5), abs=1e-14)
    assert e.entropy(Exponential.natural(2.0)) == pytest.approx(1 - np.log(2.0), abs=1e-14)
    assert np.allclose(e.mean(Exponential.natural(2.0)), [0.5])
    v = VonMises()
    assert v.log_partition(np.zeros(2)) == pytest.approx(np.log(2 * np.pi))
    assert v.log_partition(np.array([800.0, 0.0])) == pytest.approx(800 + np.log(2 * np.pi) - 0.5 * np.log(
        2 * np.pi * 800) + np.log1p(1 / 6400 + 9 / (2 * 6400 ** 2)), abs=1e-9)  # large-kappa asymptotics, no overflow


@pytest.mark.parametrize("fam,thetas,rng_", CASES, ids=IDS)
def test_samples_have_the_moments(fam, thetas, rng_) -> None:
    """z-scores of the sample means of T with the exact covariance (fixed seed)."""
    th = thetas[0]
    n = 20_000
    x = fam.sample(th, n, rng=0)
    T = fam.sufficient_statistics(x)
    z = (T.mean(axis=0) - fam.mean(th)) / np.sqrt(np.diag(fam.covariance(th)) / n)
    assert np.all(np.abs(z) < 4), z


@pytest.mark.parametrize("fam,targets", [
    (Gaussian(), [[0.3, 2.0], [-5.0, 25.5], [10.0, 100.01]]),
    (Exponential(), [[0.01], [1.0], [250.0]]),
    (VonMises(), [[0.0, 0.0], [0.3, -0.4], [0.0, 0.999], [-0.95, 0.1]]),
], ids=IDS)
def test_fit_maxent_reaches_the_constraints(fam, targets) -> None:
    for t in targets:
        fit = fam.fit_maxent(t)
        assert fit.converged, fit.message
        assert np.all(np.abs(fit.means - np.asarray(t)) <= 1e-12 * np.maximum(1, np.abs(t)) + 1e-13), fit
        assert fit.entropy == pytest.approx(fam.entropy(fit.theta), abs=1e-12)
        if not isinstance(fam, VonMises):  # closed-form inverse of the mean map
            assert np.allclose(fit.theta, fam.theta_from_mean(t), rtol=1e-9, atol=1e-12)


def test_maxent_beats_other_densities_with_the_same_moments() -> None:
    """Among densities with given E[x], E[x^2] the Gaussian has the largest entropy; among densities on [0, inf)
    with given mean, the exponential (closed-form entropies of the competitors)."""
    m, var = 0.7, 2.0
    H = Gaussian().fit_maxent([m, m * m + var]).entropy
    laplace = 1 + np.log(2 * np.sqrt(var / 2))       # Laplace with variance 2 b^2 = var
    uniform = np.log(np.sqrt(12 * var))               # uniform with width^2 / 12 = var
    assert H > laplace > uniform
    mean = 1.5
    He = Exponential().fit_maxent([mean]).entropy
    assert He > np.log(2 * mean)                      # uniform on [0, 2 mean]
    s = mean * np.sqrt(np.pi / 2)                     # half-normal with that mean
    assert He > 0.5 * np.log(np.pi * s * s / 2) + 0.5


def test_cramer_rate() -> None:
    e = Exponential()
    lam = 2.0
    th = Exponential.natural(lam)
    a = np.array([0.1, 0.3, 0.5, 1.0, 2.0])
    closed = a * lam - 1 - np.log(a * lam)
    assert np.allclose(e.cramer_rate(a, th), closed, atol=1e-12)
    # the Legendre transform of the log-MGF ln(lam / (lam - s)) (s < lam), computed by spinlens.expfam.cramer_rate
    # (theta_max keeps the search inside s < lam above the mean, and reaches the optimum lam - 1/a below it)
    via_mgf = [expfam.cramer_rate(float(ai), log_mgf=lambda s: np.log(lam / (lam - s)),
                                  theta_max=20.0 if ai < 1 / lam else lam * (1 - 1e-9)) for ai in a]
    assert np.allclose(via_mgf, closed, atol=1e-7)
    assert e.cramer_rate(0.5, th) == 0.0 and e.cramer_rate(-1.0, th) == np.inf
    # exact tail of the mean of n exponentials (Gamma(n, rate n lam)) approaches exp(-n I)
    n = 500  # (logsf stays finite: the tail is about e^-150)
    tail = -gamma.logsf(1.0, n, scale=1.0 / (n * lam)) / n
    assert tail == pytest.approx(e.cramer_rate(1.0, th), abs=2 * np.log(n) / n)
    # contraction: the rate of the mean of x alone is min over E[x^2] of the joint rate = (a - m)^2 / (2 var)
    g = Gaussian()
    thg = Gaussian.natural(0.5, 1.5)
    a1 = 1.4
    grid = np.linspace(a1 * a1 + 1e-3, a1 * a1 + 5.0, 4001)
    joint = g.cramer_rate(np.stack([np.full(grid.size, a1), grid], axis=1), thg)
    assert joint.min() == pytest.approx((a1 - 0.5) ** 2 / (2 * 1.5), abs=1e-6)
    assert g.cramer_rate([a1, a1 * a1 - 0.1], thg) == np.inf
    v = VonMises()
    thv = VonMises.natural(0.3, 1.2)
    assert v.cramer_rate(v.mean(thv), thv) == pytest.approx(0.0, abs=1e-12)
    assert v.cramer_rate([0.8, 0.7], thv) == np.inf


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="natural parameter space"):
        Gaussian().log_partition([0.0, 0.5])
    with pytest.raises(ValueError, match="natural parameter space"):
        Exponential().mean([1.0])
    with pytest.raises(ValueError, match="not the means"):
        Gaussian().fit_maxent([1.0, 0.5])
    with pytest.raises(ValueError, match="not the means"):
        VonMises().fit_maxent([1.0, 0.5])
    with pytest.raises(ValueError, match="support"):
        Exponential().logpdf([-1.0], [-1.0])


# ------------------------------------------------------------------ log loss = max ent = minimax
def test_equivalence_on_the_brandeis_die() -> None:
    """Jaynes' die with mean 4.5 (E. T. Jaynes, 'Where do we stand on maximum entropy?', 1978)."""
    die = DiscreteExpFamily(np.arange(1, 7.0))
    r = maxent_equivalence(die, target_means=[4.5])
    jaynes = [0.05435, 0.07877, 0.11416, 0.16545, 0.23977, 0.34749]
    assert np.allclose(r.maxent, jaynes, atol=1e-5)
    assert r.max_difference < 1e-8 and r.value_difference < 1e-8
    for p in (r.log_loss, r.maxent, r.minimax):
        assert p @ np.arange(1, 7.0) == pytest.approx(4.5, abs=1e-9) and p.sum() == pytest.approx(1.0, abs=1e-12)
    assert r.worst_case_loss == pytest.approx(r.minimax_value, abs=1e-8)  # an equaliser
    assert r.entropy == pytest.approx(expfam.entropy(r.maxent / r.maxent.sum()), abs=1e-10)


def test_equivalence_on_ising_data() -> None:
    fam = expfam.ising_family(3)
    p = fam.probabilities(expfam.ising_theta(sk(3, rng=1), beta=0.7))
    data = np.random.default_rng(0).multinomial(300, p) / 300
    r = maxent_equivalence(fam, data=data)
    assert r.max_difference < 1e-8 and r.value_difference < 1e-8
    # against spinlens's own maximum-entropy solver and a direct evaluation of the log loss
    fit = fam.fit_maxent(data @ fam.stats)
    assert np.allclose(r.theta, fit.theta, atol=1e-7)
    assert r.log_loss_value == pytest.approx(-float(data @ np.log(r.log_loss)), abs=1e-10)
    assert r.entropy == pytest.approx(fit.entropy, abs=1e-9)
    # the minimax predictor is an equaliser; the data themselves (also in C) have a worse worst case
    assert r.worst_case_loss == pytest.approx(r.minimax_value, abs=1e-8)
    from spinlens.expfam.equivalence import _worst_case

    assert _worst_case(fam.stats, -np.log(np.maximum(data, 1e-300)), data @ fam.stats) > r.minimax_value + 1e-3


def test_equivalence_with_a_base_measure() -> None:
    x = np.arange(5.0)
    fam = DiscreteExpFamily(np.c_[x, x * x], base_measure=[1.0, 2.0, 3.0, 2.0, 1.0])
    r = maxent_equivalence(fam, target_means=[2.2, 6.0])
    assert r.max_difference < 1e-8 and r.value_difference < 1e-8
    assert np.allclose(r.maxent, fam.probabilities(fam.fit_maxent([2.2, 6.0]).theta), atol=1e-9)


def test_equivalence_refuses_bad_constraints() -> None:
    die = DiscreteExpFamily(np.arange(1, 7.0))
    with pytest.raises(ValueError, match="boundary"):
        maxent_equivalence(die, target_means=[6.0])
    with pytest.raises(ValueError, match="convex hull"):
        maxent_equivalence(die, target_means=[7.0])
    with pytest.raises(ValueError, match="exactly one"):
        maxent_equivalence(die)
    with pytest.raises(TypeError):
        maxent_equivalence("die", target_means=[3.0])  # type: ignore[arg-type]
