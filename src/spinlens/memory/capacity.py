r"""Storage capacity of Hopfield networks and its finite-size extrapolation.

For each size ``N`` and load :math:`\alpha = P/N`, random patterns are stored (Hebb by default), the
zero-temperature asynchronous dynamics is started *at* a stored pattern, and the final overlap
:math:`m_f` with it is recorded. A pattern counts as retrieved when :math:`m_f \ge` ``threshold``
(0.9: the AGS retrieval state has :math:`m \ge 0.967` up to :math:`\alpha_c`, the state reached above
:math:`\alpha_c` has :math:`m \approx 0.3`). The retrieval probability :math:`p_N(\alpha)` is fitted by a
logistic step :math:`p = 1/(1 + e^{(\alpha - \alpha_c(N))/w_N})`; the finite-size capacities are extrapolated
linearly in :math:`N^{-1/2}`,

.. math:: \alpha_c(N) = \alpha_c + a\,N^{-1/2},

to :math:`\alpha_c \approx 0.138` (Amit, Gutfreund & Sompolinsky, PRL 55, 1530 (1985); Ann. Phys. 173, 30 (1987);
the :math:`N^{-1/2}` corrections follow the width of the transition region seen in simulations).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.memory.hopfield import Rule, check_rule, hopfield, retrieve
from spinlens.results import Estimate, Result
from spinlens.sweeps import Unit, run_sweep_with

__all__ = ["CapacityResult", "capacity_experiment", "capacity_point", "capacity_figure", "fit_alpha_c",
           "extrapolate_alpha_c", "ALPHA_C_AGS"]

#: Replica-symmetric capacity of the Hebbian Hopfield network (AGS 1985), see :func:`spinlens.memory.ags.alpha_c`.
ALPHA_C_AGS = 0.1379


@dataclass(frozen=True)
class CapacityResult(Result):
    """Retrieval probability over (N, alpha) with finite-size capacities and their extrapolation.

    Attributes
    ----------
    n_spins : (k,) sizes N.
    alphas : (a,) loads P/N.
    p_retrieval, p_error, mean_overlap : (k, a) retrieval probability, its binomial error, mean final overlap.
    alpha_c_n, alpha_c_n_error : (k,) logistic-fit capacities alpha_c(N).
    alpha_c : Estimate — the N -> infinity extrapolation (error from the weighted linear fit).
    slope : coefficient a of N^(-1/2).
    """

    n_spins: np.ndarray
    alphas: np.ndarray
    p_retrieval: np.ndarray
    p_error: np.ndarray
    mean_overlap: np.ndarray
    alpha_c_n: np.ndarray
    alpha_c_n_error: np.ndarray
    alpha_c: Estimate
    slope: float
    threshold: float
    rule: str
    n_tested: int
    width_n: np.ndarray | None = None


def fit_alpha_c(alphas: Any, p: Any, n: int) -> tuple[float, float]:
    """Fit ``p = 1/(1+exp((alpha - a_c)/w))`` to retrieval probabilities (each from ``n`` tests); return (a_c, err)."""
    ac, err, _ = _fit_logistic(alphas, p, n)
    return ac, err


def _fit_logistic(alphas: Any, p: Any, n: int) -> tuple[float, float, float]:
    """(a_c, error of a_c, width w) of the logistic step fitted to the retrieval probabilities."""
    from scipy.optimize import curve_fit

    a = np.asarray(alphas, dtype=np.float64)
    y = np.asarray(p, dtype=np.float64)
    sig = np.sqrt(np.clip(y * (1 - y), 0.25 / n, None) / n)

    def f(x: np.ndarray, ac: float, w: float) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(np.clip((x - ac) / w, -50, 50)))

    # start: linear interpolation of the 1/2 crossing
    k = int(np.argmax(y < 0.5)) if np.any(y < 0.5) else len(y) - 1
    ac0 = float(a[max(k - 1, 0)] + (a[k] - a[max(k - 1, 0)]) / 2)
    try:
        popt, pcov = curve_fit(f, a, y, p0=(ac0, 0.01), sigma=sig, absolute_sigma=True, maxfev=5000)
        err = float(np.sqrt(max(pcov[0, 0], 0.0)))
        if not np.isfinite(err) or not (a[0] - 0.1 < popt[0] < a[-1] + 0.1):
            raise RuntimeError
        return float(popt[0]), err, float(abs(popt[1]))
    except (RuntimeError, ValueError):
        return ac0, float(a[1] - a[0]) if len(a) > 1 else float("nan"), float("nan")


def extrapolate_alpha_c(n_spins: Any, alpha_c_n: Any, errors: Any, exponent: float = 0.5) -> tuple[Estimate, float]:
    r"""Weighted least squares of :math:`\alpha_c(N) = \alpha_c + a N^{-\text{exponent}}`; returns (alpha_c, a)."""
    x = np.asarray(n_spins, dtype=np.float64) ** (-exponent)
    y = np.asarray(alpha_c_n, dtype=np.float64)
    e = np.maximum(np.asarray(errors, dtype=np.float64), 1e-4)
    if len(x) < 2:
        raise ValueError("finite-size extrapolation needs at least two sizes N.")
    A = np.stack([np.ones_like(x), x], axis=1) / e[:, None]
    coef, *_ = np.linalg.lstsq(A, y / e, rcond=None)
    cov = np.linalg.inv(A.T @ A)
    resid = (y - (coef[0] + coef[1] * x)) / e
    dof = max(len(x) - 2, 1)
    scale = max(1.0, float(resid @ resid) / dof)  # inflate when the scatter exceeds the error bars
    return Estimate(float(coef[0]), float(np.sqrt(cov[0, 0] * scale)), n_eff=float(len(x))), float(coef[1])


def capacity_point(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> np.ndarray:
    """Final overlaps of the patterns tested at one (N, alpha) point: a unit of :func:`capacity_experiment`.

    ``ceil(n_tested / per_set)`` independent pattern sets of ``P = round(alpha N)`` random patterns are stored
    with ``config["rule"]``; up to ``per_set`` of each set are started from and run to a T = 0 fixed point.
    """
    N, alpha = int(params["N"]), float(params["alpha"])
    n_tested, per_set = int(config["n_tested"]), int(config["per_set"])
    g = as_generator(seed)
    P = max(1, int(round(alpha * N)))
    finals: list[np.ndarray] = []
    tested = 0
    while tested < n_tested:
        X = np.where(g.random((P, N)) < 0.5, 1, -1).astype(np.int8)
        model = hopfield(X, rule=config["rule"])
        t = min(P, per_set, n_tested - tested)
        res = retrieve(model, X[:t], X, T=0.0, mode="async", max_sweeps=int(config["max_sweeps"]), rng=g)
        finals.append(res.overlaps[np.arange(t), np.arange(t)])
        tested += t
    return np.concatenate(finals).astype(np.float64)


def capacity_experiment(
    n_spins: Sequence[int] = (250, 500, 1000, 2000),
    alphas: Any = None,
    n_tested: int = 200,
    per_set: int = 20,
    rule: Rule = "hebb",
    threshold: float = 0.9,
    max_sweeps: int = 1000,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
    sweep: Mapping[str, Any] | None = None,
) -> CapacityResult:
    """Measure retrieval probability vs alpha = P/N at several N and extrapolate alpha_c.

    Parameters
    ----------
    n_spins : sizes N (at least two for the extrapolation).
    alphas : loads (default 0.10, 0.11, ..., 0.22).
    n_tested : patterns tested per (N, alpha) point; they come from ``ceil(n_tested / per_set)`` independent
        pattern sets with up to ``per_set`` tested patterns each.
    rule : learning rule (:func:`spinlens.memory.hopfield`).
    threshold : final overlap that counts as retrieval.
    max_sweeps : sweep limit of the T = 0 dynamics (it converges long before).
    sweep : runner options of :func:`spinlens.sweeps.run_sweep_with` (``run_dir`` to keep and resume the
        (N, alpha) units of :func:`capacity_point`, ``executor``, ``n_workers``, ``scheduler``); serial in memory
        by default. Each unit's seed depends on the base seed and (N, alpha) only.
    """
    Ns = np.asarray(sorted(int(n) for n in n_spins))
    if Ns.size < 2 or Ns[0] < 10:
        raise ValueError("pass at least two sizes N >= 10 for the finite-size extrapolation.")
    A = np.round(np.arange(0.10, 0.2201, 0.01), 4) if alphas is None else np.asarray(alphas, dtype=np.float64)
    if np.any(A <= 0):
        raise ValueError("alphas must be positive loads P/N.")
    check_rule(rule)  # refused before any unit runs
    config = {"n_tested": int(n_tested), "per_set": int(per_set), "rule": str(rule), "max_sweeps": int(max_sweeps)}
    key = lambda N, alpha: f"N={int(N)},alpha={float(alpha):.6g}"  # noqa: E731
    units = [Unit(key(N, alpha), {"N": int(N), "alpha": float(alpha)}) for N in Ns for alpha in A]
    res = run_sweep_with(sweep, capacity_point, units, config=config, seed=seed_int(rng), progress=progress)
    finals = [[res[key(N, alpha)] for alpha in A] for N in Ns]
    p = np.array([[np.mean(m >= threshold) for m in row] for row in finals])
    mo = np.array([[np.mean(m) for m in row] for row in finals])
    ntest = np.array([[m.size for m in row] for row in finals], dtype=np.float64)
    k = len(Ns)
    perr = np.sqrt(np.maximum(p * (1 - p), 0.25 / ntest) / ntest)
    acn = np.zeros(k)
    acn_err = np.zeros(k)
    width = np.zeros(k)
    for i in range(k):
        acn[i], acn_err[i], width[i] = _fit_logistic(A, p[i], int(n_tested))
    est, slope = extrapolate_alpha_c(Ns, acn, acn_err)
    return CapacityResult(Ns, A, p, perr, mo, acn, acn_err, est, slope, float(threshold), str(rule), int(n_tested),
                          width)


def capacity_figure(result: CapacityResult) -> Any:
    """Two panels: retrieval probability vs alpha for each N; alpha_c(N) vs N^(-1/2) with the extrapolation."""
    from spinlens.report import new_figure

    fig, (ax1, ax2) = new_figure(1, 2, size=(10, 3.8))
    aa = np.linspace(result.alphas.min(), result.alphas.max(), 200)
    for i, N in enumerate(result.n_spins):
        col = f"C{i % 10}"
        ax1.errorbar(result.alphas, result.p_retrieval[i], yerr=result.p_error[i], fmt="o", ms=3, capsize=2,
                     color=col, label=f"N = {N}")
        w = np.nan if result.width_n is None else float(result.width_n[i])
        if np.isfinite(w) and w > 0:  # the fitted logistic step and its midpoint alpha_c(N)
            ax1.plot(aa, 1.0 / (1.0 + np.exp(np.clip((aa - result.alpha_c_n[i]) / w, -50, 50))), "-", color=col,
                     lw=1)
        ax1.plot([result.alpha_c_n[i]], [0.5], "v", color=col, ms=6)
    ax1.plot([], [], "k-", lw=1, label=r"logistic fit, $\blacktriangledown$ = $\alpha_c(N)$")
    ax1.axvline(ALPHA_C_AGS, color="k", ls="--", lw=1, label=r"AGS $\alpha_c$ = 0.138")
    ax1.set(xlabel=r"load $\alpha = P/N$", ylabel=rf"P(retrieval), $m_f \geq$ {result.threshold:.2g}",
            title=f"Hopfield capacity ({result.rule})")
    ax1.legend(frameon=False, fontsize=8)
    ax1.grid(alpha=0.3)
    x = result.n_spins.astype(float) ** -0.5
    ax2.errorbar(x, result.alpha_c_n, yerr=result.alpha_c_n_error, fmt="o", capsize=2, label=r"$\alpha_c(N)$")
    xx = np.linspace(0, x.max() * 1.1, 50)
    ax2.plot(xx, result.alpha_c.mean + result.slope * xx, "C1-",
             label=rf"fit: $\alpha_c$ = {result.alpha_c.mean:.4f} ± {result.alpha_c.error:.4f}")
    ax2.errorbar([0.0], [result.alpha_c.mean], yerr=[result.alpha_c.error], fmt="s", color="C1", capsize=3,
                 ms=5, clip_on=False, label=r"extrapolated $N\to\infty$")
    ax2.axhline(ALPHA_C_AGS, color="k", ls="--", lw=1, label="AGS 0.138")
    ax2.set(xlabel=r"$N^{-1/2}$", ylabel=r"$\alpha_c(N)$", title="finite-size extrapolation")
    ax2.set_xlim(left=0)
    ax2.legend(frameon=False, fontsize=8)
    ax2.grid(alpha=0.3)
    return fig
