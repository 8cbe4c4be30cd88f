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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as sla
from scipy.optimize import brentq

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
class _Stability:
    r"""Evaluates f(T), f'(T) and the critical mode v(T), warm-starting the eigensolver from the nearest known v.

    Sparse models: :math:`f(T) = T - \lambda_{\max}(J - D/T)` by ARPACK (implicitly restarted Lanczos), started
    from the critical mode of the nearest temperature already evaluated, mixed with a fixed random vector (see
    :meth:`_sparse_min`). Cost per evaluation: a few tens of sparse products with :math:`J` (time and memory
    linear in nnz(J)).
    """

    def __init__(self, model: IsingModel, rtol: float = 1e-9) -> None:
        self.rtol = float(rtol)
        self.n = model.n_spins
        self.d = model.coupling_square_sums()
        self.dense = self.n <= _DENSE_MAX
        self.J = model.dense_J() if self.dense else model.csr()
        self.v: np.ndarray | None = None
        self.n_evals = 0
        self.n_matvec = 0
        self.n_fallback = 0  # evaluations where ARPACK stopped before its tolerance (best answer kept)
        self.cache: dict[float, tuple[float, float, np.ndarray]] = {}
        self.empty = (not np.any(self.d > 0))
        self.lam: float | None = None

    def lam_max_J(self) -> float:
        if self.empty:
            return 0.0
        if self.dense:
            return float(np.linalg.eigvalsh(self.J)[-1])
        val, vec = sla.eigsh(self.J, k=1, which="LA", tol=min(1e-8, self.rtol))
        self.v = vec[:, 0]  # the critical mode as T -> infinity: the first warm start
        self.lam = float(val[0])
        return self.lam

    def _start(self, T: float) -> np.ndarray | None:
        """Critical mode of the evaluated temperature nearest to ``T`` (in log T), else the last known vector."""
        if not self.cache:
            return self.v
        near = min(self.cache, key=lambda t: abs(np.log(t / T)))
        return self.cache[near][2]

    def _sparse_min(self, T: float) -> tuple[float, np.ndarray]:
        """Lowest eigenpair of ``H(T) = T I + D/T - J`` (sparse J): the top eigenpair of ``J - D/T`` by ARPACK.

        The start is the critical mode of the nearest evaluated temperature plus a fixed random tenth: a pure warm
        start cannot leave its symmetry sector (a translation-invariant convolutional J commutes with shifts, so a
        plane-wave start would give the lowest eigenvalue of one wave vector only, not of ``H``).
        """
        J, n = self.J, self.n
        dT = self.d / T

        def mv(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x)
            self.n_matvec += 1 if x.ndim == 1 else x.shape[1]
            if x.ndim == 1:
                return J @ x - dT * x
            return J @ x - dT[:, None] * x

        op = sla.LinearOperator((n, n), matvec=mv, matmat=mv, dtype=np.float64)
        r = as_generator(0).standard_normal(n)
        v0 = self._start(T)
        start = r if v0 is None else v0 / np.linalg.norm(v0) + 0.1 * r / np.linalg.norm(r)
        try:
            wa, Va = sla.eigsh(op, k=1, which="LA", v0=start, tol=self.rtol, ncv=min(n - 1, 32),
                               maxiter=20 * n)
        except sla.ArpackNoConvergence as exc:  # keep the best available answer
            if len(exc.eigenvalues) == 0:
                raise
            self.n_fallback += 1
            wa, Va = exc.eigenvalues, exc.eigenvectors
        return T - float(wa[0]), Va[:, 0]

    def __call__(self, T: float) -> tuple[float, float, np.ndarray]:
        T = float(T)
        if T in self.cache:
            return self.cache[T]
        if self.empty:
            v = np.zeros(self.n)
            v[0] = 1.0
            out = (T, 1.0, v)
            self.cache[T] = out
            return out
        if self.dense:
            K = self.J - np.diag(self.d / T)
            w, V = scipy.linalg.eigh(K, subset_by_index=[self.n - 1, self.n - 1], driver="evr")
            f, v = T - float(w[-1]), V[:, -1]
        else:
            f, v = self._sparse_min(T)
        self.v = v
        self.n_evals += 1
        fp = 1.0 - float(v @ (self.d * v)) / T**2
        out = (f, fp, v)
        self.cache[T] = out
        return out


@dataclass(frozen=True)
class StabilityCurve(Result):
    r"""The stability curve :math:`f(T)` of the TAP paramagnet and its landmarks.

    Attributes
    ----------
    temperatures, f, df : (g,) arrays — grid, :math:`f(T)`, :math:`f'(T)` (refinement points included).
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
        :math:`f(T) \ge T - \lambda_{\max}(J)`).
    refine : locate ``t_star`` (root of :math:`f'`) and the zeros of :math:`f` by Brent's method between
        grid points (warm-started sparse eigensolver; a handful of extra evaluations).
    rtol : relative accuracy asked of the sparse eigensolver (ARPACK's ``tol``: the top eigenvalue of
        :math:`J - D/T` is accurate to about that fraction of :math:`\|J - D/T\|`). A looser value saves sparse
        products; check that the phase and :math:`T_c` do not move before relying on one.

    Returns
    -------
    StabilityCurve
    """
    m, _ = _as_model(model)
    if not (np.isfinite(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}.")
    st = _Stability(m, rtol)
    lam = st.lam_max_J()
    if temperatures is None:
        t_hi = 1.05 * max(lam, float(np.sqrt(st.d.max())) if st.d.size else 0.0, 1e-12)
        grid = np.geomspace(t_hi / 20.0, t_hi, int(n_grid))
    else:
        grid = np.sort(np.asarray(temperatures, dtype=np.float64).ravel())
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise ValueError("temperatures must be a non-empty sequence of positive finite numbers.")
    total = len(grid) + (16 if refine else 0)
    fs = np.empty(len(grid))
    for k, T in enumerate(grid[::-1]):  # from hot to cold: the critical mode changes smoothly
        fs[len(grid) - 1 - k] = st(T)[0]
        notify(progress, k + 1, total)

    def f_of(T: float) -> float:
        return st(T)[0]

    def fp_of(T: float) -> float:
        return st(T)[1]

    # minimum
    i = int(np.argmin(fs))
    t_star = float(grid[i])
    if refine and 0 < i < len(grid) - 1:
        a, b = float(grid[i - 1]), float(grid[i + 1])
        if fp_of(a) < 0 < fp_of(b):
            try:
                t_star = float(brentq(fp_of, a, b, xtol=1e-6 * b, maxiter=30))
            except (ValueError, RuntimeError):  # kink from an eigenvalue crossing
                t_star = float(grid[i])
            if f_of(t_star) > fs[i]:
                t_star = float(grid[i])
    f_min = f_of(t_star)
    # zeros around the negative interval
    t_upper = t_lower = float("nan")
    neg = np.nonzero(fs < 0)[0]
    if neg.size or f_min < 0:
        hi_idx = int(neg.max()) if neg.size else i
        lo_idx = int(neg.min()) if neg.size else i
        t_neg_hi = float(grid[hi_idx]) if neg.size else t_star
        t_neg_lo = float(grid[lo_idx]) if neg.size else t_star
        if hi_idx < len(grid) - 1:
            b = float(grid[hi_idx + 1])
            t_upper = float(brentq(f_of, t_neg_hi, b, xtol=1e-7 * b, maxiter=40)) if refine else b
        if lo_idx > 0:
            a = float(grid[lo_idx - 1])
            t_lower = float(brentq(f_of, a, t_neg_lo, xtol=1e-7 * t_neg_lo, maxiter=40)) if refine else a
    notify(progress, total, total)
    Ts = np.array(sorted(st.cache))
    vals = np.array([st.cache[T][:2] for T in Ts])
    crit_T = t_upper if np.isfinite(t_upper) else t_star
    return StabilityCurve(
        temperatures=Ts,
        f=vals[:, 0],
        df=vals[:, 1],
        t_star=t_star,
        f_min=float(f_min),
        t_upper=t_upper,
        t_lower=t_lower,
        lambda_max=lam,
        n_evals=st.n_evals,
        critical_mode=st(crit_T)[2].copy(),
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
