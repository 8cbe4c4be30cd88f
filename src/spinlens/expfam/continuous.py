r"""Continuous exponential families :math:`p_\theta(x) = \mu(x)\exp(\theta\cdot T(x) - A(\theta))` with the API of
:class:`spinlens.expfam.DiscreteExpFamily` (log-partition, moments, entropy, KL, maximum entropy, Cramér rate).

Every family here has Lebesgue base measure :math:`\mu = 1` on its support and closed forms (A. Balsubramani,
*Entropy, concentration, and learning: a statistical mechanics primer*, arXiv:2409.18630; M. J. Wainwright &
M. I. Jordan, *Graphical models, exponential families, and variational inference*, Found. Trends Mach. Learn. 1,
1-305 (2008), section 3):

* :class:`Gaussian` on :math:`\mathbb R`, :math:`T(x) = (x, x^2)`, :math:`\theta = (m/\sigma^2, -1/(2\sigma^2))`,
  :math:`A(\theta) = -\theta_1^2/(4\theta_2) + \tfrac12\ln(\pi/(-\theta_2))`, natural space
  :math:`\theta_2 < 0`; means :math:`(m, m^2+\sigma^2)`, :math:`\mathrm{Cov}\,T = \begin{pmatrix}\sigma^2 & 2m\sigma^2
  \\ 2m\sigma^2 & 2\sigma^4 + 4m^2\sigma^2\end{pmatrix}`, :math:`H = \tfrac12\ln(2\pi e\sigma^2)`.
* :class:`Exponential` on :math:`[0, \infty)`, :math:`T(x) = x`, :math:`\theta = -\lambda < 0`,
  :math:`A = -\ln(-\theta)`, mean :math:`-1/\theta`, variance :math:`1/\theta^2`, :math:`H = 1 + A`.
* :class:`VonMises` on the circle (samples in :math:`[-\pi, \pi)`), :math:`T(x) = (\cos x, \sin x)`,
  :math:`\theta = \kappa(\cos m, \sin m)`, :math:`A = \ln(2\pi I_0(r))` with :math:`r = \lVert\theta\rVert`; mean
  :math:`R(r)\,\theta/r`, :math:`R = I_1/I_0`; covariance
  :math:`R'(r)\,uu^\top + (R(r)/r)(I - uu^\top)`, :math:`u = \theta/r`, :math:`R' = 1 - R/r - R^2`
  (:math:`\tfrac12 I` at :math:`\theta = 0`), from differentiating :math:`\ln I_0` (:math:`I_0' = I_1`,
  :math:`I_1' = I_0 - I_1/r`).

For all of them :math:`H(p_\theta) = A(\theta) - \theta\cdot E_\theta T`, :math:`KL(p_\theta\|p_{\theta'}) =
A(\theta') - A(\theta) - (\theta'-\theta)\cdot\nabla A(\theta)`, and maximum entropy under :math:`E_p T = t` is the
member with mean ``t`` (damped Newton on the convex dual :math:`A(\theta) - \theta\cdot t` inside the natural
parameter space). The Cramér rate of the sample mean of the statistics under :math:`p_\theta` is the Legendre
transform of :math:`\Lambda(s) = A(\theta + s) - A(\theta)`,

.. math:: I_\theta(a) = \sup_s[s\cdot a - \Lambda(s)] = KL(p_{\theta_a}\|p_\theta),

with :math:`\theta_a` the member of mean ``a`` (:math:`+\infty` outside the open set of achievable means).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import i0e, i1e

from spinlens._rng import RNGLike, as_generator
from spinlens.expfam.families import MaxEntResult
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array

__all__ = ["ContinuousExpFamily", "Exponential", "Gaussian", "VonMises"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class _Domain:
    low: float
    high: float


class ContinuousExpFamily:
    r"""Base class of the continuous families (module notes). Subclasses define the closed forms
    ``_A``, ``_mean``, ``_cov``, ``_in_domain``, ``_stats``, ``_sample``, ``_means_ok`` and ``_theta_from_mean``."""

    name = "continuous"
    stat_names: tuple[str, ...] = ()
    support = _Domain(-np.inf, np.inf)
    domain_text = ""
    means_text = ""

    # ------------------------------------------------------------------ subclass hooks
    def _A(self, th: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mean(self, th: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cov(self, th: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _in_domain(self, th: np.ndarray) -> bool:
        return True

    def _stats(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, th: np.ndarray, n: int, g: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _means_ok(self, t: np.ndarray) -> bool:
        return True

    def _theta_from_mean(self, t: np.ndarray) -> np.ndarray | None:
        """Closed-form inverse of the mean map where one exists (None: none)."""
        return None

    def _theta_start(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ basics
    @property
    def n_stats(self) -> int:
        return len(self.stat_names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _theta(self, theta: Any, name: str = "theta") -> np.ndarray:
        k = self.n_stats
        th = as_real_array(theta, f"{name} (natural parameters {self.stat_names})", ndim=(0, 1))
        th = th.reshape(-1)
        if th.shape != (k,):
            raise ValueError(f"{name} of the {self.name} family must have {k} entries {self.stat_names}, got "
                             f"{th.size}.")
        if not self._in_domain(th):
            raise ValueError(f"{name} = {th.tolist()} lies outside the natural parameter space of the {self.name} "
                             f"family ({self.domain_text}).")
        return th

    def _means(self, t: Any, name: str) -> np.ndarray:
        k = self.n_stats
        a = as_real_array(t, f"{name} (means of {self.stat_names})", ndim=(0, 1)).reshape(-1)
        if a.shape != (k,):
            raise ValueError(f"{name} of the {self.name} family must have {k} entries {self.stat_names}, got "
                             f"{a.size}.")
        return a

    def sufficient_statistics(self, x: Any) -> np.ndarray:
        """:math:`T(x)` for points ``x`` in the support, shape ``(n, k)``."""
        X = as_real_array(x, "x (points of the support)", ndim=(0, 1)).reshape(-1)
        if np.any(X < self.support.low) or np.any(X > self.support.high):
            raise ValueError(f"x must lie in the support [{self.support.low:g}, {self.support.high:g}] of the "
                             f"{self.name} family.")
        return self._stats(X)

    def log_partition(self, theta: Any) -> float:
        r""":math:`A(\theta) = \ln\int\mu(x)e^{\theta\cdot T(x)}dx` (closed form, module notes)."""
        return float(self._A(self._theta(theta)))

    def mean(self, theta: Any) -> np.ndarray:
        r""":math:`\nabla A(\theta) = E_\theta[T]`, shape ``(k,)``."""
        return self._mean(self._theta(theta))

    def covariance(self, theta: Any) -> np.ndarray:
        r""":math:`\nabla^2 A(\theta) = \mathrm{Cov}_\theta[T]`, shape ``(k, k)``."""
        return self._cov(self._theta(theta))

    def logpdf(self, x: Any, theta: Any) -> np.ndarray:
        r""":math:`\ln p_\theta(x) = \theta\cdot T(x) - A(\theta)` at points ``x`` of the support."""
        th = self._theta(theta)
        return self.sufficient_statistics(x) @ th - self._A(th)

    def pdf(self, x: Any, theta: Any) -> np.ndarray:
        """Density :math:`p_\\theta(x)`."""
        return np.exp(self.logpdf(x, theta))

    def sample(self, theta: Any, n_samples: int, rng: RNGLike = None) -> np.ndarray:
        """``n_samples`` independent draws from :math:`p_\\theta`, shape ``(n_samples,)``."""
        th = self._theta(theta)
        n = as_count(n_samples, "n_samples", minimum=1)
        return self._sample(th, n, as_generator(rng))

    def entropy(self, theta: Any) -> float:
        r"""Differential entropy :math:`H(p_\theta) = A(\theta) - \theta\cdot E_\theta[T]` (nats)."""
        th = self._theta(theta)
        return float(self._A(th) - th @ self._mean(th))

    def cross_entropy(self, theta_p: Any, theta_q: Any) -> float:
        r""":math:`-\int p\ln q = A(\theta_q) - \theta_q\cdot E_p[T]`."""
        tp, tq = self._theta(theta_p, "theta_p"), self._theta(theta_q, "theta_q")
        return float(self._A(tq) - tq @ self._mean(tp))

    def kl(self, theta_p: Any, theta_q: Any) -> float:
        r""":math:`KL(p_{\theta_p}\|p_{\theta_q}) = A(\theta_q) - A(\theta_p) - (\theta_q-\theta_p)\cdot
        E_{\theta_p}[T]` (the Bregman divergence of A)."""
        tp, tq = self._theta(theta_p, "theta_p"), self._theta(theta_q, "theta_q")
        return max(0.0, float(self._A(tq) - self._A(tp) - (tq - tp) @ self._mean(tp)))

    def free_energy(self, theta: Any, beta: float = 1.0) -> float:
        r"""Free energy :math:`F = -A(\theta)/\beta`."""
        return -self.log_partition(theta) / as_positive(beta, "beta")

    # ------------------------------------------------------------------ maximum entropy
    def fit_maxent(self, target_means: Any, *, theta0: Any = None, tol: float = 1e-12,
                   max_iter: int = 200) -> MaxEntResult:
        r"""Maximum-entropy density with :math:`E_p T = t`: damped Newton on the dual
        :math:`g(\theta) = A(\theta) - \theta\cdot t` (gradient :math:`E_\theta T - t`, Hessian
        :math:`\mathrm{Cov}_\theta T`), backtracking so that every iterate stays in the natural parameter space.

        Converged when :math:`|E_\theta T_k - t_k| \le \mathrm{tol}\cdot\max(1, |t_k|)` or, below that, within
        the float64 floor :math:`64\epsilon\max(1,|t_k|)` of the computed moments (``message`` says which).
        ``theta0`` defaults to a fixed member of the family (not the closed-form answer), so the iteration is the
        same for every family. Raises ``ValueError`` for targets outside the achievable means (``means_text``).
        """
        t = self._means(target_means, "target_means")
        tol = as_positive(tol, "tol")
        max_iter = as_count(max_iter, "max_iter", minimum=1)
        if not self._means_ok(t):
            raise ValueError(f"target_means = {t.tolist()} are not the means of any {self.name} density "
                             f"({self.means_text}).")
        th = self._theta_start() if theta0 is None else self._theta(theta0, "theta0").copy()
        scale = np.maximum(1.0, np.abs(t))
        floor = 64.0 * _EPS * scale
        f = self._A(th) - th @ t
        grad = self._mean(th) - t
        converged = False
        message = f"reached max_iter={max_iter} before the moments matched to tol={tol:g}"
        it = 0
        for it in range(max_iter + 1):
            err = np.abs(grad)
            if np.all(err <= tol * scale):
                converged, message = True, f"moments matched to tol={tol:g} after {it} Newton steps"
                break
            if np.all(err <= np.maximum(tol * scale, floor)):
                converged = True
                message = (f"moments matched to {np.max(err):.1e} after {it} Newton steps, within the float64 "
                           f"floor of the computed moments; tol={tol:g} is below it")
                break
            if it == max_iter:
                break
            H = self._cov(th)
            step = -np.linalg.solve(H, grad)
            slope = float(step @ grad)
            lr, accepted = 1.0, None
            for _ in range(60):
                cand = th + lr * step
                if self._in_domain(cand):
                    fc = self._A(cand) - cand @ t
                    gc = self._mean(cand) - t
                    # Armijo, or (below the rounding of g) a smaller gradient along the step
                    if fc <= f + 1e-4 * lr * slope or (fc <= f + 16 * _EPS * max(1.0, abs(f))
                                                       and np.max(np.abs(gc)) < np.max(err)):
                        accepted = (cand, fc, gc)
                        break
                lr *= 0.5
            if accepted is None:
                message = (f"line search found no step that lowers the dual at float64 precision while the moments "
                           f"mismatch by {np.max(err):.1e} > tol={tol:g}")
                break
            th, f, grad = accepted
        means = self._mean(th)
        return MaxEntResult(theta=th, means=means, target=t, max_error=float(np.max(np.abs(means - t))),
                            entropy=float(self._A(th) - th @ means), converged=converged, n_iter=it,
                            noise_floor=float(np.max(floor)), message=message)

    def theta_from_mean(self, target_means: Any) -> np.ndarray:
        r"""The natural parameters of the member with mean ``t`` (closed form where it exists, else
        :meth:`fit_maxent`)."""
        t = self._means(target_means, "target_means")
        if not self._means_ok(t):
            raise ValueError(f"target_means = {t.tolist()} are not the means of any {self.name} density "
                             f"({self.means_text}).")
        th = self._theta_from_mean(t)
        return th if th is not None else self.fit_maxent(t).theta

    # ------------------------------------------------------------------ large deviations
    def cramer_rate(self, a: Any, theta: Any) -> Any:
        r"""Cramér rate :math:`I_\theta(a) = KL(p_{\theta_a}\|p_\theta)` of the sample mean of :math:`T` under
        :math:`p_\theta` (module notes): ``a`` of shape ``(k,)`` (a number when k = 1) or ``(m, k)`` for many points;
        :math:`+\infty` where ``a`` is not an achievable mean. Returns a float or an ``(m,)`` array."""
        th = self._theta(theta)
        k = self.n_stats
        A = as_real_array(a, "a (means of the statistics)", ndim=(0, 1, 2))
        pts: np.ndarray | None = None
        single = False
        if k == 1:
            if A.ndim == 0:
                pts, single = A.reshape(1, 1), True
            elif A.ndim == 1:
                pts = A[:, None]
            elif A.shape[1] == 1:
                pts = A
        elif A.ndim == 1 and A.shape == (k,):
            pts, single = A[None, :], True
        elif A.ndim == 2 and A.shape[1] == k:
            pts = A
        if pts is None:
            want = "a number or an (m,) array" if k == 1 else f"shape ({k},) or (m, {k})"
            raise ValueError(f"a must be {want} for the {self.name} family, got shape {A.shape}.")
        out = np.empty(pts.shape[0])
        A0 = self._A(th)
        for i, ai in enumerate(pts):
            if not self._means_ok(ai):
                out[i] = np.inf
                continue
            ta = self.theta_from_mean(ai)
            out[i] = max(0.0, float(A0 - self._A(ta) - (th - ta) @ ai))
        return float(out[0]) if single else out


class Gaussian(ContinuousExpFamily):
    r"""Normal densities on :math:`\mathbb R`: :math:`T = (x, x^2)`, :math:`\theta = (m/\sigma^2, -1/(2\sigma^2))`."""

    name = "gaussian"
    stat_names = ("x", "x^2")
    domain_text = "theta[1] = -1/(2 sigma^2) < 0"
    means_text = "E[x^2] > E[x]^2"

    @staticmethod
    def natural(mean: float, var: float) -> np.ndarray:
        r""":math:`\theta` of :math:`N(m, \sigma^2)`."""
        m = as_real(mean, "mean")
        v = as_positive(var, "var")
        return np.array([m / v, -0.5 / v])

    def standard(self, theta: Any) -> tuple[float, float]:
        """(mean, variance) of the member ``theta``."""
        th = self._theta(theta)
        v = -0.5 / th[1]
        return float(th[0] * v), float(v)

    def _in_domain(self, th: np.ndarray) -> bool:
        return bool(th[1] < 0 and np.all(np.isfinite(th)))

    def _A(self, th: np.ndarray) -> float:
        return float(-th[0] ** 2 / (4 * th[1]) + 0.5 * np.log(np.pi / -th[1]))

    def _mean(self, th: np.ndarray) -> np.ndarray:
        v = -0.5 / th[1]
        m = th[0] * v
        return np.array([m, m * m + v])

    def _cov(self, th: np.ndarray) -> np.ndarray:
        v = -0.5 / th[1]
        m = th[0] * v
        return np.array([[v, 2 * m * v], [2 * m * v, 2 * v * v + 4 * m * m * v]])

    def _stats(self, x: np.ndarray) -> np.ndarray:
        return np.stack([x, x * x], axis=1)

    def _sample(self, th: np.ndarray, n: int, g: np.random.Generator) -> np.ndarray:
        m, v = self.standard(th)
        return g.normal(m, np.sqrt(v), n)

    def _means_ok(self, t: np.ndarray) -> bool:
        return bool(t[1] - t[0] ** 2 > 1e-300 * max(1.0, t[1]))

    def _theta_from_mean(self, t: np.ndarray) -> np.ndarray | None:
        v = t[1] - t[0] ** 2
        return np.array([t[0] / v, -0.5 / v])

    def _theta_start(self) -> np.ndarray:
        return np.array([0.0, -0.5])


class Exponential(ContinuousExpFamily):
    r"""Exponential densities :math:`\lambda e^{-\lambda x}` on :math:`[0,\infty)`: :math:`T = x`,
    :math:`\theta = -\lambda`."""

    name = "exponential"
    stat_names = ("x",)
    support = _Domain(0.0, np.inf)
    domain_text = "theta = -rate < 0"
    means_text = "E[x] > 0"

    @staticmethod
    def natural(rate: float) -> np.ndarray:
        r""":math:`\theta = -\lambda` of the density with rate :math:`\lambda`."""
        return np.array([-as_positive(rate, "rate")])

    def _in_domain(self, th: np.ndarray) -> bool:
        return bool(th[0] < 0 and np.isfinite(th[0]))

    def _A(self, th: np.ndarray) -> float:
        return float(-np.log(-th[0]))

    def _mean(self, th: np.ndarray) -> np.ndarray:
        return np.array([-1.0 / th[0]])

    def _cov(self, th: np.ndarray) -> np.ndarray:
        return np.array([[1.0 / th[0] ** 2]])

    def _stats(self, x: np.ndarray) -> np.ndarray:
        return x[:, None]

    def _sample(self, th: np.ndarray, n: int, g: np.random.Generator) -> np.ndarray:
        return g.exponential(-1.0 / th[0], n)

    def _means_ok(self, t: np.ndarray) -> bool:
        return bool(t[0] > 0)

    def _theta_from_mean(self, t: np.ndarray) -> np.ndarray | None:
        return np.array([-1.0 / t[0]])

    def _theta_start(self) -> np.ndarray:
        return np.array([-1.0])


class VonMises(ContinuousExpFamily):
    r"""Von Mises densities on the circle :math:`[-\pi,\pi)`: :math:`T = (\cos x, \sin x)`,
    :math:`\theta = \kappa(\cos m, \sin m)`, :math:`A = \ln(2\pi I_0(\kappa))`."""

    name = "von Mises"
    stat_names = ("cos x", "sin x")  # any real angle is accepted (the density has period 2 pi)
    domain_text = "every finite theta"
    means_text = "|E[(cos x, sin x)]| < 1"

    @staticmethod
    def natural(mean_angle: float, kappa: float) -> np.ndarray:
        r""":math:`\theta = \kappa(\cos m, \sin m)` (``kappa >= 0``)."""
        m = as_real(mean_angle, "mean_angle")
        k = as_real(kappa, "kappa (the concentration)", low=0.0)
        return k * np.array([np.cos(m), np.sin(m)])

    @staticmethod
    def _ratio(r: float) -> float:
        """R(r) = I_1(r)/I_0(r) (exponentially scaled Bessel functions: no overflow)."""
        return float(i1e(r) / i0e(r))

    def _A(self, th: np.ndarray) -> float:
        r = float(np.hypot(th[0], th[1]))
        return float(np.log(2 * np.pi) + np.log(i0e(r)) + r)

    def _mean(self, th: np.ndarray) -> np.ndarray:
        r = float(np.hypot(th[0], th[1]))
        if r == 0.0:
            return np.zeros(2)
        return self._ratio(r) * th / r

    def _cov(self, th: np.ndarray) -> np.ndarray:
        r = float(np.hypot(th[0], th[1]))
        if r < 1e-8:  # ln I_0(r) = r^2/4 - r^4/64 + ...: Hessian 1/2 I up to O(r^2)
            return 0.5 * np.eye(2)
        u = th / r
        R = self._ratio(r)
        dR = 1.0 - R / r - R * R
        return dR * np.outer(u, u) + (R / r) * (np.eye(2) - np.outer(u, u))

    def _stats(self, x: np.ndarray) -> np.ndarray:
        return np.stack([np.cos(x), np.sin(x)], axis=1)

    def _sample(self, th: np.ndarray, n: int, g: np.random.Generator) -> np.ndarray:
        r = float(np.hypot(th[0], th[1]))
        m = float(np.arctan2(th[1], th[0]))
        x = g.vonmises(m, r, n)
        return np.where(x >= np.pi, x - 2 * np.pi, x)

    def _means_ok(self, t: np.ndarray) -> bool:
        return bool(np.hypot(t[0], t[1]) < 1.0)

    def _theta_start(self) -> np.ndarray:
        return np.zeros(2)
