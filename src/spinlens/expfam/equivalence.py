r"""Log loss, maximum entropy and robust Bayes coincide on a finite exponential family, solved three ways.

For a finite set of states with statistics :math:`T(x)`, base measure :math:`\mu` and moment constraints
:math:`C = \{p : E_p T = t\}` (``t`` in the interior of the convex hull of the statistics), three problems
(A. Balsubramani, *Entropy, concentration, and learning: a statistical mechanics primer*,
arXiv:2409.18630; P. D. Grünwald & A. P. Dawid, *Game theory, maximum entropy,
minimum discrepancy and robust Bayesian decision theory*, Ann. Statist. 32(4), 1367-1433 (2004); F. Topsøe,
*Information-theoretical optimization techniques*, Kybernetika 15(1), 8-27 (1979)) have one solution:

1. **Log loss over the exponential family**: :math:`\min_\theta E_{\hat p}[-\ln(p_\theta(x)/\mu(x))]` for data
   :math:`\hat p\in C`, whose objective is :math:`A(\theta) - \theta\cdot t` (the data enter only through
   ``t``). Solved here by SciPy's trust-region Newton (``trust-exact``) on :math:`\theta`.
2. **Maximum entropy** over *all* distributions on the states: :math:`\max_{p\in C} -KL(p\|\mu)` (the Shannon
   entropy for :math:`\mu = 1`). Solved here on the simplex, without the exponential form, by infeasible-start
   Newton for equality-constrained convex problems (S. Boyd & L. Vandenberghe, *Convex Optimization*, 2004,
   algorithm 10.2) on :math:`f(p) = \sum_x p_x\ln(p_x/\mu_x)`, :math:`Bp = (t, 1)`.
3. **Minimax (robust Bayes)**: the predictor with the best worst case over :math:`C`,
   :math:`\min_q\max_{p\in C}E_p[-\ln(q(x)/\mu(x))]`. By linear-programming duality of the inner maximum this is
   the convex program :math:`\min_{u,\lambda,\nu}\ \lambda\cdot t + \nu` subject to
   :math:`\lambda\cdot T(x) + \nu + u_x - \ln\mu_x \ge 0` and :math:`\ln\sum_x e^{u_x}\le 0`
   (:math:`u = \ln q`), solved here by a log-barrier interior-point method (Boyd & Vandenberghe, section 11.3).
   The exponential form :math:`q_x = \mu_x e^{-\lambda\cdot T(x) - \nu}` is not imposed: it comes out of the
   active constraints. The worst case of the answer is then recomputed by an exact LP over :math:`C`
   (``linprog``): the optimal predictor is an *equaliser*, its loss is the same for every :math:`p\in C`.

The three optimal values are equal as well: min log loss = max entropy = minimax risk (:math:`A(\theta^*) -
\theta^*\cdot t`). The reformulation of problem 3 as one convex program is spinlens's own derivation (dualising the
inner LP and eliminating the normalisation, standard steps); the tests check it against the other two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from spinlens.expfam.families import DiscreteExpFamily
from spinlens.results import Result
from spinlens.spins.model import as_positive, as_real_array

__all__ = ["EquivalenceResult", "maxent_equivalence"]


@dataclass(frozen=True)
class EquivalenceResult(Result):
    r"""The three solutions of :func:`maxent_equivalence` and their values.

    ``log_loss``, ``maxent``, ``minimax``: (n_states,) distributions from problems 1, 2, 3 (zero off the support
    of the base measure). ``theta``: natural parameters of problem 1. ``log_loss_value``, ``entropy``,
    ``minimax_value``: the three optimal values (relative to the base measure). ``worst_case_loss``: the exact-LP
    maximum over C of the expected loss of ``minimax``. ``max_difference``: the largest entry-wise difference
    between any two of the three distributions; ``value_difference``: the largest difference between the three
    values. ``data``: the distribution in C whose log loss problem 1 minimised. ``messages``: how each solver
    stopped.
    """

    target: np.ndarray
    data: np.ndarray
    theta: np.ndarray
    log_loss: np.ndarray
    maxent: np.ndarray
    minimax: np.ndarray
    log_loss_value: float
    entropy: float
    minimax_value: float
    worst_case_loss: float
    max_difference: float
    value_difference: float
    messages: tuple[str, ...] = ()


def _dist(p: Any, n: int, name: str) -> np.ndarray:
    a = as_real_array(p, name, shape=(n,))
    if np.any(a < 0) or abs(float(a.sum()) - 1.0) > 1e-10:
        raise ValueError(f"{name} must be a probability vector over the {n} states (non-negative, summing to 1).")
    return a


def _solve_log_loss(S: np.ndarray, logmu: np.ndarray, data: np.ndarray, tol: float) -> tuple[np.ndarray, str]:
    from scipy.optimize import minimize

    t = data @ S
    const = -float(data @ logmu)

    def parts(th: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        a = S @ th + logmu
        A = float(logsumexp(a))
        p = np.exp(a - A)
        m = p @ S
        return A, p, m

    def fun(th: np.ndarray) -> float:
        A, _, _ = parts(th)
        return A - float(th @ t) + const  # = E_data[-ln(p_theta / mu)]

    def jac(th: np.ndarray) -> np.ndarray:
        return parts(th)[2] - t

    def hess(th: np.ndarray) -> np.ndarray:
        _, p, m = parts(th)
        C = (S * p[:, None]).T @ S - np.outer(m, m)
        return 0.5 * (C + C.T)

    res = minimize(fun, np.zeros(S.shape[1]), jac=jac, hess=hess, method="trust-exact",
                   options={"gtol": tol, "maxiter": 1000})
    return np.asarray(res.x), f"log loss (trust-exact): {res.message} after {res.nit} iterations"


def _solve_maxent_primal(S: np.ndarray, logmu: np.ndarray, t: np.ndarray, tol: float) -> tuple[np.ndarray, str]:
    n = S.shape[0]
    B = np.vstack([S.T, np.ones((1, n))])
    c = np.concatenate([t, [1.0]])
    p = np.full(n, 1.0 / n)
    w = np.zeros(B.shape[0])

    def residual(p: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.concatenate([np.log(p) - logmu + 1.0 + B.T @ w, B @ p - c])

    it = 0
    msg = "max iterations reached"
    for it in range(200):  # noqa: B007 - reported below
        r = residual(p, w)
        if np.max(np.abs(r)) <= tol:
            msg = "KKT residual below tol"
            break
        K = np.block([[np.diag(1.0 / p), B.T], [B, np.zeros((B.shape[0], B.shape[0]))]])
        d = np.linalg.lstsq(K, -r, rcond=None)[0]
        dp, dw = d[:n], d[n:]
        s = 1.0
        while np.any(p + s * dp <= 0):
            s *= 0.5
        r0 = float(np.linalg.norm(r))
        while s > 1e-12 and np.linalg.norm(residual(p + s * dp, w + s * dw)) > (1 - 0.01 * s) * r0:
            s *= 0.5
        p, w = p + s * dp, w + s * dw
    return p, f"maximum entropy (infeasible-start Newton on the simplex): {msg} after {it} iterations"


def _solve_minimax(S: np.ndarray, logmu: np.ndarray, t: np.ndarray, tol: float) -> tuple[np.ndarray, float, str]:
    n, k = S.shape
    M = np.hstack([np.eye(n), S, np.ones((n, 1))])  # rows a_x: s_x = a_x . z - ln mu_x
    cvec = np.concatenate([np.zeros(n), t, [1.0]])
    u0 = np.full(n, -np.log(n) - 1.0)
    z = np.concatenate([u0, np.zeros(k), [float(np.max(logmu - u0)) + 1.0]])

    def phi(z: np.ndarray, tau: float) -> float:
        s = M @ z - logmu
        r = -float(logsumexp(z[:n]))
        if np.any(s <= 0) or r <= 0:
            return np.inf
        return tau * float(cvec @ z) - float(np.sum(np.log(s))) - np.log(r)

    tau = 1.0
    n_newton = 0
    while True:
        for _ in range(100):
            s = M @ z - logmu
            lse = float(logsumexp(z[:n]))
            r = -lse
            pi = np.exp(z[:n] - lse)
            g = tau * cvec - M.T @ (1.0 / s)
            g[:n] += pi / r
            H = (M.T * (1.0 / s**2)) @ M
            H[:n, :n] += np.diag(pi) / r + np.outer(pi, pi) * (1.0 / r**2 - 1.0 / r)
            dz = np.linalg.lstsq(H, -g, rcond=None)[0]
            dec = -float(g @ dz)
            n_newton += 1
            if dec / 2 <= 1e-12:
                break
            step, f0 = 1.0, phi(z, tau)
            while phi(z + step * dz, tau) > f0 - 0.25 * step * dec and step > 1e-14:
                step *= 0.5
            z = z + step * dz
        if (n + 1) / tau <= tol:
            break
        tau *= 10.0
    u = z[:n]
    q = np.exp(u - logsumexp(u))
    value = float(cvec @ z)
    return q, value, (f"minimax (log-barrier interior point): duality gap {(n + 1) / tau:.1e} after {n_newton} "
                      "Newton steps")


def _worst_case(S: np.ndarray, loss: np.ndarray, t: np.ndarray) -> float:
    from scipy.optimize import linprog

    n = S.shape[0]
    res = linprog(-loss, A_eq=np.vstack([S.T, np.ones((1, n))]), b_eq=np.concatenate([t, [1.0]]),
                  bounds=[(0, None)] * n, method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        raise RuntimeError(f"the worst-case LP over the moment set failed: {res.message}")
    return float(-res.fun)


def maxent_equivalence(family: DiscreteExpFamily, data: Any = None, target_means: Any = None,
                       tol: float = 1e-11) -> EquivalenceResult:
    r"""Solve log-loss minimisation, maximum entropy and the minimax problem (module notes) independently and
    compare them.

    Parameters
    ----------
    family : a :class:`spinlens.expfam.DiscreteExpFamily` (the finite state space, its statistics and base measure).
    data : (n_states,) probabilities of the data (an empirical distribution); the constraints are its means.
    target_means : the constraints ``t`` instead of ``data`` (give exactly one); the log loss of problem 1 is then
        taken on one distribution in C found by an LP (any other gives the same minimiser).
    tol : solver tolerance (gradient of problem 1, KKT residual of problem 2, duality gap of problem 3).

    Returns an :class:`EquivalenceResult`; on a well-posed example all three distributions agree to ~1e-10.
    Cost: a few dozen dense solves of size n_states + k + 1 (keep n_states in the hundreds).
    """
    if not isinstance(family, DiscreteExpFamily):
        raise TypeError(f"family must be a spinlens DiscreteExpFamily, got {type(family).__name__}.")
    tol = as_positive(tol, "tol")
    if (data is None) == (target_means is None):
        raise ValueError("give exactly one of data= (a distribution over the states) or target_means=.")
    sup = family._support
    S = family.stats[sup]
    logmu = family.log_base[sup]
    n = family.n_states
    if data is not None:
        d_full = _dist(data, n, "data")
        if np.any(d_full[~sup] > 0):
            raise ValueError("data puts mass on states the base measure excludes (mu = 0).")
        d = d_full[sup]
        t = d @ S
    else:
        t = as_real_array(target_means, "target_means", shape=(family.n_stats,))
    family._check_interior(t, 0.0)  # outside / on the boundary of the hull: a clear ValueError
    if data is None:
        from scipy.optimize import linprog

        res = linprog(np.zeros(S.shape[0]), A_eq=np.vstack([S.T, np.ones((1, S.shape[0]))]),
                      b_eq=np.concatenate([t, [1.0]]), bounds=[(0, None)] * S.shape[0], method="highs")
        d = np.clip(np.asarray(res.x), 0.0, None)
        d = d / d.sum()
    theta, m1 = _solve_log_loss(S, logmu, d, tol)
    a = S @ theta + logmu
    A = float(logsumexp(a))
    q1 = np.exp(a - A)
    v1 = A - float(theta @ t)
    p2, m2 = _solve_maxent_primal(S, logmu, t, tol)
    v2 = -float(np.sum(p2 * (np.log(p2) - logmu)))
    q3, v3, m3 = _solve_minimax(S, logmu, t, tol)
    worst = _worst_case(S, -(np.log(q3) - logmu), t)

    def full(x: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        out[sup] = x
        return out

    diff = max(float(np.max(np.abs(q1 - p2))), float(np.max(np.abs(q1 - q3))), float(np.max(np.abs(p2 - q3))))
    vdiff = max(abs(v1 - v2), abs(v1 - v3), abs(v2 - v3))
    return EquivalenceResult(t, full(d), theta, full(q1), full(p2), full(q3), v1, v2, v3, worst, diff, vdiff,
                             (m1, m2, m3))
