r"""Boltzmann machines with or without hidden units (Ackley, Hinton & Sejnowski 1985).

Spins :math:`s = (v, h)\in\{-1,+1\}^{n_v + n_h}` (visible first, hidden last), Gibbs weight
:math:`P(s) = e^{\frac12 s^\top J s + b^\top s}/Z` with symmetric :math:`J` (zero diagonal): an
:class:`~spinlens.spins.IsingModel` ``IsingModel(J, b)`` at :math:`\beta = 1`, so every solver runs on a trained
machine. Visible-visible, hidden-hidden and visible-hidden couplings are all free (switch the first two off with
``visible_visible=False`` / ``hidden_hidden=False``; with both off the machine is an RBM in :math:`\pm1` units).

**Maximum likelihood** of data :math:`\{v^\mu\}` (D. H. Ackley, G. E. Hinton & T. J. Sejnowski, *A learning
algorithm for Boltzmann machines*, Cognitive Science 9, 147-169 (1985)):
:math:`\ln P(v) = \ln\sum_h e^{\frac12 s^\top J s + b^\top s} - \ln Z` and

.. math:: \frac{\partial\langle\ln P(v)\rangle_{data}}{\partial J_{ij}} = \langle s_i s_j\rangle_{clamped}
          - \langle s_i s_j\rangle_{free},\qquad
          \frac{\partial\langle\ln P(v)\rangle_{data}}{\partial b_i} = \langle s_i\rangle_{clamped}
          - \langle s_i\rangle_{free},

the clamped average taken over the data with the hidden units drawn from :math:`P(h\mid v)`. With
:math:`n_v + n_h \le` ``exact_max`` both averages are exact sums (:math:`2^{n}` states, :math:`2^{n_h}` hidden states
per distinct data vector) and the log-likelihood (minus ``l2/2`` times the squared parameters) is maximised by
L-BFGS from small random couplings (it is not concave once there are hidden units). Larger machines learn from
persistent Monte Carlo: the free phase from ``n_chains`` persistent heat-bath chains of the whole machine (the
numba sweeps of :mod:`spinlens.meanfield`), the clamped phase exactly (:math:`E[h_j\mid v] = \tanh(b_j + (Jv)_j)`)
when hidden units do not interact, else from persistent heat-bath chains of the hidden units of every data vector;
steps :math:`\eta/\sqrt{1 + t/50}` and Polyak averaging over the second half.

**Log-likelihood**: exact enumeration of :math:`\ln Z` for :math:`n \le 20`, else annealed importance sampling
(R. M. Neal, *Annealed importance sampling*, Stat. Comput. 11, 125-139 (2001)) from the product law
:math:`e^{b^\top s}` through :math:`e^{\beta_k\frac12 s^\top J s + b^\top s}` with one heat-bath sweep per
:math:`\beta_k`, :math:`\ln\hat Z = \ln Z_0 + \ln\overline{w}`, standard error :math:`\mathrm{sd}(w)/(\sqrt M\bar w)`;
the hidden sum :math:`\ln\sum_h` per data vector is exact (closed form :math:`\sum_j\ln 2\cosh(b_j + (Jv)_j)` without
hidden-hidden couplings, enumeration for :math:`n_h\le 20` otherwise).

With ``n_hidden=0`` the machine is today's fully visible Boltzmann machine, unchanged:
``InverseIsing(method="boltzmann", ...)`` of :mod:`spinlens.meanfield`. The class is built lazily, so
:mod:`spinlens.boltzmann` imports without :mod:`spinlens.meanfield`.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
from scipy.special import logsumexp

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.results import Estimate
from spinlens.spins.model import as_count, as_positive, as_real_array

__all__ = ["get_boltzmann_machine", "MAX_EXACT_SPINS"]

#: Largest machine (visible + hidden) whose log Z is summed exactly (in chunks of 2^16 states).
MAX_EXACT_SPINS = 20
_CHUNK = 1 << 16


# ============================================================================ pure functions of arrays
def _states(n: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """±1 states ``start..stop`` of ``n`` spins in binary order (row 0 all +1), float64."""
    stop = (1 << n) if stop is None else stop
    k = np.arange(start, stop, dtype=np.int64)
    return (1 - 2 * ((k[:, None] >> np.arange(n)[None, :]) & 1)).astype(np.float64)


def _log_weights(S: np.ndarray, J: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`\frac12 s^\top J s + b^\top s` for every row of ``S``."""
    return 0.5 * np.einsum("ki,ij,kj->k", S, J, S) + S @ b


def exact_free_moments(J: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    r"""(:math:`\ln Z`, :math:`\langle s\rangle`, :math:`\langle ss^\top\rangle`) by enumeration of :math:`2^n` states
    (chunks of :math:`2^{16}`). Cost :math:`O(2^n n^2)`."""
    n = b.size
    lz_parts, m_parts, C_parts = [], [], []
    for start in range(0, 1 << n, _CHUNK):
        S = _states(n, start, min(1 << n, start + _CHUNK))
        w = _log_weights(S, J, b)
        c = float(logsumexp(w))
        p = np.exp(w - c)
        lz_parts.append(c)
        m_parts.append(p @ S)
        C_parts.append((S * p[:, None]).T @ S)
    lz = float(logsumexp(lz_parts))
    scale = np.exp(np.asarray(lz_parts) - lz)
    m = sum(s * x for s, x in zip(scale, m_parts, strict=True))
    C = sum(s * x for s, x in zip(scale, C_parts, strict=True))
    return lz, np.asarray(m), 0.5 * (np.asarray(C) + np.asarray(C).T)


def _unique_rows(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    U, counts = np.unique(V, axis=0, return_counts=True)
    return U, counts / V.shape[0]


def _hidden_log_sums(V: np.ndarray, J: np.ndarray, b: np.ndarray, nv: int) -> tuple[np.ndarray, Any]:
    r""":math:`\ln\sum_h e^{\frac12 s^\top J s + b^\top s}` for each visible row, and (for the clamped moments)
    the posteriors over the enumerated hidden states (None when the closed form was used)."""
    nh = b.size - nv
    Jvv, Jvh, Jhh = J[:nv, :nv], J[:nv, nv:], J[nv:, nv:]
    a = 0.5 * np.einsum("ki,ij,kj->k", V, Jvv, V) + V @ b[:nv]
    if nh == 0:
        return a, None
    field = b[nv:][None, :] + V @ Jvh  # (U, nh)
    if not np.any(Jhh):
        return a + np.sum(np.logaddexp(field, -field), axis=1), None
    if nh > MAX_EXACT_SPINS:
        raise ValueError(f"the hidden sum of a machine with {nh} interacting hidden units needs 2^{nh} states; "
                         f"use n_hidden <= {MAX_EXACT_SPINS} or hidden_hidden=False.")
    H = _states(nh)
    L = a[:, None] + field @ H.T + (0.5 * np.einsum("ki,ij,kj->k", H, Jhh, H))[None, :]
    lse = logsumexp(L, axis=1)
    return lse, (H, np.exp(L - lse[:, None]))


def clamped_moments(V: np.ndarray, J: np.ndarray, b: np.ndarray, nv: int) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Exact data averages with the hidden units clamped to :math:`P(h\mid v)`: (:math:`\langle\ln\sum_h
    e^{\ldots}\rangle_{data}`, :math:`\langle s\rangle_{clamped}`, :math:`\langle ss^\top\rangle_{clamped}`).
    Cost :math:`O(U 2^{n_h} n)` for U distinct data vectors (:math:`O(U n_h n)` without hidden-hidden couplings)."""
    U, w = _unique_rows(V)
    n = b.size
    nh = n - nv
    lse, post = _hidden_log_sums(U, J, b, nv)
    m = np.zeros(n)
    C = np.zeros((n, n))
    m[:nv] = w @ U
    C[:nv, :nv] = (U * w[:, None]).T @ U
    if nh:
        if post is None:  # independent hidden units given v
            Eh = np.tanh(b[nv:][None, :] + U @ J[:nv, nv:])
            Ehh = (Eh * w[:, None]).T @ Eh
            Ehh[np.diag_indices(nh)] = 1.0
        else:
            H, P = post
            Eh = P @ H
            Ehh = H.T @ ((P.T @ w)[:, None] * H)
        m[nv:] = w @ Eh
        C[:nv, nv:] = (U * w[:, None]).T @ Eh
        C[nv:, :nv] = C[:nv, nv:].T
        C[nv:, nv:] = Ehh
    return float(w @ lse), m, C


def _pack_mask(n: int, nv: int, vv: bool, hh: bool) -> np.ndarray:
    """Upper-triangle indices (i < j) of the free couplings."""
    iu = np.triu_indices(n, 1)
    hid = np.arange(n) >= nv
    keep = np.ones(iu[0].size, dtype=bool)
    if not vv:
        keep &= hid[iu[0]] | hid[iu[1]]
    if not hh:
        keep &= ~(hid[iu[0]] & hid[iu[1]])
    return np.stack([iu[0][keep], iu[1][keep]])


def _unpack(x: np.ndarray, idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    J = np.zeros((n, n))
    J[idx[0], idx[1]] = x[: idx.shape[1]]
    return J + J.T, x[idx.shape[1]:].copy()


def ais_log_partition_bm(J: np.ndarray, b: np.ndarray, n_chains: int = 100, n_betas: int = 1000,
                         rng: RNGLike = None, progress: ProgressCallback | None = None) -> Estimate:
    r"""AIS estimate of :math:`\ln Z` of :math:`e^{\frac12 s^\top Js + b^\top s}` (module notes), as an Estimate with
    the delta-method standard error. Cost: ``n_betas`` heat-bath sweeps of ``n_chains`` chains, :math:`O(n^2)` each."""
    from spinlens.meanfield._kernels import gibbs_sweeps

    g = as_generator(rng)
    n = b.size
    betas = np.linspace(0.0, 1.0, n_betas)
    # exact draws from the base law prod_i e^{b_i s_i} / (2 cosh b_i)
    S = np.where(g.random((n_chains, n)) < 0.5 * (1 + np.tanh(b))[None, :], 1, -1).astype(np.int8)
    logw = np.zeros(n_chains)
    Jc = np.ascontiguousarray(J)
    for k in range(1, n_betas):
        X = S.astype(np.float64)
        logw += (betas[k] - betas[k - 1]) * 0.5 * np.einsum("ci,ij,cj->c", X, J, X)
        gibbs_sweeps(S, np.ascontiguousarray(betas[k] * Jc), b, 1, seed_int(g) % (2**31))
        if k % 100 == 0:
            notify(progress, k, n_betas - 1)
    lz0 = float(np.sum(np.logaddexp(b, -b)))
    c = float(np.max(logw))
    w = np.exp(logw - c)
    mean_w = float(w.mean())
    err = float(w.std(ddof=1) / (np.sqrt(n_chains) * mean_w)) if n_chains > 1 else float("nan")
    ess = float(w.sum() ** 2 / np.sum(w * w))
    return Estimate(lz0 + c + float(np.log(mean_w)), err, n_eff=ess)


# ============================================================================ the estimator
@functools.lru_cache(maxsize=1)
def get_boltzmann_machine() -> Any:
    """Build ``BoltzmannMachine``: a subclass of ``spinlens.meanfield.InverseIsing`` fixed to method="boltzmann",
    grown with hidden units (``n_hidden``)."""
    try:
        from spinlens.meanfield import InverseIsing
        from spinlens.meanfield.inverse import as_spin_samples
    except ImportError as exc:  # pragma: no cover - depends on the meanfield package
        raise ImportError(
            "BoltzmannMachine needs spinlens.meanfield.InverseIsing, which is not available: " + str(exc)
        ) from exc

    class BoltzmannMachine(InverseIsing):  # type: ignore[misc, valid-type]
        """Boltzmann machine with ``n_hidden`` hidden units (module :mod:`spinlens.boltzmann.bm`).

        Parameters
        ----------
        n_hidden : hidden units (0: the fully visible machine, ``InverseIsing(method="boltzmann", ...)`` exactly).
        visible_visible, hidden_hidden : learn the visible-visible / hidden-hidden couplings (both False: an RBM).
        init_scale : standard deviation of the random initial couplings (hidden units only; > 0).
        max_iter, tol, l2, n_sweeps, n_chains, learning_rate, exact_max, n_jobs, rng : as ``InverseIsing``;
            exact gradients when ``n_visible + n_hidden <= exact_max``, persistent Monte Carlo otherwise.

        Attributes (hidden units)
        -------------------------
        J_ : (n, n) couplings, h_ : (n,) fields of all units (visible first), at beta = 1 (``to_model()``).
        n_visible_, n_hidden_ : sizes. W_ : (n_visible, n_hidden) visible-hidden block of J_.
        converged_, n_iter_, objective_ (negative mean log-likelihood + l2 term; NaN for Monte Carlo),
        convergence_message_, method_ ("exact" or "monte-carlo").
        """

        _PARAMS = (*InverseIsing._PARAMS, "n_hidden", "visible_visible", "hidden_hidden",  # type: ignore[assignment]
                   "init_scale")

        def __init__(self, n_hidden: int = 0, *, visible_visible: bool = True, hidden_hidden: bool = True,
                     init_scale: float = 0.1, **kwargs: Any) -> None:
            if kwargs.pop("method", "boltzmann") != "boltzmann":
                raise ValueError("BoltzmannMachine always uses method='boltzmann'; use InverseIsing for others.")
            super().__init__("boltzmann", **kwargs)
            self.n_hidden = n_hidden
            self.visible_visible = visible_visible
            self.hidden_hidden = hidden_hidden
            self.init_scale = init_scale

        def __repr__(self) -> str:
            default = type(self)()
            changed = [f"{k}={getattr(self, k)!r}" for k in self._PARAMS
                       if k != "method" and getattr(self, k) != getattr(default, k)]
            return f"BoltzmannMachine({', '.join(changed)})"

        def _check_hidden(self) -> int:
            nh = as_count(self.n_hidden, "n_hidden", minimum=0)
            for name in ("visible_visible", "hidden_hidden"):
                if not isinstance(getattr(self, name), (bool, np.bool_)):
                    raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
            as_positive(self.init_scale, "init_scale")
            return nh

        # -------------------------------------------------------------- fitting
        def fit(self, samples: Any, progress: ProgressCallback | None = None) -> Any:
            """Fit to visible ``samples`` (M, n_visible) in {-1, +1} or {0, 1}; returns ``self``."""
            nh = self._check_hidden()
            if nh == 0:
                super().fit(samples, progress)
                self.n_visible_, self.n_hidden_ = int(self.J_.shape[0]), 0
                self.W_ = np.zeros((self.n_visible_, 0))
                self.method_ = "exact" if self.n_visible_ <= int(self.exact_max) else "monte-carlo"
                return self
            self._check_params()
            S = as_spin_samples(samples)
            M, nv = S.shape
            m = S.mean(axis=0)
            const = np.flatnonzero(np.abs(m) == 1.0)
            if const.size and self.l2 <= 0:
                raise ValueError(
                    f"column(s) {const[:10].tolist()} are constant (always +1 or always -1): their maximum-likelihood "
                    "fields are infinite. Drop those spins, or pass l2 > 0 to regularise.")
            if const.size:
                warnings.warn(f"{const.size} constant column(s); their fields are set by the l2 = {self.l2} "
                              "regularisation.", stacklevel=2)
            from spinlens.meanfield.inverse import _blas_threads

            n = nv + nh
            self.n_features_in_, self.n_samples_ = nv, M
            self.n_visible_, self.n_hidden_ = nv, nh
            self.means_ = m
            self.correlations_ = S.T @ S / M
            g = as_generator(self.rng)
            idx = _pack_mask(n, nv, bool(self.visible_visible), bool(self.hidden_hidden))
            x0 = np.concatenate([g.normal(0.0, float(self.init_scale), idx.shape[1]),
                                 np.arctanh(np.clip(m, -0.95, 0.95)), np.zeros(nh)])
            with _blas_threads(self.n_jobs):
                if n <= int(self.exact_max):
                    self._fit_hidden_exact(S, idx, x0, progress)
                else:
                    self._fit_hidden_mc(S, idx, x0, g, progress)
            self.W_ = self.J_[:nv, nv:].copy()
            return self

        def _objective(self, x: np.ndarray, S: np.ndarray, idx: np.ndarray, n: int) -> tuple[float, np.ndarray]:
            J, b = _unpack(x, idx, n)
            lz, mf, Cf = exact_free_moments(J, b)
            ls, mc, Cc = clamped_moments(S, J, b, S.shape[1])
            l2 = float(self.l2)
            ll = ls - lz
            grad = np.concatenate([(Cc - Cf)[idx[0], idx[1]], mc - mf]) - l2 * x
            return -(ll - 0.5 * l2 * float(x @ x)), -grad

        def _fit_hidden_exact(self, S: np.ndarray, idx: np.ndarray, x0: np.ndarray,
                              progress: ProgressCallback | None) -> None:
            from scipy.optimize import minimize

            n = self.n_visible_ + self.n_hidden_
            count = [0]

            def cb(_: np.ndarray) -> None:
                count[0] += 1
                notify(progress, count[0], int(self.max_iter))

            res = minimize(self._objective, x0, args=(S, idx, n), jac=True, method="L-BFGS-B", callback=cb,
                           options={"maxiter": int(self.max_iter), "gtol": float(self.tol), "ftol": 1e-15})
            self.J_, self.h_ = _unpack(res.x, idx, n)
            self.n_iter_, self.converged_ = int(res.nit), bool(res.success)
            self.objective_ = float(res.fun)
            self.convergence_message_ = f"L-BFGS-B: {res.message}"
            self.method_ = "exact"

        def _fit_hidden_mc(self, S: np.ndarray, idx: np.ndarray, x0: np.ndarray, g: np.random.Generator,
                           progress: ProgressCallback | None) -> None:
            from spinlens.meanfield._kernels import gibbs_sweeps

            nv, nh = self.n_visible_, self.n_hidden_
            n = nv + nh
            J, b = _unpack(x0, idx, n)
            chains = np.empty((int(self.n_chains), n), dtype=np.int8)
            chains[:, :nv] = S[g.integers(0, S.shape[0], size=int(self.n_chains))]
            chains[:, nv:] = np.where(g.random((int(self.n_chains), nh)) < 0.5, 1, -1)
            hidden = np.where(g.random((S.shape[0], nh)) < 0.5, 1.0, -1.0)  # persistent clamped hidden states
            steps = int(self.max_iter)
            acc = np.zeros(x0.size)
            n_avg = 0
            x = x0.copy()
            l2, lr = float(self.l2), float(self.learning_rate)
            for it in range(steps):
                gibbs_sweeps(chains, np.ascontiguousarray(J), b, int(self.n_sweeps), seed_int(g) % (2**31))
                X = chains.astype(np.float64)
                mf, Cf = X.mean(axis=0), X.T @ X / X.shape[0]
                if not np.any(J[nv:, nv:]):
                    _, mc, Cc = clamped_moments(S, J, b, nv)
                else:
                    for _ in range(int(self.n_sweeps)):
                        for j in range(nh):
                            phi = b[nv + j] + S @ J[:nv, nv + j] + hidden @ J[nv:, nv + j]
                            hidden[:, j] = np.where(g.random(S.shape[0]) < 0.5 * (1 + np.tanh(phi)), 1.0, -1.0)
                    Y = np.hstack([S, hidden])
                    mc, Cc = Y.mean(axis=0), Y.T @ Y / Y.shape[0]
                grad = np.concatenate([(Cc - Cf)[idx[0], idx[1]], mc - mf]) - l2 * x
                x = x + lr / np.sqrt(1.0 + it / 50.0) * grad
                J, b = _unpack(x, idx, n)
                if it >= steps // 2:
                    acc += x
                    n_avg += 1
                notify(progress, it + 1, steps)
            self.J_, self.h_ = _unpack(acc / max(n_avg, 1), idx, n)
            self.n_iter_, self.converged_, self.objective_ = steps, True, float("nan")
            self.convergence_message_ = (f"persistent Monte Carlo: {steps} steps, parameters averaged over the last "
                                         f"{n_avg}")
            self.method_ = "monte-carlo"

        # -------------------------------------------------------------- evaluation
        def _fitted(self) -> tuple[np.ndarray, np.ndarray, int]:
            if not hasattr(self, "J_"):
                raise ValueError("this BoltzmannMachine is not fitted yet; call fit(samples) first "
                                 "(or BoltzmannMachine.from_params).")
            nv = int(getattr(self, "n_visible_", self.J_.shape[0]))
            return np.asarray(self.J_, dtype=np.float64), np.asarray(self.h_, dtype=np.float64), nv

        def _visible(self, X: Any, nv: int) -> np.ndarray:
            A = as_real_array(X, "X (visible samples, -1/+1 or 0/1)", ndim=(1, 2))
            A = A.reshape(-1, A.shape[-1])
            if A.shape[1] != nv:
                raise ValueError(f"X has {A.shape[1]} columns but the machine has {nv} visible units.")
            if np.all(np.abs(A) == 1):
                return A
            if np.all((A == 0) | (A == 1)):
                return 2 * A - 1
            raise ValueError("X must hold -1/+1 spins or 0/1 bits (not a mix of -1 and 0).")

        def log_partition(self, method: str = "auto", n_chains: int = 100, n_betas: int = 1000,
                          rng: RNGLike = 0, progress: ProgressCallback | None = None) -> Estimate:
            """ln Z of the fitted machine: ``"exact"`` (n <= 20), ``"ais"``, or ``"auto"`` (exact when possible)."""
            J, b, _ = self._fitted()
            n = b.size
            if not isinstance(method, str) or method not in ("auto", "exact", "ais"):
                raise ValueError(f"method must be 'auto', 'exact' or 'ais', got {method!r}.")
            if method == "auto":
                method = "exact" if n <= MAX_EXACT_SPINS else "ais"
            if method == "exact":
                if n > MAX_EXACT_SPINS:
                    raise ValueError(f"exact ln Z sums 2^{n} states; use method='ais' above {MAX_EXACT_SPINS} units.")
                return Estimate(exact_free_moments(J, b)[0], 0.0, n_eff=float("inf"))
            return ais_log_partition_bm(J, b, as_count(n_chains, "n_chains", minimum=2),
                                        as_count(n_betas, "n_betas", minimum=2), rng=rng, progress=progress)

        def log_likelihood(self, X: Any, log_z: Estimate | float | None = None, **log_partition_kw: Any) -> Estimate:
            r"""Mean log-likelihood :math:`\frac1M\sum_\mu\ln P(v^\mu)` of visible data ``X`` (nats per sample) with
            the error of :math:`\ln Z` (0 when exact; AIS beyond 20 units). ``log_z`` reuses a computed value."""
            J, b, nv = self._fitted()
            V = self._visible(X, nv)
            lz = self.log_partition(**log_partition_kw) if log_z is None else log_z
            U, w = _unique_rows(V)
            lse, _ = _hidden_log_sums(U, J, b, nv)
            err = lz.error if isinstance(lz, Estimate) else 0.0
            return Estimate(float(w @ lse) - float(lz), float(err), n_eff=float(V.shape[0]))

        def exact_gradient(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
            r"""Exact gradient of the mean log-likelihood of ``X`` (no regularisation): ``(dJ, db)`` with
            :math:`dJ_{ij} = \langle s_is_j\rangle_{clamped} - \langle s_is_j\rangle_{free}` (zero diagonal) and
            :math:`db_i = \langle s_i\rangle_{clamped} - \langle s_i\rangle_{free}` (n <= 20)."""
            J, b, nv = self._fitted()
            if b.size > MAX_EXACT_SPINS:
                raise ValueError(f"exact gradients sum 2^{b.size} states; at most {MAX_EXACT_SPINS} units.")
            V = self._visible(X, nv)
            _, mf, Cf = exact_free_moments(J, b)
            _, mc, Cc = clamped_moments(V, J, b, nv)
            dJ = Cc - Cf
            np.fill_diagonal(dJ, 0.0)
            return dJ, mc - mf

        @classmethod
        def from_params(cls, J: Any, h: Any, n_visible: int, **kwargs: Any) -> Any:
            """A machine with couplings ``J`` (n, n; symmetric, zero diagonal) and fields ``h`` over n units, the first
            ``n_visible`` visible (the others hidden)."""
            from spinlens.spins.model import IsingModel

            model = IsingModel(as_real_array(J, "J", ndim=2), as_real_array(h, "h", ndim=1))
            n = model.n_spins
            nv = as_count(n_visible, "n_visible", minimum=1)
            if nv > n:
                raise ValueError(f"n_visible = {nv} exceeds the {n} units of J.")
            self = cls(n_hidden=n - nv, **kwargs)
            self.J_, self.h_ = np.array(model.dense_J(), dtype=np.float64), np.array(model.h, dtype=np.float64)
            self.n_visible_, self.n_hidden_, self.n_features_in_ = nv, n - nv, nv
            self.W_ = self.J_[:nv, nv:].copy()
            return self

        @classmethod
        def from_rbm(cls, rbm: Any) -> Any:
            r"""The :math:`\pm1` machine equal in law to a Bernoulli RBM (``spinlens.boltzmann.RBM``): with
            :math:`x = (1+v)/2`, :math:`y = (1+h)/2`, :math:`J_{vh} = W/4`, :math:`b_v = b/2 + W\mathbf 1/4`,
            :math:`b_h = c/2 + W^\top\mathbf 1/4` (spinlens's own change of variables; no visible-visible or
            hidden-hidden couplings)."""
            from spinlens.boltzmann.rbm import RBM

            if not isinstance(rbm, RBM) or getattr(rbm, "visible", None) != "bernoulli":
                raise TypeError(f"rbm must be a fitted Bernoulli spinlens RBM, got {type(rbm).__name__}.")
            W, bv, ch = rbm.weights_, rbm.intercept_visible_, rbm.intercept_hidden_
            nv, nh = W.shape
            J = np.zeros((nv + nh, nv + nh))
            J[:nv, nv:] = W / 4
            J[nv:, :nv] = W.T / 4
            h = np.concatenate([bv / 2 + W.sum(axis=1) / 4, ch / 2 + W.sum(axis=0) / 4])
            return cls.from_params(J, h, nv, visible_visible=False, hidden_hidden=False)

    BoltzmannMachine.__module__ = "spinlens.boltzmann"
    BoltzmannMachine.__qualname__ = "BoltzmannMachine"
    return BoltzmannMachine
