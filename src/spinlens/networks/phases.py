r"""Phases of a spin model (e.g. a trained network) from the stability of the TAP paramagnet.

The Hessian of the second-order (Plefka/TAP) free energy at the paramagnet :math:`m = 0`, :math:`h = 0`,
divided by :math:`\beta`, is :math:`T\,I + D/T - J` with :math:`D = \mathrm{diag}(d_i)`,
:math:`d_i = \sum_k J_{ik}^2`. Its lowest eigenvalue is the **stability curve**

.. math:: f(T) = \lambda_{\min}(T I + D/T - J) = T - \lambda_{\max}(J - D/T),
          \qquad f'(T) = 1 - v^\top D v / T^2

(:math:`v` the top eigenvector of :math:`J - D/T`; Hellmann–Feynman). Criteria (derived in
``SCIENCE.md`` from the TAP free energy, checked here on planted models):

* **spin glass**: :math:`f \ge 0` touches zero tangentially at the bulk edge (SK:
  :math:`f = (\sqrt T - 1/\sqrt T)^2`, tangent at :math:`T = 1`); :math:`T_c` is the tangency point
  :math:`T_* = \arg\min f` (in a finite system a small positive or negative minimum there);
* **hidden order**: an outlier eigenvalue of :math:`J` makes :math:`f < 0` on an interval, beyond the
  finite-size scale; :math:`T_c` is the upper end of that interval. With equal :math:`d`:
  :math:`T_c = [\lambda + \sqrt{\lambda^2 - 4d}]/2`; the spiked SK model (:math:`J_0 > 1`) gives
  :math:`T_c = J_0`;
* **paramagnet**: :math:`f` stays clearly positive (no mean-field instability) over the temperature range.

Evidence below :math:`T_c`: TAP solutions from many random starts (glass: many distinct solutions with
spread overlaps or no convergence; hidden order: one :math:`\pm m^*` pair), alignment of :math:`m^*` with
the top eigenvectors of :math:`J`, per-layer order parameters :math:`q_l = \overline{m_i^2}`.

Reference: Barney, Winer & Galitski, *Neural Networks as Spin Models: From Glass to Hidden Order Through
Training*, arXiv:2408.06421; Thouless, Anderson & Palmer 1977; Plefka 1982.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as sla

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, spawn
from spinlens.results import Result
from spinlens.spins import IsingModel

__all__ = [
    "PhaseResult",
    "TapEvidence",
    "StabilityCurve",
    "analyze",
    "stability_curve",
    "tap_evidence",
    "init_prediction",
    "layered_tc",
    "class_alignment",
    "MCCrossCheck",
    "mc_crosscheck",
    "default_tolerance",
    "PHASES",
]

log = logging.getLogger(__name__)

PHASES = ("paramagnet", "spin glass", "hidden order")
_DENSE_MAX = 100
_ACCEPT_RESIDUAL = 1e-5  # max_i |m_i - rhs_i(m)| accepted as a TAP solution


def _as_model(model: Any) -> tuple[IsingModel, tuple[int, ...] | None]:
    if isinstance(model, IsingModel):
        return model, model.layers
    from spinlens.networks.graph import SpinGraph
    from spinlens.networks.to_spins import MappedNetwork, to_spins

    if isinstance(model, SpinGraph):
        return model.model, tuple(layer.size for layer in model.layers)

    mapped = model if isinstance(model, MappedNetwork) else to_spins(model)
    return mapped.model, mapped.widths


# ---------------------------------------------------------------------------------------------- stability
_CHECK = 5  # Lanczos: convergence test every _CHECK steps
_TAIL = 4  # ... over the last 2 * _TAIL tests (geometric extrapolation of the Ritz value's increments)
_SAFETY = 4.0  # factor on the extrapolated eigenvalue error
_GRID_MARGIN = 1e-3  # grid: f to this fraction of its distance from zero and from the other values' minimum
_LAM_RTOL = 1e-3  # provisional lambda_max(J) that places the default grid (then converged to rtol alongside the grid)
_LAM_FINAL_RTOL = 1e-7  # lambda_max(J): rtol if reached while the curve is computed, at least this when alone
_STENCIL = 0.01  # minimum search: five temperatures t exp(k h), k = -2..2, h = 1% (quartic fit)
_ROOT_STEPS = (3e-3, 3e-7)  # zero search: t exp(+-h) around the local-cubic root: first and smallest h
_MAX_ROUNDS = 8
_BASIS_MIN = 256 * 2**20  # bytes of float32 Lanczos vectors kept to form eigenvectors: max(this, 2 x bytes of J)


def _tridiag_top(alpha: list[float], beta: list[float]) -> tuple[float, np.ndarray]:
    """Largest eigenpair of the symmetric tridiagonal matrix with diagonal ``alpha`` and off-diagonal ``beta``."""
    k = len(alpha)
    if k == 1:
        return float(alpha[0]), np.ones(1)
    w, y = scipy.linalg.eigh_tridiagonal(np.asarray(alpha), np.asarray(beta), select="i",
                                         select_range=(k - 1, k - 1))
    return float(w[0]), y[:, 0]


class _Column:
    """One Lanczos run of :class:`_Lanczos`: the top eigenvalue of ``A = J - s D``, to ``eps_abs + eps_rel |theta|``."""

    __slots__ = ("s", "eps_abs", "eps_rel", "keep", "required", "resumable", "alpha", "beta", "hist", "basis", "cap",
                 "theta", "err", "n_iter", "done", "fallback", "vector", "state", "pairs")

    def __init__(self, s: float, eps_abs: float, eps_rel: float, keep: bool, required: bool, resumable: bool,
                 cap: int) -> None:
        self.s, self.eps_abs, self.eps_rel = float(s), float(eps_abs), float(eps_rel)
        self.keep, self.required, self.resumable, self.cap = keep, required, resumable, cap
        self.alpha: list[float] = []
        self.beta: list[float] = []
        self.hist: list[float] = []
        self.basis: list[np.ndarray] | None = [] if keep else None
        self.theta, self.err = -np.inf, np.inf
        self.n_iter = 0
        self.done = self.fallback = False
        self.vector: np.ndarray | None = None
        self.state: tuple[np.ndarray, np.ndarray, float] | None = None  # (next vector, vector, beta) to resume
        self.pairs = True  # trust the extrapolated error only when the residual agrees (see test)

    def test(self, b_last: float, maxiter: int) -> None:
        r"""Ritz value of the tridiagonal matrix so far and its error estimate; sets ``done``.

        The error estimate is the Ritz residual :math:`\rho = \beta_k |y_k|` (an eigenvalue lies within
        :math:`\rho`), or, smaller, ``_SAFETY`` times the geometric extrapolation of the Ritz value's increments over
        the last tests (:math:`\theta_k` never decreases and its increments shrink geometrically once the top is
        resolved) when that is consistent with the residual: :math:`\rho^2/\delta \le 10\,t`, :math:`\delta` the
        distance to the second Ritz value, :math:`t` the larger of the extrapolated error and the tolerance (an
        isolated Ritz value is accurate to :math:`\rho^2/\text{gap}`; a Ritz vector that still mixes a near-degenerate
        pair stagnates with a residual of the order of the pair's splitting and fails the test, so a pair gets
        resolved unless its splitting is below about :math:`\sqrt{10\,t\,\delta}`, and then its mean is within
        that splitting of the top). Without ``pairs`` (loose default-grid values, whose error budget is far above any
        unresolved splitting) the smaller estimate is taken as it is.
        """
        k = len(self.alpha)
        if k == 1:
            th, y, delta = float(self.alpha[0]), np.ones(1), np.inf
        else:
            w, Y = scipy.linalg.eigh_tridiagonal(np.asarray(self.alpha), np.asarray(self.beta[:-1]), select="i",
                                                 select_range=(max(k - 2, 0), k - 1))
            th, y, delta = float(w[-1]), Y[:, -1], float(w[-1] - w[0])
        rho = abs(b_last * float(y[-1]))
        h = self.hist
        h.append(th)
        err = rho
        w_ = _TAIL
        if len(h) > 2 * w_:
            d1, d0 = h[-1] - h[-1 - w_], h[-1 - w_] - h[-1 - 2 * w_]
            floor = 64 * np.finfo(float).eps * max(abs(th), 1e-300)
            tail = np.inf
            if d1 <= floor:
                tail = floor
            elif d1 < d0:
                q = d1 / d0
                tail = _SAFETY * d1 * q / (1.0 - q)
            if not self.pairs or rho * rho <= 10.0 * max(tail, self.eps_abs + self.eps_rel * abs(th)) * max(delta,
                                                                                                          1e-300):
                err = min(err, tail)
        self.theta, self.err = th, err
        if err <= self.eps_abs + self.eps_rel * abs(th) or b_last <= 1e-300 or self.n_iter >= maxiter:
            self.fallback = err > self.eps_abs + self.eps_rel * abs(th) and b_last > 1e-300
            self.done = True
            if self.basis is not None:
                self.vector = self.ritz_vector(y)
                self.basis = None

    def ritz_vector(self, y: np.ndarray) -> np.ndarray:
        assert self.basis is not None
        v = np.zeros(self.basis[0].size)
        for yk, bk in zip(y, self.basis, strict=False):
            v += yk * bk
        return v / np.linalg.norm(v)


class _Lanczos:
    r"""Independent Lanczos runs ("columns") for the top eigenvalues of :math:`A_j = J - s_j D`, advanced together.

    Each step multiplies all active columns at once (``J @ V``, ``V`` of shape (n, k): one pass over the non-zeros of
    :math:`J` for ``k`` temperatures) and applies the plain three-term recurrence to each column. Every column starts
    from the same fixed random unit vector, which has weight in every symmetry sector (a translation-invariant
    convolutional :math:`J` commutes with shifts; a start inside one wave-vector sector would stay there and give the
    top of that sector only). No reorthogonalisation: in floating point the largest Ritz value still converges to
    :math:`\lambda_{\max}` (loss of orthogonality only duplicates converged Ritz values, Paige 1980), so a column holds
    three vectors. A column that must deliver its eigenvector (``required``) also stores its Lanczos vectors in float32
    (restarting explicitly from its Ritz vector when ``budget`` bytes of them are stored); optional ones (``keep``)
    are dropped when all optional vectors would exceed half the budget.

    Cost: per step, one sparse product with ``k`` columns (time linear in nnz(J)) plus O(n k); memory 3 n k floats
    plus the kept vectors (``budget`` bytes per required column, half of it for all optional ones).
    """

    def __init__(self, J: Any, d: np.ndarray, budget: int) -> None:
        self.J, self.d = J, d
        self.n = int(d.size)
        r = as_generator(0).standard_normal(self.n)
        self.r0 = r / np.linalg.norm(r)
        self.maxiter = int(max(1000, 20 * np.sqrt(self.n)))
        self.budget = int(budget)
        self.active: list[_Column] = []
        self.pending: list[_Column] = []
        self.V = np.zeros((self.n, 0))
        self.Vp = np.zeros((self.n, 0))
        self.bp = np.zeros(0)
        self.n_matvec = 0
        self.optional_ok = True  # optional columns still keep their vectors

    def add(self, s: float, eps_abs: float, eps_rel: float = 0.0, *, keep: bool = False, required: bool = False,
            resumable: bool = False) -> _Column:
        keep = required or (keep and self.optional_ok)
        cap = max(64, self.budget // max(4 * self.n, 1)) if required else self.maxiter + 1
        col = _Column(s, eps_abs, eps_rel, keep, required, resumable, cap)
        self.pending.append(col)
        return col

    def resume(self, col: _Column, eps_abs: float, eps_rel: float = 0.0) -> None:
        """Continue a finished (``resumable``) column to a tighter tolerance."""
        col.eps_abs, col.eps_rel = float(eps_abs), float(eps_rel)
        if col.err <= col.eps_abs + col.eps_rel * abs(col.theta) or col.state is None:
            return
        col.done = col.fallback = False
        self.pending.append(col)

    def drop(self, col: _Column) -> None:
        """Stop ``col`` where it is (marked done)."""
        col.done = True
        if col in self.pending:
            self.pending.remove(col)
        elif col in self.active:
            keep = np.array([c is not col for c in self.active])
            self.active = [c for c in self.active if c is not col]
            self.V, self.Vp, self.bp = self.V[:, keep], self.Vp[:, keep], self.bp[keep]

    def run(self, cols: Sequence[_Column]) -> None:
        """Step every active column until all of ``cols`` are done."""
        while any(not c.done for c in cols):
            self._step()

    def _admit(self) -> None:
        if not self.pending:
            return
        V, Vp, bp = [self.V], [self.Vp], [self.bp]
        for col in self.pending:
            if col.state is not None:
                v, vp, b = col.state
                col.state = None
            else:
                v, vp, b = self.r0, np.zeros(self.n), 0.0
            V.append(v[:, None])
            Vp.append(vp[:, None])
            bp.append(np.array([b]))
            self.active.append(col)
        self.pending = []
        self.V, self.Vp, self.bp = np.hstack(V), np.hstack(Vp), np.concatenate(bp)

    def _step(self) -> None:
        self._admit()
        cols, V = self.active, self.V
        if not cols:
            raise RuntimeError("no active Lanczos column")
        s = np.array([c.s for c in cols])
        W = np.asarray(self.J @ V)
        tmp = V * s
        tmp *= self.d[:, None]
        W -= tmp
        np.multiply(self.Vp, self.bp, out=tmp)
        W -= tmp
        a = np.einsum("ij,ij->j", V, W)
        np.multiply(V, a, out=tmp)
        W -= tmp
        del tmp
        b = np.sqrt(np.einsum("ij,ij->j", W, W))
        self.n_matvec += len(cols)
        stored = 0
        for c, col in enumerate(cols):
            col.alpha.append(float(a[c]))
            col.beta.append(float(b[c]))
            col.n_iter += 1
            if col.basis is not None:
                col.basis.append(V[:, c].astype(np.float32))
                if not col.required:
                    stored += len(col.basis)
        if stored * 4 * self.n > self.budget // 2:  # drop the optional vectors: their df will be NaN
            self.optional_ok = False
            for col in cols:
                if not col.required:
                    col.keep, col.basis = False, None
        keep = np.ones(len(cols), dtype=bool)
        nxt = W
        for c, col in enumerate(cols):
            k = len(col.alpha)
            if k % _CHECK and b[c] > 1e-300 and col.n_iter < self.maxiter:
                continue
            col.test(float(b[c]), self.maxiter)
            if col.done:
                keep[c] = False
                if col.resumable and b[c] > 1e-300:
                    col.state = (W[:, c] / b[c], V[:, c].copy(), float(b[c]))
            elif col.basis is not None and len(col.basis) >= col.cap:  # explicit restart from the Ritz vector
                _, y = _tridiag_top(col.alpha, col.beta[:-1])
                v = col.ritz_vector(y)
                col.alpha, col.beta, col.basis = [], [], []
                nxt[:, c] = v * b[c]  # divided by b[c] below
                V[:, c] = 0.0
        if not keep.all():
            self.active = [col for col, k in zip(cols, keep, strict=True) if k]
            nxt, V, b = nxt[:, keep], V[:, keep], b[keep]
        restarted = [c for c, col in enumerate(self.active) if not col.alpha]
        self.V = nxt / b
        self.Vp = V
        self.bp = b.copy()
        self.bp[restarted] = 0.0


class _Stability:
    r"""Evaluates :math:`f(T) = T - \lambda_{\max}(J - D/T)` at batches of temperatures and caches the results.

    Dense small models (n <= 100): LAPACK per temperature. Otherwise :class:`_Lanczos`, all temperatures of a batch
    in one run. ``cache[T] = (f, f', v)`` with :math:`f' = 1 - v^\top D v/T^2` (Hellmann–Feynman) where the critical
    mode ``v`` was formed, NaN and None elsewhere.
    """

    def __init__(self, model: IsingModel, rtol: float = 1e-9) -> None:
        self.rtol = float(rtol)
        self.n = model.n_spins
        self.d = model.coupling_square_sums()
        self.dense = self.n <= _DENSE_MAX
        self.J = model.csr() if model.is_sparse and not self.dense else model.dense_J()
        self.n_evals = 0
        self.n_fallback = 0
        self.cache: dict[float, tuple[float, float, np.ndarray | None]] = {}
        self.empty = not np.any(self.d > 0)
        self.lam: float | None = None
        self._lam_col: _Column | None = None
        self._cols: dict[float, _Column] = {}
        self.pending: dict[float, _Column] = {}
        self.engine: _Lanczos | None = None
        if not (self.dense or self.empty):
            nbytes = (sum(int(getattr(self.J, a).nbytes) for a in ("data", "indices", "indptr")) if model.is_sparse
                      else int(self.J.nbytes))
            self.engine = _Lanczos(self.J, self.d, max(_BASIS_MIN, 2 * nbytes))

    @property
    def n_matvec(self) -> int:
        return self.engine.n_matvec if self.engine is not None else 0

    # -- lambda_max(J)
    def start_lam(self, provisional: bool) -> float:
        """Start lambda_max(J); with ``provisional`` return an estimate to ``_LAM_RTOL`` (upper side) now."""
        if self.empty:
            self.lam = 0.0
            return 0.0
        if self.engine is None:
            self.lam = float(np.linalg.eigvalsh(self.J)[-1])
            return self.lam
        col = self._lam_col = self.engine.add(0.0, 0.0, max(self.rtol, _LAM_RTOL) if provisional else self.rtol,
                                              resumable=True)
        if not provisional:
            return float("nan")
        self.engine.run([col])
        est = col.theta + col.err
        self.engine.resume(col, 0.0, self.rtol)
        return est

    def finish_lam(self) -> float:
        if self.lam is None:
            assert self.engine is not None and self._lam_col is not None
            col = self._lam_col
            if not col.done:  # alone now: no longer worth rtol if the band edge of J is slow to resolve
                col.eps_rel = max(col.eps_rel, _LAM_FINAL_RTOL)
                if col.err <= col.eps_rel * abs(col.theta):
                    self.engine.drop(col)
            while not col.done:
                self.step()
            self.n_fallback += int(self._lam_col.fallback)
            self.lam = float(self._lam_col.theta)
        return self.lam

    def scale(self, T: float) -> float:
        lam = self.lam if self.lam is not None else (self._lam_col.theta if self._lam_col is not None else 0.0)
        return max(abs(lam), float(T), 1e-300)

    # -- f(T)
    def request(self, Ts: Any, *, keep: Sequence[float] = (), optional_keep: bool = False,
                eps: Callable[[float], float] | None = None, resumable: bool = False) -> list[float]:
        """Start the evaluation of f at every ``T`` not cached yet; returns the temperatures still pending.

        ``keep``: temperatures whose critical mode must be formed; ``eps(T)``: absolute accuracy of the eigenvalue
        (default ``rtol * scale(T)``). Dense and empty models are evaluated at once.
        """
        keep_set = {float(T) for T in keep}
        for T in dict.fromkeys(float(T) for T in Ts):
            if T in self.pending or (T in self.cache and (T not in keep_set or self.cache[T][2] is not None)):
                continue
            if self.engine is None:
                self.cache[T] = self._exact(T)
                self.n_evals += 1
                continue
            tol = self.rtol * self.scale(T) if eps is None else float(eps(T))
            old = self._cols.get(T)
            if old is not None and old.state is not None and T not in keep_set:
                self.cache.pop(T, None)
                self.engine.resume(old, tol)
                col = old
            else:
                col = self.engine.add(1.0 / T, tol, keep=optional_keep, required=T in keep_set, resumable=resumable)
                self.n_evals += 1
            self._cols[T] = col
            self.pending[T] = col
        self._collect()
        return list(self.pending)

    def step(self) -> None:
        """One Lanczos step of every active column; finished temperatures move to the cache."""
        assert self.engine is not None
        self.engine._step()
        self._collect()

    def _collect(self) -> None:
        for T in [T for T, col in self.pending.items() if col.done]:
            col = self.pending.pop(T)
            self.n_fallback += int(col.fallback)
            v = col.vector
            fp = 1.0 - float(v @ (self.d * v)) / T**2 if v is not None else float("nan")
            self.cache[T] = (T - col.theta, fp, v)

    def evaluate(self, Ts: Any, *, keep: Sequence[float] = ()) -> np.ndarray:
        """f at every ``T`` (cached values reused), waiting for them."""
        Ts = [float(T) for T in Ts]
        want = set(Ts)
        self.request(Ts, keep=keep)
        while want & set(self.pending):
            self.step()
        return np.array([self.cache[T][0] for T in Ts])

    def tolerance(self, T: float) -> float:
        """Accuracy asked of the cached f(T) (0 when exact)."""
        col = self._cols.get(float(T))
        return 0.0 if col is None else col.eps_abs + col.eps_rel * abs(col.theta)

    def error(self, T: float) -> float:
        """Error estimate of the cached (or running) f(T) (0 when exact)."""
        col = self._cols.get(float(T))
        return 0.0 if col is None else col.err

    def _exact(self, T: float) -> tuple[float, float, np.ndarray]:
        if self.empty:
            v = np.zeros(self.n)
            v[0] = 1.0
            return T, 1.0, v
        K = self.J - np.diag(self.d / T)
        w, V = scipy.linalg.eigh(K, subset_by_index=[self.n - 1, self.n - 1], driver="evr")
        v = V[:, -1]
        return T - float(w[-1]), 1.0 - float(v @ (self.d * v)) / T**2, v

    def mode_near(self, T: float) -> np.ndarray:
        """The critical mode at the evaluated temperature nearest ``T`` (in log T, within the stencil step), else
        formed at ``T``."""
        have = [t for t, val in self.cache.items() if val[2] is not None]
        if have:
            near = min(have, key=lambda t: abs(np.log(t / T)))
            if abs(np.log(near / T)) <= _STENCIL:
                v = self.cache[near][2]
                assert v is not None
                return v
        self.evaluate([T], keep=[T])
        v = self.cache[float(T)][2]
        assert v is not None
        return v


@dataclass(frozen=True)
class StabilityCurve(Result):
    r"""The stability curve :math:`f(T)` of the TAP paramagnet and its landmarks.

    Attributes
    ----------
    temperatures, f, df : (g,) arrays — grid, :math:`f(T)`, :math:`f'(T)` (refinement points included).
        ``df`` is the Hellmann–Feynman derivative where the critical mode was formed (the refinement stencil
        centres, every point of a small model) and NaN elsewhere (forming every eigenvector would double the cost).
    t_star : argmin of :math:`f` (the tangency temperature of a glass), ``f_min = f(t_star)``.
    t_upper, t_lower : ends of the interval where :math:`f < 0` (NaN when there is none).
    lambda_max : largest eigenvalue of :math:`J` (an upper bound on any :math:`T_c`).
    """

    temperatures: np.ndarray
    f: np.ndarray
    df: np.ndarray
    t_star: float
    f_min: float
    t_upper: float
    t_lower: float
    lambda_max: float
    n_evals: int
    critical_mode: np.ndarray = field(default_factory=lambda: np.zeros(0))


def default_tolerance(n_spins: int) -> float:
    r"""Finite-size scale of :math:`f_{\min}/T_*` for a glass: ``min(0.1, max(0.01, 3 n^{-2/3}))``.

    The top of a random bulk fluctuates on the Tracy–Widom scale :math:`n^{-2/3}` around its edge;
    a dip of :math:`f` deeper than this tolerance (relative to :math:`T_*`) is an outlier (hidden order),
    a minimum higher than :math:`5\times` it is no tangency (paramagnet).
    """
    return float(min(0.1, max(0.01, 3.0 * max(int(n_spins), 1) ** (-2.0 / 3.0))))


def _poly_extremum(Ts: Any, fs: Any, lo: float, hi: float) -> tuple[float, float]:
    """Minimum on ``[lo, hi]`` of the polynomial in ``log T`` through the points: (T, value)."""
    x = np.log(np.asarray(Ts, dtype=np.float64))
    p = np.polynomial.Polynomial.fit(x, np.asarray(fs, dtype=np.float64), len(x) - 1)
    a, b = np.log(lo), np.log(hi)
    cand = [a, b] + [float(r.real) for r in p.deriv().roots() if abs(r.imag) < 1e-12 and a <= r.real <= b]
    vals = [float(p(c)) for c in cand]
    k = int(np.argmin(vals))
    return float(np.exp(cand[k])), vals[k]


def _poly_root(Ts: Any, fs: Any, lo: float, hi: float) -> float:
    """Root in ``[lo, hi]`` of the polynomial in ``log T`` through the points (the secant root if it has none)."""
    x = np.log(np.asarray(Ts, dtype=np.float64))
    y = np.asarray(fs, dtype=np.float64)
    a, b = np.log(lo), np.log(hi)
    p = np.polynomial.Polynomial.fit(x, y, len(x) - 1)
    roots = [float(r.real) for r in p.roots() if abs(r.imag) < 1e-9 * max(1.0, abs(r.real)) and a <= r.real <= b]
    if roots:
        mid = 0.5 * (a + b)
        return float(np.exp(min(roots, key=lambda r: abs(r - mid))))
    ya, yb = float(np.interp(a, x, y)), float(np.interp(b, x, y))
    return float(np.exp(a + (b - a) * ya / (ya - yb))) if ya != yb else float(np.exp(0.5 * (a + b)))


def _min_search(st: _Stability, grid: np.ndarray, fs: np.ndarray, i: int) -> Any:
    r"""Generator: the minimum of f between ``grid[i-1]`` and ``grid[i+1]`` (``grid[i]`` the smallest grid value).

    The quartic (in :math:`\log T`) through the five grid points around ``i`` places a stencil
    :math:`t\,e^{kh}`, :math:`k = -2..2`, :math:`h` = 1%; the minimum of the stencil's quartic is the answer when it
    lies inside the stencil (error :math:`\approx \varepsilon_f/(h\,T^2 f'')` from the eigenvalues, :math:`O(h^4)`
    from the quartic), else the stencil moves there (from the quartic through the grid points and the two geometric
    midpoints of the bracket, evaluated alongside the first stencil) and, after two misses (a kink of f), shrinks.
    The stencil centre forms the critical mode. Yields ``(temperatures, keep)``, returns ``(t_star, f_min)``.
    """
    lo, c, hi = float(grid[i - 1]), float(grid[i]), float(grid[i + 1])
    near = [q for q in range(i - 2, i + 3) if 0 <= q < len(grid)]
    t_est, _ = _poly_extremum(grid[near], fs[near], lo, hi)
    mids = [float(np.sqrt(lo * c)), float(np.sqrt(c * hi))]
    h = _STENCIL
    for rnd in range(_MAX_ROUNDS):
        if rnd >= 2:
            h /= 4.0
        nodes = [min(max(t_est * float(np.exp(k * h)), lo), hi) for k in (-2, -1, 0, 1, 2)]
        if len(set(nodes)) < 5:  # clipped at the bracket: shift the stencil inside
            base = lo if nodes[0] == lo else hi * float(np.exp(-4 * h))
            nodes = [base * float(np.exp(k * h)) for k in range(5)]
        yield nodes + (mids if rnd == 0 else []), [nodes[2]]
        t_new, f_new = _poly_extremum(nodes, st.evaluate(nodes), nodes[0], nodes[-1])
        if abs(np.log(t_new / nodes[2])) <= 1.5 * h:
            inside = [t for t in st.cache if lo <= t <= hi]
            best = min(inside, key=lambda t: st.cache[t][0])
            if st.cache[best][0] < f_new - 10 * st.tolerance(best) - 1e-14 * st.scale(best):
                return float(best), float(st.cache[best][0])  # a kink: the quartic is no model of f here
            return t_new, f_new
        if rnd == 0 and t_new in (nodes[0], nodes[-1]):  # the minimum lies outside the stencil
            pts = [lo, mids[0], c, mids[1], hi]
            t_new, _ = _poly_extremum(pts, st.evaluate(pts), lo, hi)
        t_est = t_new
    inside = [t for t in st.cache if lo <= t <= hi]
    best = min(inside, key=lambda t: st.cache[t][0])
    return float(best), float(st.cache[best][0])


def _sign_change(st: _Stability, upper: bool) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """All evaluated points and the sign change next to the outermost point with f < 0 (None if it has no neighbour)."""
    Ts = np.array(sorted(st.cache))
    fs = np.array([st.cache[t][0] for t in Ts])
    neg = np.nonzero(fs < 0)[0]
    j = int(neg.max()) if upper else int(neg.min())
    k = j + 1 if upper else j - 1
    if not 0 <= k < len(Ts):
        return None
    return Ts, fs, min(j, k), max(j, k)


def _root_search(st: _Stability, upper: bool) -> Any:
    r"""Generator: the upper (``upper``) or lower end of the interval where f < 0, from all evaluated points.

    Each round takes the sign change next to the outermost negative point and the root :math:`u` of the cubic (in
    :math:`\log T`) through the two evaluated points on either side, and evaluates :math:`u\,e^{-h}, u, u\,e^{h}`
    (:math:`h` = 3e-3 first, then 100 times the change of the estimate). It stops when the cubic and the quadratic
    through the three nearest points agree to 1e-8 relative (interpolation error :math:`O(h^4)`; the eigenvalue error
    adds :math:`\varepsilon_f/|f'|`). For the upper end, the centre of each round forms the critical mode. Returns
    NaN when no evaluated point lies beyond the negative ones.
    """
    h, u_prev = _ROOT_STEPS[0], None
    for _ in range(_MAX_ROUNDS):
        sc = _sign_change(st, upper)
        if sc is None:
            return float("nan")
        Ts, fs, a, b = sc
        lo, hi = float(Ts[a]), float(Ts[b])
        sel = [q for q in range(a - 1, b + 2) if 0 <= q < len(Ts)]
        u = _poly_root(Ts[sel], fs[sel], lo, hi)
        near = sorted(sel, key=lambda q: abs(np.log(Ts[q] / u)))[:3]
        uq = _poly_root(Ts[near], fs[near], lo, hi) if len(near) == 3 else lo
        if np.log(hi / lo) <= 4 * _ROOT_STEPS[0] and abs(np.log(uq / u)) <= 1e-8:
            break
        if u_prev is not None:
            h = min(_ROOT_STEPS[0], max(_ROOT_STEPS[1], 100 * abs(np.log(u / u_prev)), 10 * abs(np.log(uq / u))))
        u_prev = u
        nodes = [t for t in (u * float(np.exp(-h)), u, u * float(np.exp(h))) if lo < t < hi]
        yield (nodes or [float(np.sqrt(lo * hi))]), ([u] if upper and u in nodes else [])
    return u


def _drive(st: _Stability, searches: dict[str, Any]) -> dict[str, Any]:
    """Run the search generators together, each as soon as the temperatures it asked for are evaluated.

    A generator yields ``(temperatures, keep)`` and is resumed when they are all cached; every Lanczos step advances
    the columns of all waiting searches at once.
    """
    out: dict[str, Any] = {}
    reqs: dict[str, tuple[list[float], list[float]]] = {}

    def ready(req: tuple[list[float], list[float]]) -> bool:
        return all(float(T) in st.cache for T in req[0]) and all(st.cache[float(T)][2] is not None for T in req[1])

    def advance(name: str, first: bool) -> None:
        try:
            req = next(searches[name]) if first else searches[name].send(None)
        except StopIteration as stop:
            out[name] = stop.value
            reqs.pop(name, None)
            return
        reqs[name] = req
        st.request(req[0], keep=req[1])

    for name in searches:
        advance(name, True)
    while reqs:
        moved = True
        while moved:
            moved = False
            for name in list(reqs):
                if name in reqs and ready(reqs[name]):
                    advance(name, False)
                    moved = True
        if reqs:
            st.step()
    return out


def _grid_phase(st: _Stability, grid: np.ndarray, loose: bool) -> np.ndarray:
    r"""f on the grid: to ``rtol * scale``; with ``loose`` (default grid) to ``max(rtol * scale, 1e-3 * margin)``.

    ``margin`` is the distance of the value from zero and from the smallest other grid value (from the running
    estimates while the columns converge, checked on the final values): enough to fix every sign and the grid's
    argmin, the only things read off the grid (the refinement evaluates its own temperatures to ``rtol``).
    """
    Ts = [float(T) for T in grid]

    def tolerances(vals: np.ndarray) -> np.ndarray:
        m = np.abs(vals)
        known = np.isfinite(vals)
        for j in range(len(vals)):
            others = vals[known & (np.arange(len(vals)) != j)]
            if others.size and np.isfinite(vals[j]):
                m[j] = min(m[j], abs(vals[j] - others.min()))
        floor = np.array([st.rtol * st.scale(T) for T in Ts])
        return np.where(np.isfinite(m), np.maximum(floor, _GRID_MARGIN * m), floor)

    def current() -> np.ndarray:
        out = np.full(len(Ts), np.nan)
        for j, T in enumerate(Ts):
            if T in st.cache:
                out[j] = st.cache[T][0]
            else:
                col = st._cols.get(T)
                if col is not None and np.isfinite(col.theta):
                    out[j] = T - col.theta
        return out

    st.request(Ts, optional_keep=True, resumable=True)
    if not loose:
        return st.evaluate(Ts)
    for T in Ts:
        col = st._cols.get(T)
        if col is not None:
            col.pairs = False
    for _ in range(4):
        while any(T in st.pending for T in Ts):
            st.step()
            eps = tolerances(current())
            for j, T in enumerate(Ts):
                col = st.pending.get(T)
                if col is not None and np.isfinite(col.theta):
                    col.eps_abs, col.eps_rel = float(eps[j]), 0.0
        vals = st.evaluate(Ts)
        eps = tolerances(vals)
        redo = [T for j, T in enumerate(Ts) if st.error(T) > eps[j]]
        if not redo:
            break
        tol = {T: float(e) for T, e in zip(Ts, eps, strict=True)}
        st.request(redo, eps=tol.__getitem__, resumable=True)
    vals = st.evaluate(Ts)
    for T in Ts:  # no further tightening: free the resume states
        col = st._cols.get(T)
        if col is not None:
            col.state = None
    return vals


def stability_curve(
    model: Any,
    temperatures: Sequence[float] | np.ndarray | None = None,
    *,
    n_grid: int = 16,
    refine: bool = True,
    rtol: float = 1e-9,
    progress: ProgressCallback | None = None,
) -> StabilityCurve:
    r"""Evaluate :math:`f(T) = \lambda_{\min}(T I + D/T - J)` and locate its minimum and its zeros.

    Parameters
    ----------
    model : IsingModel or anything :func:`spinlens.networks.to_spins` accepts.
    temperatures : grid (positive); default ``n_grid`` log-spaced points in
        ``[T_hi/20, T_hi]``, ``T_hi = 1.05 max(lambda_max(J), sqrt(max d))`` (no instability lies above:
        :math:`f(T) \ge T - \lambda_{\max}(J)`), with a first Lanczos estimate of ``lambda_max(J)`` (relative error
        below ``1e-3``, taken from above; ``lambda_max`` itself is converged to ``rtol``).
    refine : locate ``t_star`` and the zeros of :math:`f` between grid points: the minimum of the quartic (in
        :math:`\log T`) through a five-point stencil 1% apart placed by the grid, the zeros from local cubics through
        three temperatures 0.3% apart around the grid's cubic root (narrower if that misses); one round of a few
        temperatures each, solved together.
    rtol : accuracy of the eigenvalues: :math:`\lambda_{\max}(J - D/T)` to ``rtol * max(lambda_max(J), T)`` at the
        given temperatures and the refinement temperatures, ``lambda_max`` to ``rtol`` when it gets there while the
        curve is computed, else to ``1e-7`` relative (the band edge of a large CNN's J is slow to resolve); values on
        the default grid to the larger of that and ``1e-3`` times their distance from zero and from the smallest other
        grid value (all that is read off the grid: signs and argmin).

    Returns
    -------
    StabilityCurve

    Notes
    -----
    All temperatures of a round are solved together (:class:`_Lanczos`: one product of :math:`J` with a block of
    vectors per step, each temperature its own plain Lanczos recurrence from the same fixed random start), so the
    cost is a few hundred sparse products with blocks of vectors in all — time linear in nnz(J), memory linear in
    nnz(J) + n x (number of temperatures of a round). :math:`t_*` and the zeros come out to about
    :math:`10^{-7}` relative (with ``rtol = 1e-9``).
    """
    m, _ = _as_model(model)
    if not (np.isfinite(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}.")
    st = _Stability(m, rtol)
    if temperatures is None:
        lam_est = st.start_lam(provisional=True)
        t_hi = 1.05 * max(lam_est, float(np.sqrt(st.d.max())) if st.d.size else 0.0, 1e-12)
        grid = np.geomspace(t_hi / 20.0, t_hi, int(n_grid))
    else:
        grid = np.sort(np.asarray(temperatures, dtype=np.float64).ravel())
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise ValueError("temperatures must be a non-empty sequence of positive finite numbers.")
        st.start_lam(provisional=True)  # sets the accuracy scale; converged alongside the grid
    total = len(grid) + (16 if refine else 0)
    fs = _grid_phase(st, grid, loose=temperatures is None)
    notify(progress, len(grid), total)

    i = int(np.argmin(fs))
    t_star, f_min = float(grid[i]), float(fs[i])
    t_upper = t_lower = float("nan")
    neg = np.nonzero(fs < 0)[0]
    if refine:
        searches: dict[str, Any] = {}
        if 0 < i < len(grid) - 1:
            searches["min"] = _min_search(st, grid, fs, i)
        if neg.size:
            searches["upper"] = _root_search(st, True)
            searches["lower"] = _root_search(st, False)
        res = _drive(st, searches)
        if "min" in res:
            t_star, f_min = res["min"]
        if not neg.size and f_min < 0:  # the dip lies between grid points: its ends from the refined minimum
            res.update(_drive(st, {"upper": _root_search(st, True), "lower": _root_search(st, False)}))
        t_upper, t_lower = res.get("upper", t_upper), res.get("lower", t_lower)
    elif neg.size:
        if neg.max() < len(grid) - 1:
            t_upper = float(grid[neg.max() + 1])
        if neg.min() > 0:
            t_lower = float(grid[neg.min() - 1])
    lam = st.finish_lam()
    notify(progress, total, total)
    crit_T = t_upper if np.isfinite(t_upper) else t_star
    mode = st.mode_near(crit_T).copy()
    Ts = np.array(sorted(st.cache))
    vals = np.array([st.cache[T][:2] for T in Ts])
    if st.n_fallback:
        log.info("stability_curve: %d eigen-solve(s) stopped at the iteration cap before their tolerance",
                 st.n_fallback)
    return StabilityCurve(
        temperatures=Ts,
        f=vals[:, 0],
        df=vals[:, 1],
        t_star=float(t_star),
        f_min=float(f_min),
        t_upper=float(t_upper),
        t_lower=float(t_lower),
        lambda_max=float(lam),
        n_evals=st.n_evals,
        critical_mode=mode,
    )


# ---------------------------------------------------------------------------------------------- TAP
def _run_tap(model: IsingModel, beta: float, n_starts: int, rng: np.random.Generator, max_iter: int,
             damping: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TAP from random starts via :func:`spinlens.meanfield.tap`; returns (m (k, n), F (k,), converged (k,))."""
    from spinlens.meanfield import tap

    r = tap(model, beta, n_starts=n_starts, damping=damping, max_iter=max_iter, tol=1e-8, rng=rng)
    M = np.atleast_2d(np.asarray(r.m, dtype=np.float64))
    F = np.atleast_1d(np.asarray(r.free_energy, dtype=np.float64))
    res = np.atleast_1d(np.asarray(r.residual, dtype=np.float64))
    # near a transition the iteration slows down; a small residual is a solution for our purposes
    C = np.atleast_1d(np.asarray(r.converged, dtype=bool)) | (res < _ACCEPT_RESIDUAL)
    return M, F, C


@dataclass(frozen=True)
class TapEvidence(Result):
    r"""TAP solutions from random starts at one temperature.

    Attributes
    ----------
    temperature : T of the solve.
    n_starts, n_converged : random starts and how many converged (TAP residual < 1e-5).
    n_nontrivial : converged solutions with :math:`q = \overline{m_i^2} > 10^{-4}` (not the paramagnet).
    n_distinct : distinct non-trivial solutions up to the global flip (normalised overlap ``|Q| < 0.98``).
    pm_pairs : a solution and its mirror image :math:`-m` were both found.
    overlaps : (k, k) normalised overlaps :math:`Q_{ab} = m_a\cdot m_b/(|m_a||m_b|)` of the non-trivial solutions.
    overlap_spread : standard deviation of :math:`|Q_{ab}|`, :math:`a < b` (0 for a single ±m* pair).
    q_layers : (L,) per-layer :math:`q_l` of the best (lowest-free-energy) solution.
    m_layers : (L,) per-layer uniform magnetisation :math:`\overline{m_i}` of that solution.
    alignment : (k_eig,) :math:`|v_k \cdot m^*|/|m^*|` with the top eigenvectors of :math:`J`.
    critical_alignment : the same with the unstable mode of :math:`T I + D/T - J` at :math:`T_c`.
    m_best : (n,) the best solution.
    """

    temperature: float
    n_starts: int
    n_converged: int
    n_nontrivial: int
    n_distinct: int
    pm_pairs: bool
    overlap_spread: float
    overlaps: np.ndarray
    free_energies: np.ndarray
    q_layers: np.ndarray
    m_layers: np.ndarray
    alignment: np.ndarray
    critical_alignment: float
    m_best: np.ndarray


def _top_eigvecs(model: IsingModel, k: int) -> np.ndarray:
    n = model.n_spins
    k = max(1, min(k, n - 1))
    if n <= _DENSE_MAX or not model.is_sparse:
        w, V = np.linalg.eigh(model.dense_J())
        return V[:, ::-1][:, :k]
    w, V = sla.eigsh(model.csr(), k=k, which="LA", tol=1e-8)
    return V[:, np.argsort(w)[::-1]]


def tap_evidence(
    model: Any,
    temperature: float,
    *,
    n_starts: int = 16,
    max_iter: int = 1000,
    damping: float = 0.5,
    k_eig: int = 3,
    critical_mode: np.ndarray | None = None,
    rng: RNGLike = None,
    eigvecs: np.ndarray | None = None,
) -> TapEvidence:
    """Solve TAP from ``n_starts`` random starts at ``temperature`` and summarise the solutions.

    Uses :func:`spinlens.meanfield.tap` (damped, AMP-indexed iteration).
    """
    m, _ = _as_model(model)
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be positive, got {temperature}.")
    g = as_generator(rng)
    M, F, C = _run_tap(m, 1.0 / float(temperature), int(n_starts), g, int(max_iter), float(damping))
    q = np.mean(M**2, axis=1)
    good = np.nonzero(C & (q > 1e-4))[0]
    good = good[np.argsort(F[good])]
    Ms = M[good]
    norms = np.linalg.norm(Ms, axis=1)
    Q = (Ms @ Ms.T) / np.outer(norms, norms) if len(good) else np.zeros((0, 0))
    reps: list[int] = []
    signs_seen: list[set[int]] = []
    for a in range(len(good)):
        for r_i, r in enumerate(reps):
            if abs(Q[a, r]) >= 0.98:
                signs_seen[r_i].add(int(np.sign(Q[a, r])))
                break
        else:
            reps.append(a)
            signs_seen.append({1})
    iu = np.triu_indices(len(good), 1)
    spread = float(np.std(np.abs(Q[iu]))) if iu[0].size else 0.0
    slices = m.layer_slices()
    if len(good):
        best = Ms[0]
        vecs = eigvecs if eigvecs is not None else _top_eigvecs(m, k_eig)
        align = np.abs(vecs.T @ best) / max(np.linalg.norm(best), 1e-300)
        crit = (
            float(abs(critical_mode @ best) / max(np.linalg.norm(best) * np.linalg.norm(critical_mode), 1e-300))
            if critical_mode is not None and critical_mode.size == best.size
            else float("nan")
        )
    else:
        best = np.zeros(m.n_spins)
        align = np.zeros(0)
        crit = float("nan")
    return TapEvidence(
        temperature=float(temperature),
        n_starts=int(n_starts),
        n_converged=int(C.sum()),
        n_nontrivial=int(len(good)),
        n_distinct=len(reps),
        pm_pairs=any(len(s) == 2 for s in signs_seen),
        overlap_spread=spread,
        overlaps=Q,
        free_energies=F[good],
        q_layers=np.array([float(np.mean(best[s] ** 2)) for s in slices]),
        m_layers=np.array([float(np.mean(best[s])) for s in slices]),
        alignment=align,
        critical_alignment=crit,
        m_best=best,
    )


# ---------------------------------------------------------------------------------------------- analyze
@dataclass(frozen=True)
class PhaseResult(Result):
    r"""Transition temperature and phase of a spin model, with the evidence.

    Attributes
    ----------
    t_c : transition temperature (NaN for a paramagnet or when it lies outside the given range).
    phase : ``"paramagnet"``, ``"spin glass"`` or ``"hidden order"``.
    criterion : how ``t_c`` was read: ``"tangency"`` (argmin of f), ``"upper zero"`` or ``"none"``.
    t_star, f_min : the minimum of the stability curve (``f_min_rel = f_min / t_star``).
    t_lower : lower end of the negative interval of f (NaN if none).
    tolerance : finite-size tolerance on ``f_min_rel`` (:func:`default_tolerance`).
    temperatures, stability : the curve :math:`f(T)`.
    lambda_max : largest eigenvalue of J.
    tap : TAP evidence below :math:`T_c` (one entry per probed temperature).
    evidence_agrees : the TAP evidence is consistent with the phase (hidden order: one ±m* pair;
        glass: no single pair); None without TAP evidence.
    notes : human-readable remarks (range limits, disagreements).
    """

    t_c: float
    phase: str
    criterion: str
    t_star: float
    f_min: float
    f_min_rel: float
    t_lower: float
    tolerance: float
    lambda_max: float
    n_spins: int
    widths: tuple
    temperatures: np.ndarray
    stability: np.ndarray
    critical_mode: np.ndarray
    tap: tuple = ()
    evidence_agrees: bool | None = None
    notes: tuple = ()

    def summary(self) -> str:
        return f"{self.phase}, T_c = {self.t_c:.4g} ({self.criterion}; f_min/T* = {self.f_min_rel:+.3g})"

    def scalars(self) -> dict[str, Any]:
        d = super().scalars()
        d["tap"] = [t.scalars() for t in self.tap]
        return d


def analyze(
    model: Any,
    temperatures: Sequence[float] | np.ndarray | None = None,
    *,
    n_grid: int = 16,
    tol: float | None = None,
    n_starts: int = 16,
    tap_fractions: Sequence[float] = (0.8,),
    tap_max_iter: int = 1000,
    rtol: float = 1e-9,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> PhaseResult:
    r"""Transition temperature and phase of ``model`` from the TAP paramagnet's stability.

    Parameters
    ----------
    model : IsingModel, or a network / state dict / weight list (mapped with :func:`to_spins`).
    temperatures : optional grid; by default a range that contains every instability
        (see :func:`stability_curve`). With a user range, ``t_c`` is NaN when the transition lies outside
        it, and a range wholly above :math:`T_c` is classified paramagnet.
    tol : finite-size tolerance on :math:`f_{\min}/T_*` (default :func:`default_tolerance`):
        hidden order if :math:`f_{\min} < -\mathrm{tol}\,T_*`; spin glass if
        :math:`|f_{\min}| \le 5\,\mathrm{tol}\,T_*`; paramagnet if larger.
    n_starts : random TAP starts per probed temperature (0 skips the TAP evidence).
    tap_fractions : probe temperatures as fractions of :math:`T_c` (of :math:`T_*` for a paramagnet).
    rtol : accuracy of the stability curve's eigensolver (:func:`stability_curve`).

    Returns
    -------
    PhaseResult
    """
    m, widths = _as_model(model)
    n = m.n_spins
    tol = default_tolerance(n) if tol is None else float(tol)
    if not (tol > 0):
        raise ValueError(f"tol must be positive, got {tol}.")
    n_tap = len(tap_fractions) if n_starts > 0 else 0

    def prog(done: int, total: int) -> None:
        notify(progress, done, total + n_tap)

    curve = stability_curve(m, temperatures, n_grid=n_grid, rtol=rtol, progress=prog)
    grid = curve.temperatures
    notes: list[str] = []
    t_star, f_min = curve.t_star, curve.f_min
    rel = f_min / t_star
    user_range = temperatures is not None
    at_low = user_range and np.isclose(t_star, grid.min())
    at_high = user_range and np.isclose(t_star, grid.max())
    if rel < -tol:
        phase, criterion = "hidden order", "upper zero"
        t_c = curve.t_upper
        if not np.isfinite(t_c):
            notes.append(f"f < 0 at the top of the range: T_c > {grid.max():.4g}.")
            criterion = "none"
    elif rel <= 5 * tol and not at_low:
        phase, criterion = "spin glass", "tangency"
        t_c = t_star
        if at_high:
            notes.append(f"f still decreases at the top of the range: the tangency lies above {grid.max():.4g}.")
            t_c, criterion = float("nan"), "none"
    else:
        phase, criterion, t_c = "paramagnet", "none", float("nan")
        if at_low:
            notes.append(f"f decreases to the bottom of the range: any transition lies below {grid.min():.4g}.")
        else:
            notes.append(f"f stays positive (min f/T = {rel:.3g} > {5 * tol:.3g}): no mean-field instability.")
    taps: list[TapEvidence] = []
    if n_tap and n > 1 and np.any(m.coupling_square_sums() > 0):
        t_ref = t_c if np.isfinite(t_c) else t_star
        vecs = _top_eigvecs(m, 3)
        for k, (frac, g) in enumerate(zip(tap_fractions, spawn(rng, n_tap), strict=True)):
            taps.append(
                tap_evidence(m, float(frac) * t_ref, n_starts=n_starts, max_iter=tap_max_iter,
                             critical_mode=curve.critical_mode, rng=g, eigvecs=vecs)
            )
            prog(len(grid) + 16 + k + 1, len(grid) + 16)
    agrees: bool | None = None
    if taps and phase != "paramagnet":
        ev = taps[0]
        single_pair = ev.n_distinct == 1 and ev.n_nontrivial > 0
        if phase == "hidden order":
            agrees = single_pair or (ev.n_distinct <= 3 and ev.overlap_spread < 0.2)
        else:
            agrees = not single_pair
        if not agrees:
            notes.append(
                f"TAP evidence at T = {ev.temperature:.3g}: {ev.n_distinct} distinct solution(s) from "
                f"{ev.n_starts} starts ({ev.n_converged} converged) — not the usual signature of a {phase}."
            )
    return PhaseResult(
        t_c=float(t_c),
        phase=phase,
        criterion=criterion,
        t_star=float(t_star),
        f_min=float(f_min),
        f_min_rel=float(rel),
        t_lower=float(curve.t_lower),
        tolerance=tol,
        lambda_max=float(curve.lambda_max),
        n_spins=n,
        widths=tuple(widths) if widths else (n,),
        temperatures=grid,
        stability=curve.f,
        critical_mode=curve.critical_mode,
        tap=tuple(taps),
        evidence_agrees=agrees,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------- predictions
def layered_tc(widths: Sequence[int], variances: Sequence[float]) -> float:
    r"""Layered-SK glass temperature :math:`T_c^2 = \lambda_{\max}(M)`, :math:`M_{ab} = n_b \sigma_{ab}^2`.

    ``variances[l]`` is the coupling variance between layers ``l`` and ``l+1`` (adjacent layers only).
    Equal widths with :math:`C = n\sigma^2` and :math:`L` weight matrices give
    :math:`T_c = \sqrt{2C\cos(\pi/(L+2))}`.
    """
    w = np.asarray([int(x) for x in widths], dtype=np.float64)
    s2 = np.asarray(variances, dtype=np.float64)
    if len(w) < 2 or s2.shape != (len(w) - 1,):
        raise ValueError(f"need len(variances) == len(widths) - 1, got {len(variances)} and {len(widths)}.")
    if np.any(w < 1) or np.any(s2 < 0) or not np.all(np.isfinite(s2)):
        raise ValueError("widths must be positive and variances non-negative and finite.")
    try:  # the exact module's closed form when present (same formula)
        from spinlens.exact import layered_sk_tc  # type: ignore[attr-defined]

        return float(layered_sk_tc([int(x) for x in w], [float(x) for x in s2]))
    except (ImportError, TypeError, ValueError):  # e.g. an all-zero layer: the local computation handles it
        pass
    L = len(w)
    M = np.zeros((L, L))
    for a in range(L - 1):
        M[a, a + 1] = w[a + 1] * s2[a]
        M[a + 1, a] = w[a] * s2[a]
    # M is similar to the symmetric S_ab = sqrt(n_a n_b) sigma_ab^2
    S = np.sqrt(M * M.T)
    return float(np.sqrt(max(np.linalg.eigvalsh(S)[-1], 0.0)))


def init_prediction(weights: Any) -> float:
    r"""Layered-SK :math:`T_c` from the actual widths and weight second moments :math:`\sigma_l^2 = \overline{W_l^2}`.

    ``weights``: anything :func:`spinlens.networks.to_spins` accepts (typically the step-0 checkpoint).
    """
    from spinlens.networks.to_spins import extract_weights

    Ws, _, _ = extract_weights(weights)
    widths = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    return layered_tc(widths, [float(np.mean(W**2)) for W in Ws])


def class_alignment(m_input: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Cosine similarity of the input-layer magnetisation with each centred class-mean image.

    :math:`a_c = \cos\angle(m^{(0)}, \bar x_c - \bar x)`; shape ``(n_classes,)``.
    """
    m_input = np.asarray(m_input, dtype=np.float64).ravel()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError("class_alignment needs a non-empty X of shape (n_samples, n_features ...), got an empty X.")
    if y.shape != (len(X),):
        raise ValueError(f"y must hold one label per sample: X has {len(X)} samples, y has shape {y.shape}.")
    X = X.reshape(len(X), -1)
    if X.shape[1] != m_input.size:
        raise ValueError(f"input magnetisation has {m_input.size} entries but X has {X.shape[1]} features.")
    mu = X.mean(0)
    out = []
    nm = np.linalg.norm(m_input)
    for c in np.unique(y):
        d = X[y == c].mean(0) - mu
        out.append(float(d @ m_input / max(np.linalg.norm(d) * nm, 1e-300)))
    if nm == 0:
        warnings.warn("input magnetisation is zero; class alignment is undefined (0).", stacklevel=2)
    return np.asarray(out)


# ---------------------------------------------------------------------------------------------- Monte Carlo
@dataclass(frozen=True)
class MCCrossCheck(Result):
    r"""Parallel-tempering cross-check of a transition: replica overlaps over a temperature ladder.

    Attributes
    ----------
    temperatures : (K,) ascending ladder temperatures.
    q2 : (K,) :math:`\langle q^2\rangle`, :math:`q = \frac1n \sum_i s_i^{a} s_i^{b}` between independent ladders.
    chi_sg : (K,) spin-glass susceptibility :math:`\chi_{SG} = n \langle q^2 \rangle`.
    binder : (K,) overlap Binder parameter :math:`g = \tfrac12(3 - \langle q^4\rangle/\langle q^2\rangle^2)`
        (0 for a paramagnet, 1 deep in an ordered phase).
    q_edges, p_q : histogram edges (B+1,) and :math:`P(q)` (K, B).
    t_onset : highest ladder temperature with ``binder > 0.5`` (NaN if none): the finite-size onset of order.
    """

    temperatures: np.ndarray
    q2: np.ndarray
    chi_sg: np.ndarray
    binder: np.ndarray
    q_edges: np.ndarray
    p_q: np.ndarray
    t_onset: float
    n_sweeps: int


def mc_crosscheck(
    model: Any,
    temperatures: Sequence[float] | np.ndarray,
    *,
    n_sweeps: int = 2000,
    n_burn: int | None = None,
    n_pairs: int = 2,
    bins: int = 41,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> MCCrossCheck:
    """Parallel tempering over ``temperatures`` with ``2 n_pairs`` independent ladders; overlap statistics.

    Use it on small networks (a few hundred spins): it checks that order sets in near the ``t_c`` of
    :func:`analyze` (a paramagnet has :math:`g \approx 0`, an ordered phase :math:`g \to 1`).
    """
    from spinlens.sampling import ParallelTempering

    m, _ = _as_model(model)
    T = np.sort(np.asarray(temperatures, dtype=np.float64).ravel())
    if T.size < 2 or np.any(T <= 0) or not np.all(np.isfinite(T)):
        raise ValueError("temperatures must hold at least two positive finite values.")
    betas = tuple(sorted(float(b) for b in 1.0 / T))  # ascending betas = descending temperatures
    burn = int(n_sweeps // 4) if n_burn is None else int(n_burn)
    pt = ParallelTempering(betas=betas, n_chains=2 * int(n_pairs), n_burn=burn, record_all=True)
    samples, _ = pt.sample(m, betas[-1], int(n_sweeps), rng=rng, progress=progress)
    Q = np.asarray(samples.extra["overlaps"])  # (n_pairs, n_records, K), K ordered like betas (ascending)
    Q = Q[..., ::-1]  # ascending temperatures
    q = Q.reshape(-1, Q.shape[-1])
    q2 = np.mean(q**2, axis=0)
    q4 = np.mean(q**4, axis=0)
    binder = 0.5 * (3.0 - q4 / np.maximum(q2**2, 1e-300))
    edges = np.linspace(-1, 1, int(bins) + 1)
    pq = np.stack([np.histogram(q[:, k], bins=edges, density=True)[0] for k in range(q.shape[1])])
    above = np.nonzero(binder > 0.5)[0]
    t_on = float(T[above.max()]) if above.size else float("nan")
    return MCCrossCheck(
        temperatures=T, q2=q2, chi_sg=m.n_spins * q2, binder=binder, q_edges=edges, p_q=pq, t_onset=t_on,
        n_sweeps=int(n_sweeps),
    )
