r"""Concentration and large deviations for i.i.d. samples (Balsubramani, arXiv:2409.18630, section 5).

* Cramér: :math:`P(\bar X_n \ge a) = e^{-n I(a) + o(n)}`, :math:`I(a) = \sup_\theta[\theta a - \Lambda(\theta)]`,
  :math:`\Lambda(\theta) = \ln E e^{\theta X}` (Legendre transform of the log-MGF).
* Chernoff: :math:`P(\bar X_n \ge a) \le e^{-n I(a)}` for :math:`a \ge E X` (and the mirror bound below).
* Sanov: the multinomial probability of the histogram ``counts`` under ``q`` is
  :math:`e^{-n\,KL(\hat p\|q) + O(\log n)}`.
* Gibbs conditioning: conditioned on :math:`\bar X_n \approx a`, one sample follows the tilted law
  :math:`q_\theta(x) \propto q(x) e^{\theta x}` with mean ``a``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln, logsumexp, xlogy

from spinlens.meanfield.naive import naive, naive_free_energy
from spinlens.spins.model import IsingModel, as_count, as_positive, as_real, as_real_array, check_model

__all__ = [
    "chernoff_bound",
    "cramer_rate",
    "entropy",
    "gibbs_conditioning",
    "gibbs_lower_bound",
    "kl_divergence",
    "cross_entropy",
    "sanov_log_prob",
]


def _dist(p: Any, name: str) -> np.ndarray:
    a = as_real_array(p, name, allow_empty=True, finite=False)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be a 1-D array of non-negative finite numbers.")
    s = a.sum()
    if not s > 0:
        raise ValueError(f"{name} must not be all zero.")
    if abs(s - 1.0) > 1e-8:
        raise ValueError(f"{name} must sum to 1 (got {s:.6g}); normalise it first.")
    return a


def entropy(p: Any) -> float:
    r"""Shannon entropy :math:`-\sum_x p(x)\ln p(x)` in nats."""
    a = _dist(p, "p")
    return float(-np.sum(xlogy(a, a)))


def kl_divergence(p: Any, q: Any) -> float:
    r""":math:`KL(p\|q) = \sum_x p(x)\ln(p(x)/q(x))` (``inf`` when p puts mass where q has none)."""
    a, b = _dist(p, "p"), _dist(q, "q")
    if a.shape != b.shape:
        raise ValueError(f"p and q must have the same shape, got {a.shape} and {b.shape}.")
    if np.any((a > 0) & (b == 0)):
        return float("inf")
    m = a > 0
    return float(np.sum(a[m] * (np.log(a[m]) - np.log(b[m]))))


def cross_entropy(p: Any, q: Any) -> float:
    r""":math:`-\sum_x p(x)\ln q(x) = H(p) + KL(p\|q)`."""
    return entropy(p) + kl_divergence(p, q)


def _log_mgf_factory(
    log_mgf: Callable[[float], float] | None, values: Any, probs: Any, samples: Any
) -> tuple[Callable[[float], float], float, float, float]:
    """(Lambda, mean, lower support, upper support) from one of the three descriptions."""
    given = sum(x is not None for x in (log_mgf, values, samples))
    if given != 1:
        raise ValueError("give exactly one of log_mgf=, values= (with probs=) or samples=.")
    if samples is not None:
        x = as_real_array(samples, "samples").ravel()
        values, inv = np.unique(x, return_inverse=True)
        probs = np.bincount(inv) / x.size
    if values is not None:
        v = as_real_array(values, "values", ndim=1)
        p = np.full(v.size, 1.0 / v.size) if probs is None else _dist(probs, "probs")
        if p.shape != v.shape:
            raise ValueError(f"values and probs must have the same length, got {v.size} and {p.size}.")
        v, p = v[p > 0], p[p > 0]
        lp = np.log(p)

        def lam(th: float) -> float:
            return float(logsumexp(th * v + lp))

        return lam, float(p @ v), float(v.min()), float(v.max())
    assert log_mgf is not None
    h = 1e-5
    mean = (log_mgf(h) - log_mgf(-h)) / (2 * h)
    return log_mgf, float(mean), -np.inf, np.inf


def cramer_rate(
    a: Any,
    *,
    log_mgf: Callable[[float], float] | None = None,
    values: Any = None,
    probs: Any = None,
    samples: Any = None,
    theta_max: float = 200.0,
) -> Any:
    r"""Cramér rate function :math:`I(a) = \sup_\theta [\theta a - \Lambda(\theta)]` (Legendre transform).

    Describe ``X`` by a log-MGF callable :math:`\Lambda(\theta)`, by a finite distribution
    (``values``, ``probs``; uniform if ``probs`` is None) or by ``samples`` (their empirical law).
    For a finite law, :math:`I(a) = \infty` outside [min, max] and :math:`I(\max) = -\ln P(X = \max)`.
    ``a`` may be a scalar or an array.
    """
    lam, mean, lo, hi = _log_mgf_factory(log_mgf, values, probs, samples)
    theta_max = as_positive(theta_max, "theta_max")
    if isinstance(a, (bool, np.bool_)):
        as_real(a, "a")
    A = as_real_array(a, "a", allow_empty=True)
    out = np.empty(A.shape)
    for idx, ai in np.ndenumerate(A):
        out[idx] = _rate_one(float(ai), lam, mean, lo, hi, theta_max, values, probs, samples)
    return float(out) if out.ndim == 0 else out


def _rate_one(a: float, lam: Callable[[float], float], mean: float, lo: float, hi: float, tmax: float,
              values: Any, probs: Any, samples: Any) -> float:
    if not np.isfinite(a):
        raise ValueError("a must be finite.")
    if a < lo or a > hi:
        return float("inf")
    if a == mean:
        return 0.0
    if np.isfinite(lo) and (a == lo or a == hi):
        return _edge_rate(a, values, probs, samples)  # I = -ln P(X = a) at the ends of a finite support
    t = tmax
    for _ in range(12):  # the supremum must be interior: a maximiser at the end of the range is only a lower bound
        bounds = (0.0, t) if a > mean else (-t, 0.0)
        res = minimize_scalar(lambda th: lam(th) - th * a, bounds=bounds, method="bounded",
                              options={"xatol": 1e-12 * max(1.0, t)})
        if abs(float(res.x)) < 0.999 * t or not np.isfinite(lam(np.sign(a - mean) * 4 * t)):
            return float(max(0.0, -res.fun))
        t *= 4.0
    raise ValueError(f"the rate at a = {a} needs theta beyond {t:.3g} (the Legendre supremum is not reached): "
                     "a lies too close to the edge of the support for a numerical rate.")


def _edge_rate(a: float, values: Any, probs: Any, samples: Any) -> float:
    if samples is not None:
        x = np.asarray(samples, dtype=np.float64).ravel()
        return float(-np.log(np.mean(x == a)))
    v = np.asarray(values, dtype=np.float64).ravel()
    p = np.full(v.size, 1.0 / v.size) if probs is None else np.asarray(probs, dtype=np.float64)
    return float(-np.log(p[v == a].sum()))


def chernoff_bound(a: float, n: int, **law: Any) -> float:
    r"""Chernoff bound on :math:`P(\bar X_n \ge a)` (``a`` above the mean) or :math:`P(\bar X_n \le a)`
    (below): :math:`e^{-n I(a)}`. ``law`` describes X as in :func:`cramer_rate`."""
    n = as_count(n, "n", minimum=1)
    return float(np.exp(-n * cramer_rate(as_real(a, "a"), **law)))


def sanov_log_prob(counts: Any, q: Any) -> float:
    r"""Exact log-probability of the histogram ``counts`` under the multinomial law with cell probabilities ``q``:

    .. math:: \ln P = \ln n! - \sum_x \ln c_x! + \sum_x c_x \ln q_x \;=\; -n\,KL(c/n\,\|\,q) + O(\log n).
    """
    c = as_real_array(counts, "counts", allow_empty=True)
    if c.ndim != 1 or c.size == 0 or np.any(c < 0) or np.any(c != np.round(c)):
        raise ValueError("counts must be a 1-D array of non-negative integers.")
    qq = _dist(q, "q")
    if qq.shape != c.shape:
        raise ValueError(f"counts and q must have the same length, got {c.size} and {qq.size}.")
    c = c.astype(np.float64)
    if np.any((c > 0) & (qq == 0)):
        return float("-inf")
    n = c.sum()
    return float(gammaln(n + 1) - np.sum(gammaln(c + 1)) + np.sum(xlogy(c, qq)))


def gibbs_conditioning(values: Any, q: Any, a: float) -> tuple[np.ndarray, float]:
    r"""Tilted law :math:`q_\theta(x) = q(x) e^{\theta x} / E_q e^{\theta X}` whose mean is ``a``.

    Returns ``(p, theta)``. This is the limit law of one draw from ``q`` conditioned on the empirical
    mean of ``n`` i.i.d. draws being ``a`` (Gibbs conditioning principle), and the I-projection of ``q`` onto
    :math:`\{p : E_p X = a\}`.
    """
    v = as_real_array(values, "values", ndim=1)
    qq = _dist(q, "q")
    a = as_real(a, "a")
    if v.shape != qq.shape:
        raise ValueError(f"values and q must have the same length, got {v.size} and {qq.size}.")
    sup = qq > 0
    lo, hi = float(v[sup].min()), float(v[sup].max())
    if not lo < a < hi:
        raise ValueError(f"a = {a} must lie strictly between the smallest ({lo}) and largest ({hi}) values of q.")
    lq = np.where(sup, np.log(np.where(sup, qq, 1.0)), -np.inf)

    def tilted(th: float) -> np.ndarray:
        z = th * v + lq
        return np.exp(z - logsumexp(z))

    def gap(th: float) -> float:
        return float(tilted(th) @ v) - a

    lo_t, hi_t = -1.0, 1.0
    while gap(lo_t) > 0:
        lo_t *= 2
    while gap(hi_t) < 0:
        hi_t *= 2
    th = brentq(gap, lo_t, hi_t, xtol=1e-14)
    return tilted(th), float(th)


def gibbs_lower_bound(model: IsingModel, beta: float, m: Any = None, **naive_kw: Any) -> float:
    r"""Naive mean-field lower bound on :math:`\ln Z` from the Gibbs variational principle:

    .. math:: \ln Z = \max_q [-\beta E_q H + S(q)] \ \ge\ -\beta E_q H + S(q) = -\beta F_{MF}(m)

    for the product law with magnetisations ``m`` (default: the naive mean-field solution of
    :func:`spinlens.meanfield.naive`, started from the all-up state, which maximises the bound locally).
    """
    check_model(model)
    beta = as_positive(beta, "beta")
    if m is None:
        naive_kw.setdefault("m0", np.full(model.n_spins, 0.5))
        m = naive(model, beta, **naive_kw).m
    return -float(beta) * float(naive_free_energy(model, m, beta))
