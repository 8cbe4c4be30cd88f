r"""TAP census: the distinct solutions of the TAP equations at several temperatures, classified.

TAP equations (Thouless, Anderson & Palmer 1977; second-order Plefka 1982 expansion) and free energy as in
:mod:`spinlens.meanfield.tap`; their solutions are the stationary points of :math:`F_{TAP}`:

.. math:: \partial_{m_i} \beta F = \operatorname{artanh} m_i - \beta\Big(h_i + \sum_j J_{ij} m_j\Big)
          + \beta^2 m_i \sum_j J_{ij}^2 (1 - m_j^2) = 0 .

The Hessian of :math:`F_{TAP}` (derived from the formula above, :func:`spinlens.meanfield.tap_hessian`
returns it for :math:`\beta F`; here it is divided by :math:`\beta`):

.. math:: \frac{\partial^2 F}{\partial m_i \partial m_j} = T\Big\{\delta_{ij}\Big[\frac{1}{1-m_i^2}
          + \beta^2 \sum_k J_{ik}^2 (1-m_k^2)\Big] - \beta J_{ij} - 2\beta^2 J_{ij}^2 m_i m_j\Big\} .

A solution is a **minimum** when the lowest eigenvalue of this Hessian is positive, else a **saddle**.

Solver (spinlens's own scheme). The parallel TAP iteration of :mod:`spinlens.meanfield.tap` is attracted to the
paramagnet from random starts below :math:`T_c` (for SK the TAP paramagnet stays locally stable at every
temperature, see :mod:`spinlens.meanfield.stability`), so the census finds stationary points directly:
(1) batched Armijo gradient descent on :math:`\beta F` in :math:`x = \operatorname{artanh} m` for all starts at
once (each iteration one product ``J @ M`` and one ``J∘J @ (1 - M∘M)`` for the whole batch), then (2) Newton's
method on :math:`\nabla_m \beta F = 0` per start (dense solve for dense couplings, MINRES with the sparse Hessian
otherwise), which converges quadratically to the nearest stationary point, minimum or saddle.

The **Plefka condition** (validity of the expansion, Plefka 1982) is reported for each solution in the form
:math:`x = \beta^2 \lambda_{\max}(V\,J^{\circ 2} V) \le 1`, :math:`V = \mathrm{diag}(1-m_i^2)`; for SK it reduces to
Plefka's :math:`\beta^2 \frac1n\sum_i(1-m_i^2)^2 \le 1` (this matrix form is spinlens's own generalisation).

References: Thouless, Anderson & Palmer, *Solution of 'Solvable model of a spin glass'*, Phil. Mag. 35, 593
(1977); Plefka, *Convergence condition of the TAP equation for the infinite-ranged Ising spin glass model*,
J. Phys. A 15, 1971 (1982); Bray & Moore, *Metastable states in spin glasses*, J. Phys. C 13, L469 (1980);
Aspelmeier, Bray & Moore, *Complexity of Ising spin glasses*, Phys. Rev. Lett. 92, 087203 (2004).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, spawn
from spinlens.meanfield import _core
from spinlens.meanfield.stability import lowest_eigenpairs, tap_hessian
from spinlens.meanfield.tap import tap_free_energy
from spinlens.results import Result
from spinlens.spins.model import IsingModel, as_count, as_positive, as_real, as_real_array

__all__ = ["CensusLevelResult", "MeltingResult", "TapCensusResult", "melting_temperature", "tap_census"]

CENSUS_PHASES = ("paramagnet", "hidden order", "glass", "undetermined")
_CLIP = 1.0 - 1e-12


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CensusLevelResult(Result):
    r"""The distinct TAP solutions found at one temperature (rows sorted by free energy).

    Attributes
    ----------
    temperature, beta : the temperature of the census.
    phase : ``"paramagnet"``, ``"hidden order"``, ``"glass"`` or ``"undetermined"`` (rules in :func:`tap_census`).
    m : (k, n) the distinct solutions (one representative per class up to the flip when h = 0).
    free_energy : (k,) :math:`F_{TAP}(m)` (:func:`spinlens.meanfield.tap_free_energy`, energy units, extensive).
    q : (k,) :math:`q = \frac1n\sum_i m_i^2`.
    hessian_min : (k,) lowest eigenvalue of :math:`\partial^2 F/\partial m^2` (formula in the module docstring).
    is_minimum : (k,) ``hessian_min > 0``.
    plefka : (k,) Plefka parameter :math:`x` (valid expansion: ``x <= 1``).
    residual : (k,) :math:`\max_i |m_i - \mathrm{rhs}_i(m)|` of the TAP equations.
    counts, annealed_counts : (k,) how many random / annealed starts reached the solution (either sign).
    both_signs : (k,) both :math:`m` and :math:`-m` were reached (h = 0 only).
    overlaps : (k, k) normalised overlaps :math:`Q_{ab} = m_a\cdot m_b/(|m_a||m_b|)` (0 where a row is m = 0).
    n_minima, n_saddles : non-trivial (q > q_zero) minima and saddles.
    overlap_spread : standard deviation of :math:`|Q_{ab}|` over pairs of non-trivial minima (0 for < 2).
    n_failed : starts that did not reach a solution (residual above the acceptance threshold).
    """

    temperature: float
    beta: float
    phase: str
    m: np.ndarray
    free_energy: np.ndarray
    q: np.ndarray
    hessian_min: np.ndarray
    is_minimum: np.ndarray
    plefka: np.ndarray
    residual: np.ndarray
    counts: np.ndarray
    annealed_counts: np.ndarray
    both_signs: np.ndarray
    overlaps: np.ndarray
    n_minima: int
    n_saddles: int
    overlap_spread: float
    n_failed: int


@dataclass(frozen=True)
class TapCensusResult(Result):
    """TAP census over a temperature grid: one :class:`CensusLevelResult` per temperature (input order).

    Attributes
    ----------
    temperatures : (n_T,) the temperatures; phases : their labels; levels : the per-temperature censuses.
    n_random, n_annealed, t_start : the starts used; same_threshold, q_zero : the deduplication thresholds.
    """

    temperatures: np.ndarray
    phases: tuple[str, ...]
    levels: tuple[CensusLevelResult, ...]
    n_random: int
    n_annealed: int
    t_start: float
    same_threshold: float
    q_zero: float


@dataclass(frozen=True)
class MeltingResult(Result):
    r"""Where the ordered TAP minimum disappears on heating.

    Attributes
    ----------
    t_melt : midpoint of the bracket; t_low_bracket, t_high_bracket : last temperature with the ordered minimum,
    first without it (resolution ``t_high_bracket - t_low_bracket``).
    reason : ``"collapsed"`` (onto m = 0), ``"saddle"`` (lowest Hessian eigenvalue <= 0), ``"no solution"``
    or ``"not melted"`` (still ordered at ``t_max``).
    temperatures, q, hessian_min : (k,) the path followed (last accepted ordered state at each step).
    m : (n,) the ordered minimum at ``t_low_bracket``.
    """

    t_melt: float
    t_low_bracket: float
    t_high_bracket: float
    reason: str
    temperatures: np.ndarray
    q: np.ndarray
    hessian_min: np.ndarray
    m: np.ndarray


# ---------------------------------------------------------------------------------------------- kernels
def _grad_terms(J: Any, J2: Any, h: np.ndarray, beta: float, M: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row-wise beta F, d(beta F)/dm and V = 1 - m^2 (two batched products)."""
    V = 1.0 - M * M
    JM = _core.matmul_rows(J, M)
    JV = _core.matmul_rows(J2, V)
    bf = _core.entropy_term(M) - beta * (0.5 * np.einsum("bi,bi->b", M, JM) + M @ h) \
        - 0.25 * beta**2 * np.einsum("bi,bi->b", V, JV)
    gm = np.arctanh(np.clip(M, -_CLIP, _CLIP)) - beta * (h + JM) + beta**2 * M * JV
    return bf, gm, V


def _descend(J: Any, J2: Any, h: np.ndarray, beta: float, M0: np.ndarray, n_iter: int) -> np.ndarray:
    r"""Batched Armijo gradient descent on :math:`\beta F` in :math:`x = \operatorname{artanh} m` (per-row steps)."""
    if M0.shape[0] == 0 or n_iter == 0:
        return M0.copy()
    M = np.clip(M0, -_CLIP, _CLIP).copy()
    X = np.arctanh(M)
    bf, gm, V = _grad_terms(J, J2, h, beta, M)
    eta = np.full(M.shape[0], 0.5)
    for _ in range(n_iter):
        gx = V * gm
        Xt = X - eta[:, None] * gx
        Mt = np.tanh(Xt)
        bft, gmt, Vt = _grad_terms(J, J2, h, beta, Mt)
        ok = bft <= bf - 1e-4 * eta * np.einsum("bi,bi->b", gx, gx)
        X[ok], M[ok], bf[ok], gm[ok], V[ok] = Xt[ok], Mt[ok], bft[ok], gmt[ok], Vt[ok]
        eta = np.where(ok, np.minimum(eta * 1.3, 50.0), eta * 0.5)
    return M


def _residual(J: Any, J2: Any, h: np.ndarray, beta: float, M: np.ndarray) -> np.ndarray:
    return _core._residual(J, J2, h, np.full(M.shape[0], beta), M)


def _newton(model: IsingModel, J: Any, J2: Any, beta: float, m: np.ndarray, n_iter: int, tol: float) -> np.ndarray:
    r"""Newton's method on :math:`\nabla_m \beta F = 0` from ``m`` (steps shortened to stay inside (-1, 1)^n)."""
    h = model.h
    m = np.clip(m, -_CLIP, _CLIP)
    for _ in range(n_iter):
        if _residual(J, J2, h, beta, m[None])[0] < tol:
            break
        g = _grad_terms(J, J2, h, beta, m[None])[1][0]
        H = tap_hessian(model, m, beta)
        if sp.issparse(H):
            dm, _info = spla.minres(H, -g, rtol=1e-10, maxiter=2000)
        else:
            try:
                dm = np.linalg.solve(H, -g)
            except np.linalg.LinAlgError:
                break
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(dm > 0, (_CLIP - m) / dm, np.where(dm < 0, (-_CLIP - m) / dm, np.inf))
        t = min(1.0, 0.9 * float(np.min(room)))
        if not np.isfinite(t) or t <= 0:
            break
        m = np.clip(m + t * dm, -_CLIP, _CLIP)
    return m


def _solve(model: IsingModel, J: Any, J2: Any, beta: float, M0: np.ndarray, descent_iter: int,
           newton_iter: int, tol: float, n_newton_only: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Descent for the batch (but its last ``n_newton_only`` rows), then Newton per row; returns (M, residual)."""
    with _core.blas_threads(1):
        k = M0.shape[0] - n_newton_only
        M = np.vstack([_descend(J, J2, model.h, beta, M0[:k], descent_iter), M0[k:]])
        for a in range(M.shape[0]):
            M[a] = _newton(model, J, J2, beta, M[a], newton_iter, tol)
        res = _residual(J, J2, model.h, beta, M) if M.shape[0] else np.zeros(0)
    return M, res


def _hessian_min(model: IsingModel, m: np.ndarray, beta: float) -> float:
    """Lowest eigenvalue of d^2 F/dm^2 = T * Hessian of beta F (dense eigh up to 1500 spins, else ARPACK)."""
    H = tap_hessian(model, m, beta)
    w, _ = lowest_eigenpairs(H, 1, tol=1e-10)
    return float(w[0]) / beta


def _plefka(J2: Any, m: np.ndarray, beta: float) -> float:
    r""":math:`\beta^2 \lambda_{\max}(V J^{\circ 2} V)` by power iteration (non-negative matrix: Perron vector)."""
    v = 1.0 - m * m
    x = np.ones(m.size) / np.sqrt(m.size)
    lam = 0.0
    for _ in range(200):
        y = v * np.asarray(J2 @ (v * x)).ravel()
        nrm = float(np.linalg.norm(y))
        if nrm == 0.0:
            return 0.0
        new = float(x @ y)
        x = y / nrm
        if abs(new - lam) <= 1e-10 * max(1.0, abs(new)):
            lam = new
            break
        lam = new
    return beta**2 * lam


# ---------------------------------------------------------------------------------------------- checks
def _check_temperatures(temperatures: Any, name: str = "temperatures") -> np.ndarray:
    if isinstance(temperatures, (str, bytes)) or temperatures is None:
        raise ValueError(f"{name} must be a non-empty 1-D array of positive numbers, got {temperatures!r}.")
    T = np.atleast_1d(as_real_array(temperatures, name, allow_empty=True, finite=False))
    if T.ndim != 1 or T.size == 0 or not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite positive numbers.")
    return T


def _lambda_max(model: IsingModel) -> float:
    J = model.J
    n = model.n_spins
    if sp.issparse(J) and n > 64:
        with _core.single_thread_blas():
            return float(spla.eigsh(model.csr(), k=1, which="LA", return_eigenvectors=False)[0])
    A = J.toarray() if sp.issparse(J) else np.asarray(J)
    return float(np.linalg.eigvalsh(A)[-1])


# ---------------------------------------------------------------------------------------------- census
def _level(model: IsingModel, J2: Any, T: float, M: np.ndarray, res: np.ndarray, annealed: np.ndarray,
           accept: float, same: float, q_zero: float, glass_min: int, spread_min: float) -> CensusLevelResult:
    beta = 1.0 / T
    n = model.n_spins
    flip = not np.any(model.h != 0.0)
    ok = res < accept
    n_failed = int(np.sum(~ok))
    cand = [int(a) for a in np.flatnonzero(ok)]
    if flip:
        cand.append(-1)  # m = 0 is an exact solution when h = 0
    reps: list[np.ndarray] = []
    counts: list[int] = []
    acounts: list[int] = []
    signs: list[set[int]] = []
    for a in cand:
        m = np.zeros(n) if a < 0 else M[a]
        qa = float(np.mean(m * m))
        for r_i, r in enumerate(reps):
            qr = float(np.mean(r * r))
            if qa <= q_zero and qr <= q_zero:
                s = 1
            elif qa <= q_zero or qr <= q_zero:
                continue
            else:
                c = float(m @ r) / (n * max(qa, qr))
                s = 1 if c >= same else (-1 if flip and -c >= same else 0)
                if s == 0:
                    continue
            if a >= 0:
                counts[r_i] += int(not annealed[a])
                acounts[r_i] += int(annealed[a])
                signs[r_i].add(s)
            break
        else:
            reps.append(np.zeros(n) if qa <= q_zero else m.copy())
            counts.append(0 if a < 0 else int(not annealed[a]))
            acounts.append(0 if a < 0 else int(annealed[a]))
            signs.append(set() if a < 0 else {1})
    k = len(reps)
    R = np.array(reps).reshape(k, n)
    F = np.atleast_1d(tap_free_energy(model, R, beta)) if k else np.zeros(0)
    order = np.argsort(F, kind="stable")
    R, F = R[order], F[order]
    counts_a = np.array(counts, dtype=np.int64)[order]
    acounts_a = np.array(acounts, dtype=np.int64)[order]
    both = np.array([len(signs[i]) == 2 for i in order], dtype=bool)
    q = np.mean(R * R, axis=1) if k else np.zeros(0)
    hmin = np.array([_hessian_min(model, r, beta) for r in R])
    J, _ = _core.couplings(model)
    resid = _residual(J, J2, model.h, beta, R) if k else np.zeros(0)
    plef = np.array([_plefka(J2, r, beta) for r in R])
    norms = np.linalg.norm(R, axis=1) if k else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Q = np.where(np.outer(norms, norms) > 0, (R @ R.T) / np.outer(norms, norms), 0.0) if k else np.zeros((0, 0))
    is_min = hmin > 0.0
    nontriv = q > q_zero
    mins = np.flatnonzero(is_min & nontriv)
    n_min = int(mins.size)
    n_sad = int(np.sum(~is_min & nontriv))
    iu = np.triu_indices(n_min, 1)
    spread = float(np.std(np.abs(Q[np.ix_(mins, mins)][iu]))) if n_min >= 2 else 0.0
    para_valid = bool(np.any(~nontriv & is_min & (plef <= 1.0)))
    if n_min == 0:
        phase = "paramagnet" if para_valid else "undetermined"
    elif n_min == 1 or (not flip and n_min == 2 and Q[mins[0], mins[1]] < -same):
        phase = "hidden order"
    elif n_min >= glass_min and spread >= spread_min:
        phase = "glass"
    else:
        phase = "undetermined"
    return CensusLevelResult(
        temperature=float(T), beta=beta, phase=phase, m=R, free_energy=F, q=q, hessian_min=hmin,
        is_minimum=is_min, plefka=plef, residual=resid, counts=counts_a, annealed_counts=acounts_a,
        both_signs=both, overlaps=Q, n_minima=n_min, n_saddles=n_sad, overlap_spread=spread, n_failed=n_failed)


def tap_census(
    model: IsingModel,
    temperatures: Any,
    *,
    n_random: int = 64,
    n_annealed: int = 8,
    t_start: float | None = None,
    descent_iter: int = 300,
    newton_iter: int = 40,
    tol: float = 1e-10,
    accept: float = 1e-7,
    same_threshold: float = 0.995,
    q_zero: float = 1e-6,
    newton_only: float = 0.5,
    glass_min_minima: int = 3,
    glass_min_spread: float = 0.05,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> TapCensusResult:
    r"""Census of the TAP solutions at each temperature: random and annealed starts, deduplicated, classified.

    Parameters
    ----------
    model : IsingModel (dense or sparse).
    temperatures : (n_T,) positive temperatures (typically several below :math:`T_c`).
    n_random : random starts per temperature, uniform in :math:`(-1, 1)^n`.
    n_annealed : annealed starts: each begins at ``t_start`` from a random tilt of scale 1e-3 about the
        paramagnet and is followed down the temperature grid (20 steps down to the highest temperature, then the
        grid in decreasing order), the previous temperature's solution being the next start; a row that decayed
        onto m = 0 gets its tilt back before the next step, so that the symmetry can break.
    t_start : start of the annealing, default :math:`1.5\max(T_{\max}, \lambda_{\max}(J))` (above any
        mean-field instability: :math:`\lambda_{\max}(J)` bounds :math:`T_c`).
    descent_iter, newton_iter, tol : descent iterations per solve, Newton iterations and TAP residual
        tolerance of Newton (see the module docstring).
    accept : a start counts as a solution when its TAP residual :math:`\max_i|m_i - \mathrm{rhs}_i|` < ``accept``.
    same_threshold : two solutions are the same state when
        :math:`C_{ab} = s\,m_a\cdot m_b / (n\max(q_a, q_b)) \ge` ``same_threshold`` with :math:`s = +1`, or also
        :math:`s = -1` when h = 0 (global flip). :math:`C_{ab} \le 1` with equality only for :math:`m_a = s m_b`.
    q_zero : solutions with :math:`q \le` ``q_zero`` are the paramagnet m = 0 (included as an exact solution
        when h = 0).
    newton_only : fraction of the random starts solved by Newton alone, without the descent (descent finds
        minima; Newton from a random start reaches saddles as well).
    glass_min_minima, glass_min_spread : "glass" needs at least this many distinct non-trivial minima with the
        standard deviation of :math:`|Q_{ab}|` over their pairs at least this large.
    rng : seed or Generator (random starts and tilts; one child generator per temperature and one for annealing).
    progress : ``progress(done, total)`` after each temperature.

    Returns
    -------
    TapCensusResult. Per temperature the phase is
    ``"paramagnet"`` when no non-trivial minimum was found and m = 0 is a minimum satisfying the Plefka condition
    (:math:`x \le 1`); ``"hidden order"`` for exactly one non-trivial minimum up to the flip (with fields: one, or
    two with :math:`Q < -`\ ``same_threshold``), whatever the saddles; ``"glass"`` for at least
    ``glass_min_minima`` minima with spread overlaps; ``"undetermined"`` otherwise (e.g. only a Plefka-violating
    paramagnet, as for SK below T = 1, where the TAP paramagnet stays a local minimum of :math:`F_{TAP}`).

    Notes
    -----
    Cost per temperature: ``descent_iter`` iterations of two batched products (``J @ M`` and ``J∘J @ V`` for
    all ``n_random`` starts at once, so 64 starts cost about two sparse products per iteration), then
    ``newton_iter`` Newton steps per start (dense: an :math:`O(n^3)` solve; sparse: MINRES with
    :math:`O(\mathrm{nnz})` per product), and per distinct solution one lowest Hessian eigenvalue (dense ``eigh``
    up to 1500 spins, else ARPACK ``eigsh``: never a dense n x n for a sparse model) and one Perron power
    iteration. The annealed starts add 20 + n_T solves of ``n_annealed`` rows.
    """
    model = _core.check_model(model)
    T = _check_temperatures(temperatures)
    n_random = as_count(n_random, "n_random", minimum=0)
    n_annealed = as_count(n_annealed, "n_annealed", minimum=0)
    if n_random + n_annealed == 0:
        raise ValueError("n_random + n_annealed must be at least 1 (no starts to solve from).")
    descent_iter = as_count(descent_iter, "descent_iter", minimum=0)
    newton_iter = as_count(newton_iter, "newton_iter", minimum=0)
    tol = as_positive(tol, "tol")
    accept = as_positive(accept, "accept")
    same_threshold = as_real(same_threshold, "same_threshold", low=0.0, high=1.0, low_open=True)
    q_zero = as_real(q_zero, "q_zero", low=0.0)
    newton_only = as_real(newton_only, "newton_only", low=0.0, high=1.0)
    n_newton_only = int(round(newton_only * n_random))
    glass_min_minima = as_count(glass_min_minima, "glass_min_minima", minimum=2)
    glass_min_spread = as_real(glass_min_spread, "glass_min_spread", low=0.0)
    t0 = 1.5 * max(float(T.max()), _lambda_max(model)) if t_start is None else \
        as_positive(t_start, "t_start (start temperature of the annealing)")
    if t0 <= float(T.max()):
        raise ValueError(f"t_start = {t0:g} must lie above the highest temperature {float(T.max()):g}.")
    gens = spawn(rng, T.size + 1)
    n = model.n_spins
    J, J2 = _core.couplings(model)
    # annealed continuation, shared by all temperatures: descending path t0 -> T_max -> grid
    ann: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if n_annealed:
        tilt = gens[-1].uniform(-1e-3, 1e-3, size=(n_annealed, n))
        Ma = tilt.copy()
        path = list(np.linspace(t0, float(T.max()), 21)[:-1])
        order = np.argsort(-T, kind="stable")
        steps = [(t, -1) for t in path] + [(float(T[i]), int(i)) for i in order]
        for t, i in steps:
            small = np.mean(Ma * Ma, axis=1) <= q_zero
            Ma[small] = tilt[small]
            Ma, res_a = _solve(model, J, J2, 1.0 / t, Ma, descent_iter if i >= 0 else 50, newton_iter, tol)
            if i >= 0:
                ann[i] = (Ma.copy(), res_a)
    levels = []
    for i, t in enumerate(T):
        M0 = gens[i].uniform(-1.0, 1.0, size=(n_random, n))
        Mr, res_r = _solve(model, J, J2, 1.0 / float(t), M0, descent_iter, newton_iter, tol, n_newton_only)
        if n_annealed:
            Mr = np.vstack([Mr, ann[i][0]])
            res_r = np.concatenate([res_r, ann[i][1]])
        is_ann = np.arange(Mr.shape[0]) >= n_random
        levels.append(_level(model, J2, float(t), Mr, res_r, is_ann, accept, same_threshold, q_zero,
                             glass_min_minima, glass_min_spread))
        notify(progress, i + 1, T.size)
    return TapCensusResult(temperatures=T, phases=tuple(lv.phase for lv in levels), levels=tuple(levels),
                     n_random=n_random, n_annealed=n_annealed, t_start=float(t0),
                     same_threshold=same_threshold, q_zero=q_zero)


# ---------------------------------------------------------------------------------------------- melting
def melting_temperature(
    model: IsingModel,
    t_low: float,
    *,
    t_max: float | None = None,
    step: float = 0.05,
    resolution: float = 1e-3,
    n_starts: int = 16,
    descent_iter: int = 300,
    newton_iter: int = 60,
    tol: float = 1e-10,
    accept: float = 1e-7,
    q_zero: float = 1e-6,
    rng: RNGLike = None,
) -> MeltingResult:
    r"""Heat the ordered TAP minimum from ``t_low`` until it disappears; return that temperature, bracketed.

    At ``t_low`` the lowest-free-energy non-trivial minimum among ``n_starts`` random starts (descent + Newton,
    as in :func:`tap_census`) is taken as the ordered state. It is then followed upwards: at each temperature
    Newton's method (after a short descent) starts from the previous solution. The state has **melted** when the
    solution collapses onto m = 0 (:math:`q \le` ``q_zero``), stops being a minimum (lowest eigenvalue of
    :math:`\partial^2F/\partial m^2 \le 0`) or no solution is reached. Steps of ``step * t_low`` are taken until
    the first failure, then the bracket is bisected down to ``resolution * t_low``.

    Expected: for a spiked SK model (:math:`J_{ij} \sim N(J_0/n, 1/n)`, :math:`J_0 > 1`) the ordered minimum
    vanishes continuously (a pitchfork: :math:`q \propto T_c - T`) where the paramagnet loses stability, i.e. at
    the stability-curve :math:`T_c` of :func:`spinlens.networks.phases.analyze`, which tends to :math:`J_0` for
    large n (the SK paramagnet-ferromagnet line :math:`T = J_0`). In a finite sample both move together, so the
    melting temperature should match the sample's stability :math:`T_c` to the bracket resolution (up to the
    slow convergence of the iteration at the bifurcation), and :math:`J_0` to finite-size accuracy.

    Parameters
    ----------
    model : IsingModel; t_low : positive start temperature (below the ordering temperature).
    t_max : give up above this temperature (default :math:`1.5\lambda_{\max}(J)`, which bounds :math:`T_c`).
    step, resolution : relative step and bracket width (fractions of ``t_low``).
    n_starts, descent_iter, newton_iter, tol, accept, q_zero, rng : as in :func:`tap_census`.

    Returns
    -------
    MeltingResult.

    Notes
    -----
    Cost: one census-like solve of ``n_starts`` rows at ``t_low``, then per temperature one descent and Newton
    solve of a single row (about ``1/step + log2(step/resolution)`` solves in all) and one lowest Hessian
    eigenvalue.
    """
    model = _core.check_model(model)
    t_low = as_positive(t_low, "t_low (start temperature)")
    step = as_real(step, "step", low=0.0, low_open=True)
    resolution = as_real(resolution, "resolution", low=0.0, low_open=True)
    n_starts = as_count(n_starts, "n_starts", minimum=1)
    descent_iter = as_count(descent_iter, "descent_iter", minimum=0)
    newton_iter = as_count(newton_iter, "newton_iter", minimum=0)
    tol = as_positive(tol, "tol")
    accept = as_positive(accept, "accept")
    q_zero = as_real(q_zero, "q_zero", low=0.0)
    t_hi = 1.5 * max(_lambda_max(model), t_low) if t_max is None else as_positive(t_max, "t_max")
    if t_hi <= t_low:
        raise ValueError(f"t_max = {t_hi:g} must lie above t_low = {t_low:g}.")
    g = as_generator(rng)
    n = model.n_spins
    J, J2 = _core.couplings(model)
    M, res = _solve(model, J, J2, 1.0 / t_low, g.uniform(-1.0, 1.0, size=(n_starts, n)), descent_iter,
                    newton_iter, tol)
    q = np.mean(M * M, axis=1)
    good = np.flatnonzero((res < accept) & (q > q_zero))
    good_l = [int(a) for a in good if _hessian_min(model, M[a], 1.0 / t_low) > 0.0]
    if not good_l:
        raise ValueError(f"no ordered TAP minimum found at t_low = {t_low:g}; start lower (below T_c).")
    F = np.atleast_1d(tap_free_energy(model, M[good_l], 1.0 / t_low))
    m = M[good_l[int(np.argmin(F))]]

    def follow(m_prev: np.ndarray, t: float) -> tuple[np.ndarray | None, str, float, float]:
        Mt, rt = _solve(model, J, J2, 1.0 / t, m_prev[None], descent_iter // 3, newton_iter, tol)
        mt = Mt[0]
        qt = float(np.mean(mt * mt))
        if rt[0] >= accept:
            return None, "no solution", qt, float("nan")
        if qt <= q_zero:
            return None, "collapsed", qt, float("nan")
        hm = _hessian_min(model, mt, 1.0 / t)
        if hm <= 0.0:
            return None, "saddle", qt, hm
        return mt, "", qt, hm

    temps = [t_low]
    qs = [float(np.mean(m * m))]
    hs = [_hessian_min(model, m, 1.0 / t_low)]
    lo, hi, reason = t_low, float("nan"), "not melted"
    t = t_low
    while t < t_hi:
        t_next = min(t + step * t_low, t_hi)
        mt, why, qt, hm = follow(m, t_next)
        if mt is None:
            lo, hi, reason = t, t_next, why
            break
        m, t = mt, t_next
        temps.append(t)
        qs.append(qt)
        hs.append(hm)
    else:
        lo = t
    if reason != "not melted":
        while hi - lo > resolution * t_low:
            mid = 0.5 * (lo + hi)
            mt, why, qt, hm = follow(m, mid)
            if mt is None:
                hi, reason = mid, why
            else:
                m, lo = mt, mid
                temps.append(mid)
                qs.append(qt)
                hs.append(hm)
    t_melt = 0.5 * (lo + hi) if reason != "not melted" else float("nan")
    return MeltingResult(t_melt=float(t_melt), t_low_bracket=float(lo), t_high_bracket=float(hi), reason=reason,
                         temperatures=np.array(temps), q=np.array(qs), hessian_min=np.array(hs), m=m)

