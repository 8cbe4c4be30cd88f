"""Large deviations: Cramér vs exact binomial tails, Chernoff, Sanov, Gibbs conditioning."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from spinlens.expfam import chernoff_bound, cramer_rate, gibbs_conditioning, kl_divergence, sanov_log_prob


def test_cramer_rate_of_bernoulli_is_the_binary_kl() -> None:
    p = 0.3
    a = np.array([0.1, 0.3, 0.5, 0.8])
    expect = a * np.log(a / p) + (1 - a) * np.log((1 - a) / (1 - p))
    np.testing.assert_allclose(cramer_rate(a, values=[0, 1], probs=[1 - p, p]), expect, atol=1e-9)
    # endpoints and outside the support
    assert cramer_rate(1.0, values=[0, 1], probs=[1 - p, p]) == pytest.approx(-np.log(p))
    assert cramer_rate(1.5, values=[0, 1], probs=[1 - p, p]) == np.inf
    # from a log-MGF callable and from samples
    lam = lambda th: np.log(1 - p + p * np.exp(th))
    assert cramer_rate(0.6, log_mgf=lam) == pytest.approx(cramer_rate(0.6, values=[0, 1], probs=[1 - p, p]), abs=1e-8)
    x = np.r_[np.zeros(70), np.ones(30)]
    assert cramer_rate(0.6, samples=x) == pytest.approx(cramer_rate(0.6, values=[0, 1], probs=[0.7, 0.3]), abs=1e-9)


def test_cramer_matches_exact_binomial_tails_and_chernoff_bounds_them() -> None:
    p, a = 0.3, 0.5
    rate = cramer_rate(a, values=[0, 1], probs=[1 - p, p])
    gaps = []
    for n in (50, 200, 800, 3200):
        log_tail = binom.logsf(int(np.ceil(n * a)) - 1, n, p)  # log P(mean >= a)
        assert np.exp(log_tail) <= chernoff_bound(a, n, values=[0, 1], probs=[1 - p, p])
        gap = -log_tail / n - rate
        gaps.append(gap)
        assert 0 <= gap <= 1.5 * np.log(n) / n  # -1/n log P = I(a) + O(log n / n)
    assert gaps[-1] < gaps[0] / 20


def test_sanov_log_probability_is_minus_n_kl_up_to_log_n() -> None:
    q = np.array([0.1, 0.2, 0.3, 0.4])
    phat = np.array([0.25, 0.25, 0.25, 0.25])
    k = q.size
    for n in (40, 400, 4000, 40000):
        counts = np.round(phat * n).astype(int)
        lp = sanov_log_prob(counts, q)
        diff = lp + n * kl_divergence(counts / n, q)
        # Stirling: diff = -((k - 1)/2) ln(2 pi n) - 1/2 sum ln phat_x + o(1)
        assert abs(diff) <= (k - 1) / 2 * np.log(2 * np.pi * n) + 0.5 * np.sum(-np.log(phat)) + 0.1
        expect = -(k - 1) / 2 * np.log(2 * np.pi * n) - 0.5 * np.sum(np.log(phat))
        assert diff == pytest.approx(expect, abs=0.05)
    assert sanov_log_prob([3, 0], [1.0, 0.0]) == pytest.approx(0.0)
    assert sanov_log_prob([1, 1], [1.0, 0.0]) == -np.inf


def test_gibbs_conditioning_is_the_limit_of_exact_conditional_laws() -> None:
    values = np.array([0, 1, 2, 3])
    q = np.array([0.4, 0.3, 0.2, 0.1])
    a = 1.5
    tilted, theta = gibbs_conditioning(values, q, a)
    assert tilted @ values == pytest.approx(a, abs=1e-12) and theta > 0
    tv = []
    for n in (10, 40, 160):
        # exact law of X_1 given sum_{i<=n} X_i = n a, by convolution of q
        pmf = np.array([1.0])
        pmfs = [pmf]
        for _ in range(n - 1):
            pmf = np.convolve(pmf, q)
            pmfs.append(pmf)
        s = int(n * a)
        rest = pmfs[n - 1]
        cond = np.array([q[x] * (rest[s - x] if 0 <= s - x < rest.size else 0.0) for x in values])
        cond /= cond.sum()
        tv.append(0.5 * np.abs(cond - tilted).sum())
    assert tv[2] < tv[1] < tv[0] and tv[2] < 0.01


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        cramer_rate(0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        cramer_rate(0.5, values=[0, 1], probs=[0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative integers"):
        sanov_log_prob([1.5, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="strictly between"):
        gibbs_conditioning([0, 1], [0.5, 0.5], 1.0)
    with pytest.raises(ValueError):
        chernoff_bound(0.5, 0, values=[0, 1])
    # mismatched shapes
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="same length"):
        sanov_log_prob([1, 2, 3], [0.5, 0.5])
    with pytest.raises(ValueError, match="same length"):
        gibbs_conditioning([0, 1, 2], [0.5, 0.5], 0.5)
    with pytest.raises(ValueError, match="same length"):
        cramer_rate(0.5, values=[0, 1, 2], probs=[0.5, 0.5])


def test_cramer_rate_beyond_the_default_theta_range_is_not_cut_off():
    """The Legendre supremum of a Gaussian at a = 300 lies at theta = 300 > theta_max = 200: the range grows
    instead of returning the value at theta = 200 (a silent underestimate, 40000 instead of 45000)."""
    from spinlens.expfam.largedev import cramer_rate

    assert cramer_rate(300.0, log_mgf=lambda th: th * th / 2) == pytest.approx(45000.0, rel=1e-9)
    assert cramer_rate(-300.0, log_mgf=lambda th: th * th / 2) == pytest.approx(45000.0, rel=1e-9)
