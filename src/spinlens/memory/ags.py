r"""Amit–Gutfreund–Sompolinsky replica-symmetric theory of the Hebbian Hopfield network, and the
alpha–T phase diagram measured by simulation.

Saddle-point equations (AGS, Ann. Phys. 173, 30 (1987); Amit, *Modeling Brain Function* (1989) ch. 6),
with :math:`\langle\cdot\rangle_z` a standard Gaussian average:

.. math::
    m = \langle \tanh\beta(m + \sqrt{\alpha r}\,z)\rangle_z,\quad
    q = \langle \tanh^2\beta(m + \sqrt{\alpha r}\,z)\rangle_z,\quad
    r = \frac{q}{(1 - \beta(1-q))^2},

and the free energy per spin

.. math::
    f = \frac\alpha2 + \frac{m^2}2
        + \frac{\alpha}{2\beta}\Big[\ln(1-\beta+\beta q) - \frac{\beta q}{1-\beta+\beta q}\Big]
        + \frac{\alpha\beta}2 r(1-q) - \frac1\beta\langle\ln 2\cosh\beta(m+\sqrt{\alpha r}\,z)\rangle_z .

At T = 0, with :math:`y = m/\sqrt{2\alpha r}`: :math:`\sqrt{2\alpha} = \mathrm{erf}(y)/y - \tfrac{2}{\sqrt\pi}e^{-y^2}`,
:math:`m = \mathrm{erf}(y)`; the retrieval solution exists up to :math:`\alpha_c = \max_y(\ldots)^2/2 \approx 0.138`.
Lines of the phase diagram: spin-glass :math:`T_g = 1 + \sqrt\alpha` (paramagnet below it is unstable),
:math:`T_M(\alpha)` where retrieval states cease to exist, and :math:`T_c(\alpha)` where they become the
global free-energy minima (ending at :math:`\alpha \approx 0.051`, T = 0).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import erf

from spinlens._progress import ProgressCallback
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.results import Result
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array
from spinlens.sweeps import Unit, run_sweep_with

__all__ = [
    "AGSSolution",
    "PhaseDiagramResult",
    "alpha_c",
    "ags_zero_t",
    "solve_ags",
    "free_energy",
    "spin_glass_line",
    "retrieval_line",
    "thermodynamic_line",
    "ags_lines",
    "phase_diagram",
    "phase_diagram_column",
    "phase_diagram_figure",
    "phase_diagram_grid",
]

# Gaussian averages on a fine uniform grid (trapezoid): at low T the integrands tanh / sech^2 of
# beta (m + sigma z) are steps / spikes of width T/sigma that Gauss-Hermite nodes would miss.
_Z = np.linspace(-9.0, 9.0, 901)
_W = np.exp(-0.5 * _Z**2) / np.sqrt(2.0 * np.pi) * (_Z[1] - _Z[0])
_W[[0, -1]] *= 0.5


def _g(y: float) -> float:
    return float(erf(y) / y - 2.0 / np.sqrt(np.pi) * np.exp(-y * y))


def alpha_c() -> float:
    r"""The T = 0 replica-symmetric capacity :math:`\alpha_c = \max_y g(y)^2/2 \approx 0.1379`."""
    res = minimize_scalar(lambda y: -_g(y), bounds=(0.3, 5.0), method="bounded", options={"xatol": 1e-12})
    return float(_g(res.x) ** 2 / 2.0)


def _loads(alphas: Any, name: str = "alphas", ndim: tuple[int, ...] | None = (0, 1)) -> np.ndarray:
    """Loads alpha = P/N: a finite number >= 0 or a 1-D array of them (the AGS theory is vectorised over them)."""
    a = as_real_array(alphas, name, ndim=ndim)
    if np.any(a < 0):
        raise ValueError(f"{name} must be loads alpha = P/N >= 0, got a value {float(a.min()):g}.")
    return a


def ags_zero_t(alpha: float) -> float:
    """Retrieval overlap m at T = 0 and load ``alpha`` >= 0 (1 at alpha = 0, 0 when alpha > alpha_c)."""
    alpha = as_real(alpha, "alpha (the load P/N)", low=0.0)
    if alpha == 0:
        return 1.0
    res = minimize_scalar(lambda y: -_g(y), bounds=(0.3, 5.0), method="bounded", options={"xatol": 1e-12})
    target = np.sqrt(2.0 * alpha)
    if _g(res.x) < target:
        return 0.0
    hi = 50.0
    if _g(hi) > target:
        return 1.0
    y = brentq(lambda t: _g(t) - target, res.x, hi, xtol=1e-14)
    return float(erf(y))


@dataclass(frozen=True)
class AGSSolution(Result):
    """Order parameters (m, q, r) and free energy f of a replica-symmetric solution (arrays broadcast)."""

    alpha: np.ndarray
    T: np.ndarray
    m: np.ndarray
    q: np.ndarray
    r: np.ndarray
    f: np.ndarray


def _gauss_avgs(alpha: np.ndarray, beta: np.ndarray, m: np.ndarray, r: np.ndarray):
    x = beta[..., None] * (m[..., None] + np.sqrt(alpha * r)[..., None] * _Z)
    t = np.tanh(x)
    with np.errstate(over="ignore"):
        sech2 = 1.0 / np.cosh(x) ** 2
    ax = np.abs(x)
    lncosh = ax + np.log1p(np.exp(-2 * ax)) - np.log(2.0) + np.log(2.0)  # ln 2cosh x
    return t @ _W, (t * t) @ _W, sech2 @ _W, lncosh @ _W


def free_energy(alpha: Any, T: Any, m: Any, q: Any) -> np.ndarray:
    """The RS free energy per spin f(m, q) (r from its saddle-point relation)."""
    alpha, T, m, q = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(alpha, T, m, q))
    beta = 1.0 / T
    D = 1.0 - beta * (1.0 - q)
    r = q / D**2
    _, _, _, lnc = _gauss_avgs(alpha, beta, m, r)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (alpha / 2 + m**2 / 2 + alpha / (2 * beta) * (np.log(D) - beta * q / D)
                + alpha * beta / 2 * r * (1 - q) - lnc / beta)


def solve_ags(
    alpha: Any, T: Any, m0: float = 1.0, q0: float = 1.0, fix_m: bool = False,
    max_iter: int = 4000, tol: float = 1e-11, damping: float = 0.5,
) -> AGSSolution:
    """Solve the AGS equations by damped fixed-point iteration from (m0, q0), vectorised over alpha and T.

    ``m0 = 1`` follows the retrieval branch, ``m0 = 0`` with ``fix_m=True`` the spin-glass branch.
    Where no valid solution is reached (1 - beta(1 - q) <= 0) the result is NaN. ``alpha`` >= 0 and ``T`` > 0
    (numbers or arrays that broadcast together), ``max_iter`` >= 1, ``tol`` > 0, ``damping`` in [0, 1)
    (the weight kept on the previous iterate).
    """
    a = _loads(alpha, "alpha", ndim=None)
    T_ = as_real_array(T, "T (temperature)")
    if np.any(T_ <= 0):
        raise ValueError(f"T must be positive, got a value {float(T_.min()):g}; use ags_zero_t for T = 0.")
    try:
        a, T_ = np.broadcast_arrays(a, T_)
    except ValueError:
        raise ValueError(f"alpha and T must broadcast together, got shapes {a.shape} and {T_.shape}.") from None
    m0 = as_real(m0, "m0", low=-1.0, high=1.0)
    q0 = as_real(q0, "q0", low=0.0, high=1.0)
    max_iter = as_count(max_iter, "max_iter", minimum=1)
    tol = as_positive(tol, "tol")
    damping = as_real(damping, "damping", low=0.0, high=1.0, high_open=True)
    beta = 1.0 / T_
    if fix_m and m0 == 0.0:
        return _solve_spin_glass(a, T_)
    m = np.full(a.shape, float(m0))
    q = np.full(a.shape, float(q0))
    for _ in range(max_iter):
        D = np.maximum(1.0 - beta * (1.0 - q), 1e-12)
        r = q / D**2
        mt, qt, _, _ = _gauss_avgs(a, beta, m, r)
        if fix_m:
            mt = m
        m_new = damping * m + (1 - damping) * mt
        q_new = damping * q + (1 - damping) * qt
        delta = max(float(np.max(np.abs(m_new - m))), float(np.max(np.abs(q_new - q))))
        m, q = m_new, q_new
        if delta < tol:
            break
    D = 1.0 - beta * (1.0 - q)
    bad = D <= 1e-9
    r = np.where(bad, np.nan, q / np.where(bad, 1.0, D) ** 2)
    f = np.where(bad, np.nan, free_energy(a, T_, m, np.where(bad, 0.5, q)))
    m = np.where(bad, np.nan, m)
    return AGSSolution(a, T_, m, q, r, f)


def _solve_spin_glass(a: np.ndarray, T_: np.ndarray, n_steps: int = 60) -> AGSSolution:
    # m = 0 branch in the variable C = beta (1 - q) in (0, min(1, beta)): q = 1 - C/beta,
    # r = q / (1 - C)^2, and C must equal beta <sech^2(beta sqrt(alpha r) z)>; bisection (the fixed-point
    # iteration in (m, q) is unstable on this branch).
    beta = 1.0 / T_
    lo = np.zeros(a.shape)
    hi = np.minimum(1.0, beta) * (1 - 1e-12)
    zero = np.zeros(a.shape)
    for _ in range(n_steps):
        C = 0.5 * (lo + hi)
        q = 1.0 - C / beta
        r = q / (1.0 - C) ** 2
        _, _, s2, _ = _gauss_avgs(a, beta, zero, r)
        up = beta * s2 > C
        lo = np.where(up, C, lo)
        hi = np.where(up, hi, C)
    C = 0.5 * (lo + hi)
    q = np.maximum(1.0 - C / beta, 0.0)
    r = q / (1.0 - C) ** 2
    f = free_energy(a, T_, zero, q)
    return AGSSolution(a, T_, zero, q, r, f)


def spin_glass_line(alphas: Any) -> np.ndarray:
    r""":math:`T_g = 1 + \sqrt\alpha` at loads ``alphas`` >= 0 (a number or a 1-D array)."""
    return 1.0 + np.sqrt(_loads(alphas))


def _bisect_T(alphas: np.ndarray, predicate: Any, lo: float, hi: np.ndarray, n_steps: int = 30) -> np.ndarray:
    # vectorised bisection: predicate(alpha, T) True below the line
    a = np.asarray(alphas, dtype=np.float64)
    lo_ = np.full(a.shape, lo)
    hi_ = np.broadcast_to(np.asarray(hi, dtype=np.float64), a.shape).copy()
    for _ in range(n_steps):
        mid = 0.5 * (lo_ + hi_)
        ok = predicate(a, mid)
        lo_ = np.where(ok, mid, lo_)
        hi_ = np.where(ok, hi_, mid)
    return 0.5 * (lo_ + hi_)


def retrieval_line(alphas: Any, m_min: float = 0.05) -> np.ndarray:
    r""":math:`T_M(\alpha)`: the highest T at which the retrieval solution (m > 0) exists; 0 for alpha >= alpha_c."""
    a = _loads(alphas)
    m_min = as_real(m_min, "m_min", low=0.0, high=1.0, low_open=True, high_open=True)

    def exists(al: np.ndarray, T: np.ndarray) -> np.ndarray:
        s = solve_ags(al, T, m0=1.0, q0=1.0, max_iter=400, tol=1e-8, damping=0.3)
        return np.nan_to_num(s.m, nan=0.0) > m_min

    out = _bisect_T(a, exists, 0.03, np.ones_like(a), n_steps=10)
    return np.where(a >= alpha_c(), 0.0, np.where(out <= 0.031, 0.0, out))


@functools.lru_cache(maxsize=4)
def _lines(n: int, a_max: float) -> tuple[np.ndarray, ...]:
    la = np.linspace(0.0, a_max, n)
    TM = retrieval_line(la)
    return la, spin_glass_line(la), TM, thermodynamic_line(la, T_M=TM)


def ags_lines(n: int = 25, alpha_max: float = 0.18) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(alphas, T_g, T_M, T_c)`` on ``n`` loads in [0, alpha_max] (cached; T_M and T_c need ~10 s)."""
    la, Tg, TM, Tc = _lines(as_count(n, "n (number of loads)", minimum=2), as_positive(alpha_max, "alpha_max"))
    return la.copy(), Tg.copy(), TM.copy(), Tc.copy()


def thermodynamic_line(alphas: Any, T_M: Any = None) -> np.ndarray:
    r""":math:`T_c(\alpha)`: below it the retrieval state has lower free energy than the spin-glass state.

    NaN where retrieval states are never global minima (alpha >~ 0.051). ``T_M``: the retrieval line at the same
    loads when already computed (:func:`retrieval_line`), an upper bound of the search.
    """
    a = _loads(alphas)
    TM = retrieval_line(a) if T_M is None else as_real_array(T_M, "T_M", shape=a.shape)
    if np.any(TM < 0):
        raise ValueError("T_M (the retrieval line at the same loads) must be >= 0; compute it with retrieval_line.")

    def better(al: np.ndarray, T: np.ndarray) -> np.ndarray:
        R = solve_ags(al, T, m0=1.0, q0=1.0, max_iter=400, tol=1e-8, damping=0.3)
        S = solve_ags(al, T, m0=0.0, q0=1.0, fix_m=True)
        fS = np.where(np.isnan(S.f), np.inf, S.f)  # no SG state (T > T_g): compare against nothing
        ok = (np.nan_to_num(R.m, nan=0.0) > 0.05) & (R.f <= fS)
        return np.asarray(ok)

    lo = 0.03
    out = _bisect_T(a, better, lo, np.maximum(TM, lo), n_steps=10)
    valid = better(a, np.full(a.shape, lo))
    return np.where(valid & (a > 0), out, np.where(a == 0, 1.0, np.nan))


@dataclass(frozen=True)
class PhaseDiagramResult(Result):
    """Simulated mean overlap with the target pattern over (T, alpha), with the AGS lines.

    ``m[i, j]`` at ``temperatures[i]``, ``alphas[j]``; ``m_error`` its standard error over trials (NaN with one trial).
    """

    alphas: np.ndarray
    temperatures: np.ndarray
    m: np.ndarray
    m_error: np.ndarray
    n_spins: int
    n_sweeps: int
    line_alpha: np.ndarray
    T_g: np.ndarray
    T_M: np.ndarray
    T_c: np.ndarray


def phase_diagram_column(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> np.ndarray:
    """Final overlaps ``(n_T, n_trials)`` at one load ``params["alpha"]``: a unit of :func:`phase_diagram`."""
    from spinlens.memory.hopfield import hopfield, retrieve

    n_spins, n_trials = int(config["n_spins"]), int(config["n_trials"])
    Ts = np.asarray(config["temperatures"], dtype=np.float64)
    g = as_generator(seed)
    P = max(1, int(round(float(params["alpha"]) * n_spins)))
    vals = np.zeros((len(Ts), n_trials))
    for t in range(n_trials):
        X = np.where(g.random((P, n_spins)) < 0.5, 1, -1).astype(np.int8)
        model = hopfield(X)
        for i, T in enumerate(Ts):
            r = retrieve(model, X[0], X, T=float(T), max_sweeps=int(config["n_sweeps"]), rng=g)
            vals[i, t] = r.overlaps[0]
    return vals


def phase_diagram_grid(alphas: Any = None, temperatures: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The (alphas, temperatures) grid :func:`phase_diagram` simulates: defaults 0.01..0.18 (step 0.01) and
    0.05..1.5 (step 0.05); given values are checked (positive, finite, distinct) and sorted."""
    A = (np.round(np.arange(0.01, 0.1801, 0.01), 4) if alphas is None
         else as_real_array(alphas, "alphas", ndim=(0, 1)).reshape(-1))
    Ts = (np.round(np.arange(0.05, 1.5001, 0.05), 4) if temperatures is None
          else as_real_array(temperatures, "temperatures", ndim=(0, 1)).reshape(-1))
    for name, v in (("alphas", A), ("temperatures", Ts)):
        if np.any(v <= 0):
            raise ValueError(f"{name} must be a non-empty list of positive finite values, got {v.tolist()}.")
        if np.unique(v).size != v.size:
            raise ValueError(f"{name} must be distinct, got {v.tolist()}.")
    return np.sort(A), np.sort(Ts)


def phase_diagram(
    alphas: Any = None,
    temperatures: Any = None,
    n_spins: int = 400,
    n_trials: int = 4,
    n_sweeps: int = 100,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
    n_lines: int = 25,
    sweep: Mapping[str, Any] | None = None,
) -> PhaseDiagramResult:
    """Glauber simulations started at a stored pattern on a grid of (alpha, T), against the AGS lines.

    Each trial stores ``round(alpha N)`` random patterns (Hebb), starts at pattern 1, runs ``n_sweeps``
    heat-bath sweeps (:mod:`spinlens.sampling`) and averages the overlap over the second half. The AGS lines
    are solved on ``n_lines`` loads from 0 to the largest simulated one (about 0.7 s of CPU per load).
    Every load is one unit of :func:`spinlens.sweeps.run_sweep_with` (:func:`phase_diagram_column`); ``sweep``
    passes runner options (``run_dir``, ``executor``, ``n_workers``, ``scheduler``), serial in memory by default.
    """
    A, Ts = phase_diagram_grid(alphas, temperatures)
    n_lines = as_count(n_lines, "n_lines (loads at which the AGS lines are solved)", minimum=2)
    n_spins = as_count(n_spins, "n_spins", minimum=2)
    n_trials = as_count(n_trials, "n_trials", minimum=1)
    n_sweeps = as_count(n_sweeps, "n_sweeps", minimum=1)
    config = {"n_spins": int(n_spins), "n_trials": int(n_trials), "n_sweeps": int(n_sweeps), "temperatures": Ts}
    units = [Unit(f"alpha={float(al):.6g}", {"alpha": float(al)}) for al in A]
    res = run_sweep_with(sweep, phase_diagram_column, units, config=config, seed=seed_int(rng), progress=progress)
    vals = np.stack([res[u.key] for u in units], axis=-1)  # (n_T, n_trials, n_alpha)
    m = vals.mean(axis=1)
    # one trial has no spread to estimate an error from: NaN, not 0
    me = vals.std(axis=1, ddof=1) / np.sqrt(n_trials) if n_trials > 1 else np.full_like(m, np.nan)
    la, Tg, TM, Tc = ags_lines(int(n_lines), round(float(A.max()) * 1.02, 6))
    return PhaseDiagramResult(A, Ts, m, me, int(n_spins), int(n_sweeps), la, Tg, TM, Tc)


def phase_diagram_figure(result: PhaseDiagramResult) -> Any:
    """Heat map of the simulated overlap with the AGS lines T_g, T_M and T_c drawn on top."""
    if not isinstance(result, PhaseDiagramResult):
        raise TypeError(f"result must be the PhaseDiagramResult of phase_diagram(), got {type(result).__name__}.")
    from spinlens.report import new_figure

    fig, ax = new_figure(size=(6.4, 5.2))
    A, Ts = result.alphas, result.temperatures
    da = (A[1] - A[0]) / 2 if len(A) > 1 else 0.005
    dT = (Ts[1] - Ts[0]) / 2 if len(Ts) > 1 else 0.025
    im = ax.imshow(result.m, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   extent=(A[0] - da, A[-1] + da, Ts[0] - dT, Ts[-1] + dT))
    fig.colorbar(im, ax=ax, label=r"overlap $m$ (start at a pattern)")
    la = result.line_alpha
    ax.plot(la, result.T_g, "--", color="orange", lw=1.8, label=r"$T_g = 1+\sqrt{\alpha}$: spin glass below")
    ax.plot(la, result.T_M, "r-", lw=2, label=r"$T_M$: retrieval states exist below (AGS)")
    ax.plot(la, result.T_c, "m-.", lw=1.5, label=r"$T_c$: retrieval states global minima below (AGS)")
    x0, x1, y0, y1 = A[0] - da, A[-1] + da, Ts[0] - dT, Ts[-1] + dT
    ax.set(xlabel=r"load $\alpha = P/N$", ylabel="temperature T", xlim=(x0, x1), ylim=(y0, y1),
           title=f"Hopfield phase diagram, N = {result.n_spins}, {result.n_sweeps} Glauber sweeps")
    # phase names of the AGS diagram where they fall inside the plotted window
    box = dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.6)
    labels = [(0.15, 0.1, "retrieval"), (0.8, 0.5, "spin glass")]
    Tg_mid = 1.0 + np.sqrt(0.5 * (x0 + x1))
    if Tg_mid + 0.05 < y1:
        labels.append((0.5, (0.5 * (Tg_mid + y1) - y0) / (y1 - y0), "paramagnet"))
    for fx, fy, name in labels:
        ax.text(fx, fy, name, transform=ax.transAxes, ha="center", va="center", fontsize=8, bbox=box)
    fig.legend(loc="outside lower center", ncol=2, fontsize=7, frameon=False)
    return fig

