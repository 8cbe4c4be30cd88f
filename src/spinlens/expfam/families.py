r"""Discrete exponential families :math:`p_\theta(x) = \mu(x)\exp(\theta\cdot T(x) - A(\theta))`.

Over a finite state space with sufficient statistics ``T`` (an ``(n_states, k)`` table) and base measure
:math:`\mu`: :math:`A(\theta) = \ln\sum_x \mu(x) e^{\theta\cdot T(x)}`, :math:`\nabla A = E_\theta[T]`,
:math:`\nabla^2 A = \mathrm{Cov}_\theta[T]`. Maximum entropy under :math:`E[T] = t` is the exponential-family
member with mean ``t`` (the I-projection), found by minimising the convex dual :math:`A(\theta) - \theta\cdot t`;
its value gives :math:`A^*(t) = -H(p_t)` (Balsubramani, arXiv:2409.18630, sections 2-4).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from spinlens.results import Result
from spinlens.spins.model import IsingModel, as_count, as_positive, as_real, as_real_array, check_model

_EPS = float(np.finfo(np.float64).eps)

__all__ = ["DiscreteExpFamily", "MaxEntResult", "BoundaryMomentsError", "ising_family", "ising_theta",
           "ising_from_theta"]


class BoundaryMomentsError(ValueError):
    """Target means on the boundary of the achievable set: the maximum-entropy parameters are infinite."""


@dataclass(frozen=True)
class MaxEntResult(Result):
    """Maximum-entropy fit: natural parameters, achieved means, convergence record.

    ``noise_floor`` is the float64 resolution of the computed moments at ``theta``; ``message`` says why the
    iteration stopped (tolerance met, stopped at the noise floor, line search stalled, ``max_iter``).
    """

    theta: np.ndarray
    means: np.ndarray
    target: np.ndarray
    max_error: float
    entropy: float
    converged: bool
    n_iter: int
    noise_floor: float = 0.0
    message: str = ""


class DiscreteExpFamily:
    r"""Exponential family on a finite set of states.

    Parameters
    ----------
    stats : (n_states, k) array
        Sufficient statistics :math:`T(x)` of each state.
    base_measure : (n_states,) array of non-negative weights, optional (default 1 for every state).
    """

    def __init__(self, stats: Any, base_measure: Any = None) -> None:
        T = as_real_array(stats, "stats (the (n_states, k) table of sufficient statistics)", ndim=(1, 2))
        if T.ndim == 1:
            T = T[:, None]
        if base_measure is None:
            log_mu = np.zeros(T.shape[0])
        else:
            mu = as_real_array(base_measure, "base_measure", shape=(T.shape[0],))
            if np.any(mu < 0) or not np.any(mu > 0):
                raise ValueError("base_measure must be non-negative weights, not all zero, one per state.")
            with np.errstate(divide="ignore"):
                log_mu = np.log(mu)
        self.stats = T
        self.log_base = log_mu
        self._support = np.isfinite(log_mu)

    # ------------------------------------------------------------------ basics
    @property
    def n_states(self) -> int:
        return int(self.stats.shape[0])

    @property
    def n_stats(self) -> int:
        return int(self.stats.shape[1])

    def _theta(self, theta: Any) -> np.ndarray:
        return as_real_array(theta, "theta (natural parameters, one per statistic)", shape=(self.n_stats,))

    def _logits(self, th: np.ndarray) -> np.ndarray:
        return self.stats @ th + self.log_base

    def log_partition(self, theta: Any) -> float:
        r""":math:`A(\theta) = \ln \sum_x \mu(x) e^{\theta\cdot T(x)}` (log-sum-exp, float64)."""
        return float(logsumexp(self._logits(self._theta(theta))))

    def probabilities(self, theta: Any) -> np.ndarray:
        r""":math:`p_\theta(x)` for every state, shape ``(n_states,)``."""
        a = self._logits(self._theta(theta))
        return np.exp(a - logsumexp(a))

    def mean(self, theta: Any) -> np.ndarray:
        r""":math:`\nabla A(\theta) = E_\theta[T]`, shape ``(k,)``."""
        return self.probabilities(theta) @ self.stats

    def covariance(self, theta: Any) -> np.ndarray:
        r""":math:`\nabla^2 A(\theta) = \mathrm{Cov}_\theta[T]`, shape ``(k, k)``."""
        p = self.probabilities(theta)
        mu = p @ self.stats
        C = (self.stats * p[:, None]).T @ self.stats - np.outer(mu, mu)
        return 0.5 * (C + C.T)

    def entropy(self, theta: Any) -> float:
        r"""Shannon entropy :math:`H(p_\theta) = A(\theta) - \theta\cdot E_\theta[T] - E_\theta[\ln\mu]` (nats)."""
        th = self._theta(theta)
        p = self.probabilities(th)
        elog = float(p[self._support] @ self.log_base[self._support])
        return self.log_partition(th) - float(th @ (p @ self.stats)) - elog

    def cross_entropy(self, theta_p: Any, theta_q: Any) -> float:
        r""":math:`-\sum_x p(x)\ln q(x) = A(\theta_q) - \theta_q\cdot E_p[T] - E_p[\ln\mu]`."""
        tp, tq = self._theta(theta_p), self._theta(theta_q)
        p = self.probabilities(tp)
        elog = float(p[self._support] @ self.log_base[self._support])
        return self.log_partition(tq) - float(tq @ (p @ self.stats)) - elog

    def kl(self, theta_p: Any, theta_q: Any) -> float:
        r"""Kullback-Leibler divergence, the Bregman divergence of A:

        .. math:: KL(p_{\theta_p}\|p_{\theta_q})
                  = A(\theta_q) - A(\theta_p) - (\theta_q - \theta_p)\cdot E_{\theta_p}[T]
        """
        tp, tq = self._theta(theta_p), self._theta(theta_q)
        return max(0.0, self.log_partition(tq) - self.log_partition(tp) - float((tq - tp) @ self.mean(tp)))

    def free_energy(self, theta: Any, beta: float = 1.0) -> float:
        r"""Free energy :math:`F = -A(\theta)/\beta` (with :math:`\theta = -\beta \times` energy coefficients)."""
        return -self.log_partition(theta) / as_positive(beta, "beta")

    # ------------------------------------------------------------------ maximum entropy
    @functools.cached_property
    def _abs_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """|T(x)| and |ln mu(x)| on the support (for the rounding estimates)."""
        return np.abs(self.stats[self._support]), np.abs(self.log_base[self._support])

    def _dual_terms(
        self, th: np.ndarray, t: np.ndarray, ridge: float
    ) -> tuple[float, np.ndarray, np.ndarray, float, float]:
        r"""One pass over the states at ``th``: dual value :math:`g`, gradient, probabilities and the float64
        noise floors of :math:`g` and of the gradient (see :meth:`fit_maxent`)."""
        a = self._logits(th)
        A = float(logsumexp(a))
        p = np.exp(a - A)
        mu = p @ self.stats
        f = A - float(th @ t) + 0.5 * ridge * float(th @ th)
        grad = mu - t + ridge * th
        sup = self._support
        absT, abs_log_mu = self._abs_terms
        ps = p[sup]
        # magnitude of each logit's terms: the rounding of T(x).theta + ln mu(x) is eps times s(x)
        s = absT @ np.abs(th) + abs_log_mu
        c = 1.0 + np.log2(self.n_states) + abs(A) + float(ps @ s) + float(ps @ np.abs(a[sup] - A))
        f_floor = 4.0 * _EPS * (c + float(np.abs(th) @ np.abs(t)) + 0.5 * ridge * float(th @ th))
        g_floor = 4.0 * _EPS * (c * float(np.max(ps @ absT)) + float(np.max(np.abs(t)))
                                + ridge * float(np.max(np.abs(th))))
        return f, grad, p, f_floor, g_floor

    def mean_noise_floor(self, theta: Any) -> float:
        r"""Float64 resolution of :math:`E_\theta[T]` (largest over the statistics): below this a moment
        mismatch is rounding, not a property of :math:`\theta` (see :meth:`fit_maxent`)."""
        th = self._theta(theta)
        return self._dual_terms(th, np.zeros(self.n_stats), 0.0)[4]

    def fit_maxent(
        self, target_means: Any, *, theta0: Any = None, tol: float = 1e-10, max_iter: int = 200, ridge: float = 0.0
    ) -> MaxEntResult:
        r"""Maximum-entropy distribution with :math:`E_p[T] = t`, by damped Newton on the convex dual.

        Minimises :math:`g(\theta) = A(\theta) - \theta\cdot t\,(+\tfrac{\text{ridge}}{2}\|\theta\|^2)`; gradient
        :math:`E_\theta[T] - t`, Hessian :math:`\mathrm{Cov}_\theta[T]` (pseudo-inverse for redundant statistics).
        The solution is the I-projection / exponential-family MLE.

        Stopping rule, at the precision float64 can deliver:

        * converged when every moment matches, :math:`|E_\theta T_k - t_k| \le \max(\text{tol}\cdot s_k,
          \epsilon_g)`, with :math:`s_k = \max_x |T_k(x)|` the scale of statistic ``k`` and :math:`\epsilon_g`
          the rounding floor of the computed moments (:meth:`mean_noise_floor`, :math:`4\epsilon_{64}` times the
          magnitude of the logits :math:`|T(x)|\cdot|\theta|`, of :math:`A` and :math:`\log_2` of the number
          of states). A ``tol`` below that floor stops at the floor, and ``message`` says so.
        * Backtracking line search with the Armijo test on :math:`g`, counted only for a decrease larger than
          the rounding of :math:`g` (a step that changes nothing is never "accepted"). Near the optimum the
          decrease of a Newton step, :math:`\lambda^2/2` (the Newton decrement
          :math:`\lambda^2 = \nabla g^\top H^{+} \nabla g`), falls below the rounding of :math:`g` itself
          (:math:`\approx \epsilon_{64}|A|`) while the moments are still far from their floor; the step is then
          judged by the derivative along it, which the accurate gradient resolves: the approximate Wolfe
          conditions :math:`\sigma\phi'(0) \le \phi'(\alpha) \le (2\delta - 1)\phi'(0)`, :math:`\delta = 0.1`,
          :math:`\sigma = 0.9` (Hager & Zhang, SIAM J. Optim. 16(1), 170-192, 2005, doi:10.1137/030601880),
          accepted when :math:`g` has not risen above its noise.
        * When no step length passes either test the iteration stops at once with ``converged=False`` and a
          ``message`` naming the gradient, the tolerance and the noise floor.

        Raises
        ------
        ValueError
            For targets outside the convex hull of the statistics (no distribution has these means) or
            on its boundary (the natural parameters diverge), unless ``ridge > 0``.
        """
        t = as_real_array(target_means, "target_means", shape=(self.n_stats,))
        tol = as_positive(tol, "tol")
        max_iter = as_count(max_iter, "max_iter", minimum=1)
        ridge = as_real(ridge, "ridge", low=0.0)
        self._check_interior(t, ridge)
        th = np.zeros(self.n_stats) if theta0 is None else self._theta(theta0).copy()
        scale = np.max(np.abs(self.stats[self._support]), axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        c1, delta, sigma = 1e-4, 0.1, 0.9

        f, grad, p, f_floor, g_floor = self._dual_terms(th, t, ridge)
        converged = False
        message = f"reached max_iter={int(max_iter)} before the moments matched to tol={tol:g}"
        it = 0
        for it in range(int(max_iter) + 1):
            err = np.abs(grad)
            if np.all(err <= tol * scale):
                converged, message = True, f"moments matched to tol={tol:g} after {it} Newton steps"
                break
            if np.all(err <= np.maximum(tol * scale, g_floor)):
                converged = True
                message = (f"moments matched to {np.max(err):.1e} after {it} Newton steps, within the float64 noise "
                           f"floor ({g_floor:.1e}) of the computed moments; tol={tol:g} is below that floor")
                break
            if it == int(max_iter):
                break
            mu = p @ self.stats
            H = (self.stats * p[:, None]).T @ self.stats - np.outer(mu, mu) + ridge * np.eye(self.n_stats)
            step = -np.linalg.lstsq(H, grad, rcond=1e-12)[0]
            slope = float(step @ grad)  # phi'(0) = -lambda^2 for the Newton step
            if not np.all(np.isfinite(step)) or slope >= 0:
                step = -grad
                slope = -float(grad @ grad)
            lr, accepted = 1.0, None
            for _ in range(60):
                cand = th + lr * step
                fc, gc, pc, ffc, gfc = self._dual_terms(cand, t, ridge)
                dphi = float(step @ gc)
                # Armijo, counted only when the decrease is above the rounding of g; else approximate Wolfe
                if (fc <= f + c1 * lr * slope and fc < f - f_floor) or (
                    fc <= f + f_floor and sigma * slope <= dphi <= (2 * delta - 1) * slope
                ):
                    accepted = (cand, fc, gc, pc, ffc, gfc)
                    break
                lr *= 0.5
            if accepted is None:
                message = (f"line search found no step that lowers the dual at float64 precision (Newton "
                           f"decrement^2 {-slope:.1e}, noise of the dual {f_floor:.1e}) while the moments "
                           f"mismatch by {np.max(err):.1e} > tol={tol:g} (noise floor {g_floor:.1e}); "
                           "near-singular Hessian or moments near the boundary: try ridge > 0")
                break
            th, f, grad, p, f_floor, g_floor = accepted
        means = p @ self.stats
        return MaxEntResult(
            theta=th, means=means, target=t, max_error=float(np.max(np.abs(means - t))),
            entropy=self.entropy(th), converged=converged, n_iter=it, noise_floor=g_floor, message=message,
        )

    def _check_interior(self, t: np.ndarray, ridge: float) -> None:
        """Reject targets outside (or on the boundary of) the convex hull of the supported statistics."""
        if ridge > 0 or self.n_states > 4096:  # large tables: rely on the Newton iteration's own check
            return
        from scipy.optimize import linprog

        S = self.stats[self._support]
        # the largest margin eps with t = sum_x w_x T(x), w >= eps, sum w = 1 (eps > 0: relative interior)
        n = S.shape[0]
        c = np.zeros(n + 1)
        c[-1] = -1.0
        A_eq = np.hstack([np.vstack([S.T, np.ones((1, n))]), np.zeros((self.n_stats + 1, 1))])
        b_eq = np.concatenate([t, [1.0]])
        A_ub = np.hstack([-np.eye(n), np.ones((n, 1))])
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=b_eq,
                      bounds=[(0, None)] * n + [(None, 1.0)], method="highs")
        if res.status != 0:
            raise ValueError(
                "target_means lie outside the convex hull of the sufficient statistics: no distribution on "
                "these states has those means. Check the targets (e.g. correlations in [-1, 1])."
            )
        if -res.fun <= 1e-12:
            raise BoundaryMomentsError(
                "target_means lie on the boundary of the set of achievable means (some states must have zero "
                "probability), so the natural parameters are infinite. Pass ridge > 0 to regularise."
            )


def ising_family(n_spins: int) -> DiscreteExpFamily:
    r"""The Ising family on ``n`` spins: states all :math:`2^n` configurations (binary order, row 0 all +1,
    as :func:`spinlens.exact.boltzmann_probabilities`), statistics :math:`(s_1..s_n, s_i s_j\ (i<j))`.

    With :math:`\theta = \beta(h, J_{i<j})`, :math:`p_\theta = e^{-\beta H}/Z` and :math:`A = \ln Z`.
    """
    n = as_count(n_spins, "n_spins", minimum=1)
    if n > 20:
        raise ValueError(f"ising_family enumerates 2^n_spins states; n_spins must be between 1 and 20, got {n}.")
    k = np.arange(1 << n, dtype=np.int64)
    S = (1 - 2 * ((k[:, None] >> np.arange(n)[None, :]) & 1)).astype(np.float64)
    iu = np.triu_indices(n, 1)
    return DiscreteExpFamily(np.hstack([S, S[:, iu[0]] * S[:, iu[1]]]))


def ising_theta(model: IsingModel, beta: float = 1.0) -> np.ndarray:
    r"""Natural parameters :math:`\theta = \beta (h_1..h_n, J_{ij}\ (i<j))` of ``model`` in :func:`ising_family`."""
    model = check_model(model)
    b = as_positive(beta, "beta")
    n = model.n_spins
    iu = np.triu_indices(n, 1)
    return b * np.concatenate([model.h, model.dense_J()[iu]])


def ising_from_theta(theta: Any, n_spins: int, beta: float = 1.0) -> IsingModel:
    """Inverse of :func:`ising_theta`."""
    n = as_count(n_spins, "n_spins", minimum=1)
    th = as_real_array(theta, "theta", ndim=1) / as_positive(beta, "beta")
    if th.shape != (n + n * (n - 1) // 2,):
        raise ValueError(f"theta for n_spins={n} must have n + n(n-1)/2 = {n + n * (n - 1) // 2} entries "
                         f"(fields, then couplings i<j), got shape {th.shape}.")
    J = np.zeros((n, n))
    iu = np.triu_indices(n, 1)
    J[iu] = th[n:]
    return IsingModel(J + J.T, th[:n])
