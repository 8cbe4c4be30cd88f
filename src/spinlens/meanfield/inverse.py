r"""Inverse Ising: couplings and fields from samples (maximum entropy with first and second moments).

Methods (``InverseIsing(method=...)``):

* ``"nmf"`` — naive mean-field inversion: :math:`J = -(C^{-1})_{i\ne j}`, :math:`h_i = \operatorname{atanh} m_i
  - \sum_j J_{ij} m_j`, with :math:`C` the connected correlation matrix (Kappen & Rodríguez 1998).
* ``"tap"`` — TAP inversion: :math:`J_{ij} = -2 (C^{-1})_{ij} / (1 + \sqrt{1 - 8 (C^{-1})_{ij} m_i m_j})`,
  :math:`h_i = \operatorname{atanh} m_i - \sum_j J_{ij} m_j + m_i \sum_j J_{ij}^2 (1 - m_j^2)`
  (Kappen & Rodríguez 1998; Tanaka 1998).
* ``"pseudolikelihood"`` — maximises :math:`\sum_i \frac1M \sum_\mu \ln P(s_i^\mu \mid s_{\setminus i}^\mu)`,
  :math:`\ln P(s_i \mid s_{\setminus i}) = s_i \phi_i - \ln 2\cosh \phi_i`,
  :math:`\phi_i = h_i + \sum_{j\ne i} W_{ij} s_j`
  (Besag 1975; Aurell & Ekeberg 2012), all rows at once: one L-BFGS over every row with analytic gradients,
  two matrix products per evaluation, a fused numba pass for :math:`\ln\cosh`/:math:`\tanh`, the linear part
  from the precomputed moments, and per-row whitening of the features (preconditioning with the Cholesky
  factor of the feature Gram matrix). The estimate is symmetrised, :math:`J = (W + W^\top)/2`.
  ``l1 > 0`` uses bound-constrained L-BFGS-B on split variables :math:`W = W^+ - W^-`.
* ``"boltzmann"`` — maximum likelihood (Boltzmann learning / moment matching): the gradient is
  :math:`\langle s_i s_j\rangle_{data} - \langle s_i s_j\rangle_{model}`. Exact for ``n <= exact_max`` (16; model
  moments by enumeration, damped Newton on the convex log-likelihood, converged when the moments match to
  ``min(tol, 1e-8)`` or to the float64 noise floor of the enumeration), else Monte Carlo gradients from persistent
  heat-bath chains started from the pseudo-likelihood estimate, with Polyak averaging.

Regularisation: ``l2/2 (||J||^2 + ||h||^2)`` (and ``l1 ||J||_1``) added to the negative (pseudo-)log-likelihood
per sample. Constant columns have infinite maximum-likelihood fields: they raise unless ``l2 > 0``.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.meanfield._core import blas_threads
from spinlens.spins.model import IsingModel, as_count, as_positive, as_real

__all__ = ["InverseIsing", "as_spin_samples"]

log = logging.getLogger(__name__)

_METHODS = ("nmf", "tap", "pseudolikelihood", "boltzmann")


def _blas_threads(n_jobs: int | None) -> contextlib.AbstractContextManager[Any]:
    """Limit the BLAS thread pool to ``n_jobs`` threads (None: 1; -1: unchanged) for the duration of a fit."""
    if n_jobs == -1:
        return contextlib.nullcontext()
    return blas_threads(1 if n_jobs is None else int(n_jobs))


def as_spin_samples(samples: Any) -> np.ndarray:
    """Validate samples of shape (M, n) in {-1, +1} or {0, 1} and return float64 spins in {-1, +1}."""
    if isinstance(samples, (str, bytes)) or samples is None:
        raise ValueError(f"samples must be a 2-D array (n_samples, n_spins) of -1/+1 or 0/1 values, got {samples!r}.")
    X = np.asarray(samples)
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"samples must hold real numbers (-1/+1 spins or 0/1 bits), got dtype {X.dtype}; "
            "convert them with np.asarray(samples, dtype=float) first."
        )
    if X.ndim != 2:
        raise ValueError(f"samples must be a 2-D array (n_samples, n_spins), got shape {X.shape}.")
    if X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"need at least 2 samples of at least 2 spins, got shape {X.shape}.")
    Xf = X.astype(np.float64)
    if np.all((Xf == 1.0) | (Xf == -1.0)):
        return Xf
    if np.all((Xf == 0.0) | (Xf == 1.0)):
        return 2.0 * Xf - 1.0
    bad = Xf[~((Xf == 1.0) | (Xf == -1.0) | (Xf == 0.0))]
    raise ValueError(
        "samples must be spins in {-1, +1} or bits in {0, 1} (not a mix of -1 and 0); "
        f"found values such as {np.unique(bad)[:5] if bad.size else np.unique(Xf)[:5]}."
    )


class InverseIsing:
    """Fit an Ising model :math:`P(s) \\propto \\exp(\\sum_{i<j} J_{ij} s_i s_j + \\sum_i h_i s_i)` to samples.

    Parameters
    ----------
    method : {"nmf", "tap", "pseudolikelihood", "boltzmann"}
    l1, l2 : float >= 0, regularisation strengths per sample (``l1`` for pseudo-likelihood only).
    max_iter : optimiser iterations (L-BFGS; Newton steps, at least 50, for exact Boltzmann) or learning steps
        (Monte Carlo Boltzmann learning).
    tol : gradient tolerance. Exact Boltzmann: on every moment, ``min(tol, 1e-8)``, or the float64 noise floor of
        the enumeration (~1e-14) when that is larger.
    n_sweeps : heat-bath sweeps per Monte Carlo learning step.
    n_chains : persistent chains for Monte Carlo gradients.
    learning_rate : step size of Monte Carlo Boltzmann learning.
    exact_max : largest n for exact Boltzmann gradients (enumeration).
    n_jobs : int or None
        BLAS threads during the fit (scikit-learn convention): ``None`` (default) means 1, ``-1`` leaves the
        BLAS thread pool as it is. The fit is dominated by tall-skinny products (``(M, n)`` by ``(n, n)`` and
        reductions over the M samples); one thread per fit is the robust default, since threaded OpenBLAS on
        such shapes spin-waits and can run 10-20x slower in CPU time on a shared or oversubscribed machine.
    rng : seed or Generator (Monte Carlo only).

    Attributes
    ----------
    h_ : (n,) fields; J_ : (n, n) symmetric couplings (zero diagonal), at beta = 1.
    n_iter_ : iterations used; converged_ : bool; objective_ : final objective value.
    convergence_message_ : why the iteration stopped (exact ``"boltzmann"`` only).
    """

    def __init__(
        self,
        method: str = "pseudolikelihood",
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        max_iter: int = 500,
        tol: float = 1e-6,
        n_sweeps: int = 5,
        n_chains: int = 256,
        learning_rate: float = 0.1,
        exact_max: int = 16,
        n_jobs: int | None = None,
        rng: RNGLike = None,
    ) -> None:
        self.method = method
        self.l1 = l1
        self.l2 = l2
        self.max_iter = max_iter
        self.tol = tol
        self.n_sweeps = n_sweeps
        self.n_chains = n_chains
        self.learning_rate = learning_rate
        self.exact_max = exact_max
        self.n_jobs = n_jobs
        self.rng = rng

    # ------------------------------------------------------------------ scikit-learn estimator protocol
    _PARAMS = ("method", "l1", "l2", "max_iter", "tol", "n_sweeps", "n_chains", "learning_rate", "exact_max",
               "n_jobs", "rng")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn estimator protocol)."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params: Any) -> InverseIsing:
        """Set constructor parameters (scikit-learn estimator protocol); returns ``self``."""
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"unknown parameter {k!r}; valid parameters are {list(self._PARAMS)}.")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = InverseIsing()
        changed = [f"{k}={getattr(self, k)!r}" for k in self._PARAMS if getattr(self, k) != getattr(defaults, k)]
        return f"InverseIsing({', '.join(changed)})"

    def _check_params(self) -> None:
        """Validate the constructor parameters (each error names its parameter); called by :meth:`fit`."""
        if not isinstance(self.method, str) or self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}.")
        p: dict[str, Any] = {
            "l1": as_real(self.l1, "l1", low=0.0),
            "l2": as_real(self.l2, "l2", low=0.0),
            "max_iter": as_count(self.max_iter, "max_iter", minimum=1),
            "tol": as_positive(self.tol, "tol"),
            "n_sweeps": as_count(self.n_sweeps, "n_sweeps", minimum=1),
            "n_chains": as_count(self.n_chains, "n_chains", minimum=1),
            "learning_rate": as_positive(self.learning_rate, "learning_rate"),
            "exact_max": as_count(self.exact_max, "exact_max", minimum=0),
        }
        if p["l1"] > 0 and self.method != "pseudolikelihood":
            raise ValueError("l1 regularisation is implemented for method='pseudolikelihood' only; pass l1=0.")
        if self.n_jobs is not None:
            jobs = as_count(self.n_jobs, "n_jobs")
            if jobs != -1 and jobs < 1:
                raise ValueError(f"n_jobs must be None, -1 or a positive integer, got {self.n_jobs!r}.")

    # ------------------------------------------------------------------ public
    def fit(self, samples: Any, progress: ProgressCallback | None = None) -> InverseIsing:
        """Fit to ``samples`` of shape (M, n) in {-1, +1} or {0, 1}; returns ``self``."""
        self._check_params()
        S = as_spin_samples(samples)
        M, n = S.shape
        m = S.mean(axis=0)
        const = np.flatnonzero(np.abs(m) == 1.0)
        if const.size and self.l2 <= 0:
            raise ValueError(
                f"column(s) {const[:10].tolist()} are constant (always +1 or always -1): their maximum-likelihood "
                "fields are infinite and their couplings undetermined. Drop those spins, or pass l2 > 0 to regularise."
            )
        if const.size:
            warnings.warn(
                f"{const.size} constant column(s); their fields are set by the l2 = {self.l2} regularisation.",
                stacklevel=2,
            )
        with _blas_threads(self.n_jobs):
            self.n_features_in_ = n
            self.n_samples_ = M
            self.means_ = m
            self.correlations_ = S.T @ S / M
            getattr(self, f"_fit_{self.method}")(S, progress)
        return self

    def to_model(self) -> IsingModel:
        """The fitted model (couplings ``J_`` and fields ``h_``, at beta = 1)."""
        if not hasattr(self, "J_"):
            raise ValueError("this InverseIsing is not fitted yet; call fit(samples) first.")
        return IsingModel(self.J_, self.h_)

    # ------------------------------------------------------------------ mean-field inversions
    def _connected_inverse(self) -> tuple[np.ndarray, np.ndarray]:
        m = np.clip(self.means_, -1 + 1e-6, 1 - 1e-6)
        C = self.correlations_ - np.outer(self.means_, self.means_)
        C = C + self.l2 * np.eye(C.shape[0])
        try:
            Cinv = sla.inv(C)
        except (np.linalg.LinAlgError, ValueError):
            raise ValueError(
                "the connected correlation matrix is singular (duplicated or constant spins?); pass l2 > 0."
            ) from None
        return Cinv, m

    def _fit_nmf(self, S: np.ndarray, progress: ProgressCallback | None) -> None:
        Cinv, m = self._connected_inverse()
        J = -Cinv
        np.fill_diagonal(J, 0.0)
        J = 0.5 * (J + J.T)
        self.J_ = J
        self.h_ = np.arctanh(m) - J @ m
        self.n_iter_, self.converged_, self.objective_ = 0, True, float("nan")

    def _fit_tap(self, S: np.ndarray, progress: ProgressCallback | None) -> None:
        Cinv, m = self._connected_inverse()
        disc = 1.0 - 8.0 * Cinv * np.outer(m, m)
        bad = disc < 0
        if np.any(bad & ~np.eye(len(m), dtype=bool)):
            warnings.warn(
                f"TAP inversion has no real solution for {int(bad.sum()) // 2} pair(s); "
                "using the naive mean-field value there.",
                stacklevel=3,
            )
        J = np.where(bad, -Cinv, -2.0 * Cinv / (1.0 + np.sqrt(np.maximum(disc, 0.0))))
        np.fill_diagonal(J, 0.0)
        J = 0.5 * (J + J.T)
        self.J_ = J
        self.h_ = np.arctanh(m) - J @ m + m * ((J * J) @ (1.0 - m * m))
        self.n_iter_, self.converged_, self.objective_ = 0, True, float("nan")

    # ------------------------------------------------------------------ pseudo-likelihood
    def _fit_pseudolikelihood(self, S: np.ndarray, progress: ProgressCallback | None) -> None:
        W, h, info = pseudolikelihood_fit(S, l1=self.l1, l2=self.l2, max_iter=int(self.max_iter),
                                          tol=float(self.tol), progress=progress)
        self.W_ = W
        self.J_ = 0.5 * (W + W.T)
        self.h_ = h
        self.n_iter_, self.converged_, self.objective_ = info["n_iter"], info["converged"], info["objective"]

    # ------------------------------------------------------------------ Boltzmann learning
    def _fit_boltzmann(self, S: np.ndarray, progress: ProgressCallback | None) -> None:
        n = S.shape[1]
        if n <= int(self.exact_max):
            self._fit_boltzmann_exact(S)
        else:
            self._fit_boltzmann_mc(S, progress)

    def _fit_boltzmann_exact(self, S: np.ndarray) -> None:
        """Exact maximum likelihood: Newton on the convex dual over all 2^n states (``fit_maxent``).

        Converged means every model moment matches its data moment to ``min(tol, 1e-8)`` or to the float64
        noise floor of the enumeration, whichever is larger; ``convergence_message_`` says which, or why not.
        """
        from spinlens.expfam.families import BoundaryMomentsError, ising_family, ising_from_theta

        n = S.shape[1]
        fam = ising_family(n)
        iu = np.triu_indices(n, 1)
        t = np.concatenate([self.means_, self.correlations_[iu]])
        try:
            res = fam.fit_maxent(t, ridge=float(self.l2), tol=min(float(self.tol), 1e-8),
                                 max_iter=max(int(self.max_iter), 50))
        except BoundaryMomentsError:
            raise ValueError(
                "the empirical moments lie on the boundary of the achievable set (some joint configuration of "
                "a pair of spins never occurs in the data), so the maximum-likelihood couplings are infinite. "
                "Pass l2 > 0 to regularise, or use more samples."
            ) from None
        theta, self.n_iter_, self.converged_ = res.theta, res.n_iter, res.converged
        self.convergence_message_ = res.message
        model = ising_from_theta(theta, n)
        self.J_ = np.array(model.J)
        self.h_ = np.array(model.h)
        self.objective_ = float(fam.log_partition(theta) - theta @ t)

    def _fit_boltzmann_mc(self, S: np.ndarray, progress: ProgressCallback | None) -> None:
        from spinlens.meanfield._kernels import gibbs_sweeps

        W, h, _ = pseudolikelihood_fit(S, l1=0.0, l2=self.l2, max_iter=200, tol=1e-5)
        J = 0.5 * (W + W.T)
        g = as_generator(self.rng)
        C_data = self.correlations_
        m_data = self.means_
        chains = S[g.integers(0, S.shape[0], size=int(self.n_chains))].astype(np.int8)
        steps = int(self.max_iter)
        J_avg, h_avg, n_avg = np.zeros_like(J), np.zeros_like(h), 0
        lr = float(self.learning_rate)
        for it in range(steps):
            gibbs_sweeps(chains, np.ascontiguousarray(J), h, int(self.n_sweeps), seed_int(g) % (2**31))
            X = chains.astype(np.float64)
            gm = m_data - X.mean(axis=0) - self.l2 * h
            gC = C_data - X.T @ X / X.shape[0] - self.l2 * J
            np.fill_diagonal(gC, 0.0)
            step = lr / np.sqrt(1.0 + it / 50.0)
            h = h + step * gm
            J = J + step * gC
            if it >= steps // 2:
                J_avg += J
                h_avg += h
                n_avg += 1
            notify(progress, it + 1, steps)
        self.J_ = 0.5 * (J_avg + J_avg.T) / max(n_avg, 1)
        np.fill_diagonal(self.J_, 0.0)
        self.h_ = h_avg / max(n_avg, 1)
        self.n_iter_, self.converged_, self.objective_ = steps, True, float("nan")


def pseudolikelihood_fit(
    S: np.ndarray,
    *,
    l1: float = 0.0,
    l2: float = 0.0,
    max_iter: int = 500,
    tol: float = 1e-6,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    r"""All-rows pseudo-likelihood fit (see the module docstring). ``S``: (M, n) float64 spins.

    Returns the asymmetric coupling estimate ``W`` (n, n, zero diagonal), fields ``h`` and an info dict.
    Objective per sample: :math:`\sum_i [\langle \ln 2\cosh\phi_i\rangle - h_i m_i - \sum_j W_{ij} C_{ij}]
    + \frac{l_2}{2}(\|W\|^2 + \|h\|^2) + l_1 \|W\|_1`.
    """
    from spinlens.meanfield._kernels import logcosh_tanh_inplace

    S = np.ascontiguousarray(S, dtype=np.float64)
    M, n = S.shape
    m = S.mean(axis=0)
    C = S.T @ S / M
    offdiag = ~np.eye(n, dtype=bool)
    n_eval = [0]

    def raw(W: np.ndarray, h: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Objective and gradients in the natural parameters (W with zero diagonal)."""
        Phi = S @ W.T
        Phi += h
        lc = logcosh_tanh_inplace(Phi) / M  # Phi now holds tanh(phi)
        f = lc - float(h @ m) - float(np.sum(W * C)) + 0.5 * l2 * (float(np.sum(W * W)) + float(h @ h))
        gW = Phi.T @ S / M - C + l2 * W
        gW[~offdiag] = 0.0
        gh = Phi.mean(axis=0) - m + l2 * h
        n_eval[0] += 1
        notify(progress, min(n_eval[0], max_iter), max_iter)
        return f, gW, gh

    h0 = np.arctanh(np.clip(m, -1 + 1e-3, 1 - 1e-3))
    if l1 > 0:
        # split variables W = P - Q, P, Q >= 0 on the off-diagonal; L-BFGS-B handles the bounds
        k = n * (n - 1)

        def fg_l1(x: np.ndarray) -> tuple[float, np.ndarray]:
            h = x[:n]
            W = np.zeros((n, n))
            W[offdiag] = x[n:n + k] - x[n + k:]
            f, gW, gh = raw(W, h)
            f += l1 * float(np.sum(x[n:]))
            g_off = gW[offdiag]
            return f, np.concatenate([gh, g_off + l1, -g_off + l1])

        x0 = np.concatenate([h0, np.zeros(2 * k)])
        bounds = [(None, None)] * n + [(0.0, None)] * (2 * k)
        r = minimize(fg_l1, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                     options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-14, "maxcor": 20})
        W = np.zeros((n, n))
        W[offdiag] = r.x[n:n + k] - r.x[n + k:]
        return W, r.x[:n], {"n_iter": int(r.nit), "converged": bool(r.success), "objective": float(r.fun)}

    # preconditioner: per row i, features x = (1, s_{-i}); Gram G_i = E[x x^T]; P_i = chol(G_i)^{-T}
    G = np.empty((n + 1, n + 1))
    G[0, 0] = 1.0
    G[0, 1:] = m
    G[1:, 0] = m
    G[1:, 1:] = C
    P = np.zeros((n, n + 1, n + 1))
    for i in range(n):
        keep = np.r_[0, np.flatnonzero(np.arange(n) != i) + 1]
        Gi = G[np.ix_(keep, keep)] + (l2 + 1e-10) * np.eye(n)
        L = np.linalg.cholesky(Gi)
        P[i][np.ix_(keep, keep)] = sla.solve_triangular(L, np.eye(n), lower=True).T
    # per-row curvature scale c_i = <1 - tanh^2 phi_i> at the start
    c = np.clip(1.0 - m * m, 1e-3, 1.0)
    P /= np.sqrt(c)[:, None, None]

    def unpack(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.einsum("ijk,ik->ij", P, u.reshape(n, n + 1))  # row i: (h_i, W_i,·)
        h = w[:, 0]
        W = w[:, 1:].copy()
        W[~offdiag] = 0.0
        return W, h

    def fg(u: np.ndarray) -> tuple[float, np.ndarray]:
        W, h = unpack(u)
        f, gW, gh = raw(W, h)
        gw = np.concatenate([gh[:, None], gW], axis=1)
        gu = np.einsum("ijk,ij->ik", P, gw)
        return f, gu.ravel()

    # starting point: independent spins (W = 0, h = atanh m) mapped to u = P^{-1} w
    w0 = np.zeros((n, n + 1))
    w0[:, 0] = h0
    u0 = np.stack([np.linalg.lstsq(P[i], w0[i], rcond=None)[0] for i in range(n)]).ravel()
    r = minimize(fg, u0, jac=True, method="L-BFGS-B",
                 options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-14, "maxcor": 20})
    W, h = unpack(r.x)
    return W, h, {"n_iter": int(r.nit), "converged": bool(r.success), "objective": float(r.fun),
                  "n_eval": n_eval[0]}
