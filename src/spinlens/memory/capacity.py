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

Only what the data resolve is returned as a number. :math:`\alpha_c(N)` is estimated when the retrieval probability
falls through 1/2 inside the scanned loads (above 1/2 at the smallest load, below it at the largest, and the fitted
midpoint between them); otherwise it is NaN, flagged ``"above"`` / ``"below"`` (the step lies outside the grid) or
``"unresolved"``, with a note that says how to extend the loads. The extrapolation is a two-parameter fit, so it
needs :math:`\alpha_c(N)` at three or more sizes for a residual (and so an error bar that can be trusted); with
fewer it is NaN with a note.
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
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array
from spinlens.sweeps import Unit, run_sweep_with

__all__ = ["CapacityResult", "capacity_experiment", "capacity_point", "capacity_figure", "fit_alpha_c",
           "extrapolate_alpha_c", "check_capacity_grid", "ALPHA_C_AGS", "MIN_SIZES_EXTRAPOLATION"]

#: Replica-symmetric capacity of the Hebbian Hopfield network (AGS 1985), see :func:`spinlens.memory.ags.alpha_c`.
ALPHA_C_AGS = 0.1379


#: Smallest number of sizes N with a resolved alpha_c(N) for the finite-size extrapolation (two parameters, so
#: three points leave one residual degree of freedom for the error bar).
MIN_SIZES_EXTRAPOLATION = 3


@dataclass(frozen=True)
class CapacityResult(Result):
    """Retrieval probability over (N, alpha) with finite-size capacities and their extrapolation.

    Attributes
    ----------
    n_spins : (k,) sizes N.
    alphas : (a,) loads P/N, increasing.
    p_retrieval, p_error, mean_overlap : (k, a) retrieval probability, its binomial error, mean final overlap.
    alpha_c_n, alpha_c_n_error : (k,) logistic-fit capacities alpha_c(N); NaN where ``alpha_c_n_flag`` is not
        ``"ok"``.
    alpha_c_n_flag : (k,) per size: ``"ok"`` (the step lies inside the scanned loads), ``"above"`` / ``"below"``
        (the retrieval probability stays above / below 1/2 over the whole grid, so alpha_c(N) lies beyond its
        largest / smallest load) or ``"unresolved"`` (no step through 1/2).
    alpha_c : Estimate — the N -> infinity extrapolation from the ``"ok"`` sizes (error from the weighted linear
        fit); NaN when fewer than three sizes are ``"ok"``.
    slope : coefficient a of N^(-1/2) (NaN without an extrapolation).
    notes : one line per flagged size or refused extrapolation, saying what to change.
    threshold, rule, n_tested, per_set, max_sweeps : the settings of the experiment.
    width_n : (k,) fitted widths w_N of the logistic step (NaN where the fit failed).
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
    alpha_c_n_flag: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    per_set: int = 20
    max_sweeps: int = 1000

    @property
    def resolved(self) -> np.ndarray:
        """(k,) bool: the sizes whose alpha_c(N) lies inside the scanned loads (used by the extrapolation)."""
        return np.array([f == "ok" for f in self.alpha_c_n_flag], dtype=bool)


def fit_alpha_c(alphas: Any, p: Any, n: int) -> tuple[float, float]:
    """Fit ``p = 1/(1+exp((alpha - a_c)/w))`` to retrieval probabilities (each from ``n`` tests); return (a_c, err).

    ``alphas`` increasing. Raises ``ValueError`` when the retrieval probability does not fall through 1/2 inside
    the loads (then a_c lies outside them and a fitted number would be an extrapolation of the logistic form).
    """
    a = as_real_array(alphas, "alphas", ndim=1)
    y = as_real_array(p, "p (retrieval probabilities)", ndim=1)
    n = as_count(n, "n (patterns tested per load)", minimum=1)
    if a.size < 3 or np.any(np.diff(a) <= 0):
        raise ValueError(f"fit_alpha_c needs alphas: at least three increasing loads, got {a.tolist()[:10]}.")
    if y.shape != a.shape:
        raise ValueError(f"p needs one retrieval probability per load: shape {a.shape}, got {y.shape}.")
    if np.any((y < 0) | (y > 1)):
        raise ValueError("p must be retrieval probabilities in [0, 1] (fractions of the n tested patterns retrieved).")
    ac, err, _ = _fit_logistic(a, y, n)
    flag, note = _classify(a, y, ac)
    if flag != "ok":
        raise ValueError(f"alpha_c {note}")
    return ac, err


def _fit_logistic(alphas: Any, p: Any, n: int) -> tuple[float, float, float]:
    """(a_c, error of a_c, width w) of the logistic step fitted to the retrieval probabilities.

    Where the fit fails, a_c is the linear crossing of 1/2 with the grid spacing as its error and w is NaN; the
    caller checks with :func:`_classify` whether a_c is resolved by the grid at all.
    """
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    a = np.asarray(alphas, dtype=np.float64)
    y = np.asarray(p, dtype=np.float64)
    sig = np.sqrt(np.clip(y * (1 - y), 0.25 / n, None) / n)

    def f(x: np.ndarray, ac: float, w: float) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(np.clip((x - ac) / w, -50, 50)))

    # start: linear interpolation of the 1/2 crossing
    k = int(np.argmax(y < 0.5)) if np.any(y < 0.5) else len(y) - 1
    ac0 = float(a[max(k - 1, 0)] + (a[k] - a[max(k - 1, 0)]) / 2)
    try:
        with warnings.catch_warnings():  # an undetermined covariance is handled below (fallback), not printed
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, pcov = curve_fit(f, a, y, p0=(ac0, 0.01), sigma=sig, absolute_sigma=True, maxfev=5000)
        err = float(np.sqrt(max(pcov[0, 0], 0.0)))
        if not np.isfinite(err) or not (a[0] - 0.1 < popt[0] < a[-1] + 0.1):
            raise RuntimeError
        return float(popt[0]), err, float(abs(popt[1]))
    except (RuntimeError, ValueError):
        return ac0, float(a[1] - a[0]) if len(a) > 1 else float("nan"), float("nan")


def _classify(a: np.ndarray, y: np.ndarray, ac: float) -> tuple[str, str]:
    """Whether the loads ``a`` resolve the step of ``y`` through 1/2: (flag, note ending in what to do)."""
    step = float(np.median(np.diff(a)))
    above = y[0] > 0.5  # retrieval at the smallest load
    below = y[-1] < 0.5  # failure at the largest load
    if above and below:
        if a[0] <= ac <= a[-1]:
            return "ok", ""
        above, below = ac > a[-1], ac < a[0]  # fitted midpoint outside the bracket (noisy data)
    if above and not below:
        hint = min(ac, a[-1] + 0.1) if np.isfinite(ac) and ac > a[-1] else a[-1]
        hint = float(np.ceil((hint + 2 * step) * 100 - 1e-9) / 100)
        why = (f"retrieval probability {y[-1]:.2f} >= 1/2 at the largest load {a[-1]:.4g}" if y[-1] >= 0.5
               else f"the fitted step lies above the largest load {a[-1]:.4g}")
        return "above", (f"lies above the scanned loads ({why}): not estimated; extend alphas beyond "
                         f"{a[-1]:.4g} (e.g. up to {hint:.2f}).")
    if below and not above:
        hint = max(ac, a[0] - 0.1) if np.isfinite(ac) and ac < a[0] else a[0]
        hint = float(np.floor((hint - 2 * step) * 100 + 1e-9) / 100)
        hint = hint if hint > 0 else float(a[0]) / 2
        why = (f"retrieval probability {y[0]:.2f} <= 1/2 at the smallest load {a[0]:.4g}" if y[0] <= 0.5
               else f"the fitted step lies below the smallest load {a[0]:.4g}")
        return "below", (f"lies below the scanned loads ({why}): not estimated; extend alphas below "
                         f"{a[0]:.4g} (e.g. down to {hint:.2g}).")
    return "unresolved", (f"is not resolved: the retrieval probability does not fall through 1/2 between the loads "
                          f"{a[0]:.4g} and {a[-1]:.4g} ({y[0]:.2f} at the smallest, {y[-1]:.2f} at the largest); "
                          "test more patterns (n_tested) or scan a wider range of loads.")


def extrapolate_alpha_c(n_spins: Any, alpha_c_n: Any, errors: Any, exponent: float = 0.5) -> tuple[Estimate, float]:
    r"""Weighted least squares of :math:`\alpha_c(N) = \alpha_c + a N^{-\text{exponent}}`; returns (alpha_c, a).

    Needs finite capacities with finite errors at three or more distinct sizes: two points fix the line exactly
    and leave no residual to check the error bar against. The error of :math:`\alpha_c` is the weighted-fit error,
    inflated by :math:`\sqrt{\chi^2/\mathrm{dof}}` when the scatter exceeds the error bars.
    """
    exponent = as_positive(exponent, "exponent")
    sizes = as_real_array(n_spins, "n_spins (sizes N)", ndim=1)
    if np.any(sizes <= 0):
        raise ValueError(f"n_spins must be sizes N > 0, got {sizes.tolist()[:10]}.")
    unresolved = ("; drop the sizes whose alpha_c(N) was not resolved (CapacityResult.resolved) before "
                  "extrapolating")
    try:
        y = as_real_array(alpha_c_n, "alpha_c_n")
        e_in = as_real_array(errors, "errors (of alpha_c_n)")
    except ValueError as exc:
        raise ValueError(str(exc).rstrip(".") + (unresolved if "NaN" in str(exc) else "") + ".") from None
    if not (sizes.shape == y.shape == e_in.shape):
        raise ValueError(f"n_spins, alpha_c_n and errors must be 1-D arrays of one length, got shapes "
                         f"{sizes.shape}, {y.shape}, {e_in.shape}.")
    if np.any(e_in < 0):
        raise ValueError("errors must be standard errors >= 0 of alpha_c_n.")
    x = sizes ** (-exponent)
    if np.unique(x).size < MIN_SIZES_EXTRAPOLATION:
        raise ValueError(f"the finite-size extrapolation needs alpha_c(N) at {MIN_SIZES_EXTRAPOLATION} or more "
                         f"distinct sizes N, got {np.unique(x).size}: a line through two points has no error bar "
                         "worth reporting; add sizes.")
    e = np.maximum(e_in, 1e-4)
    A = np.stack([np.ones_like(x), x], axis=1) / e[:, None]
    coef, *_ = np.linalg.lstsq(A, y / e, rcond=None)
    cov = np.linalg.inv(A.T @ A)
    resid = (y - (coef[0] + coef[1] * x)) / e
    dof = len(x) - 2
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
    n_spins : three or more distinct sizes N >= 10 (the extrapolation fits two parameters).
    alphas : three or more distinct positive loads (default 0.10, 0.11, ..., 0.22), sorted here. They should
        bracket the step of every size: alpha_c(N) is only estimated where the retrieval probability falls
        through 1/2 inside them (see :class:`CapacityResult` ``alpha_c_n_flag`` and ``notes``).
    n_tested : patterns tested per (N, alpha) point; they come from ``ceil(n_tested / per_set)`` independent
        pattern sets with up to ``per_set`` tested patterns each.
    rule : learning rule (:func:`spinlens.memory.hopfield`).
    threshold : final overlap in (0, 1] that counts as retrieval.
    max_sweeps : sweep limit of the T = 0 dynamics (it converges long before).
    sweep : runner options of :func:`spinlens.sweeps.run_sweep_with` (``run_dir`` to keep and resume the
        (N, alpha) units of :func:`capacity_point`, ``executor``, ``n_workers``, ``scheduler``); serial in memory
        by default. Each unit's seed depends on the base seed and (N, alpha) only.

    Sizes whose step lies outside the loads get alpha_c(N) = NaN and a note; the extrapolation uses the resolved
    sizes and is NaN (with a note) when fewer than three are resolved.
    """
    Ns, A = check_capacity_grid(n_spins, alphas)
    n_tested = as_count(n_tested, "n_tested", minimum=1)
    per_set = as_count(per_set, "per_set", minimum=1)
    max_sweeps = as_count(max_sweeps, "max_sweeps", minimum=1)
    threshold = as_real(threshold, "threshold (the final overlap that counts as retrieval)", low=0.0, high=1.0,
                        low_open=True)
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
    flags: list[str] = []
    notes: list[str] = []
    for i in range(k):
        acn[i], acn_err[i], width[i] = _fit_logistic(A, p[i], int(n_tested))
        flag, note = _classify(A, p[i], float(acn[i]))
        flags.append(flag)
        if flag != "ok":
            acn[i] = acn_err[i] = np.nan
            notes.append(f"alpha_c(N={int(Ns[i])}) {note}")
        elif not np.isfinite(width[i]):
            notes.append(f"alpha_c(N={int(Ns[i])}): the logistic fit failed; the value is the linear crossing of 1/2 "
                         "with the load spacing as its error.")
    ok = np.array([f == "ok" for f in flags])
    if ok.sum() >= MIN_SIZES_EXTRAPOLATION:
        est, slope = extrapolate_alpha_c(Ns[ok], acn[ok], acn_err[ok])
        if est.mean <= 0:
            notes.append(f"extrapolated alpha_c = {est.mean:.4f} <= 0 is unphysical: the sizes are too small or the "
                         "alpha_c(N) too noisy for the N^-1/2 form; add larger sizes or test more patterns.")
    else:
        est, slope = Estimate(float("nan"), float("nan"), n_eff=float(ok.sum())), float("nan")
        got = ", ".join(str(int(n)) for n in Ns[ok]) or "none"
        notes.append(f"no finite-size extrapolation: it needs alpha_c(N) inside the scanned loads at "
                     f"{MIN_SIZES_EXTRAPOLATION} or more sizes, got {int(ok.sum())} (N = {got}); extend alphas "
                     "as noted above or add sizes N.")
    return CapacityResult(Ns, A, p, perr, mo, acn, acn_err, est, slope, float(threshold), str(rule), int(n_tested),
                          width, tuple(flags), tuple(notes), int(per_set), int(max_sweeps))


def check_capacity_grid(n_spins: Any, alphas: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Validated, sorted sizes and loads of :func:`capacity_experiment` (``alphas=None``: 0.10, 0.11, ..., 0.22).

    Raises ``ValueError`` (saying what to pass) for fewer than three distinct sizes N >= 10, fewer than three
    distinct positive finite loads, or repeated values.
    """
    if isinstance(n_spins, (str, bytes)) or not np.iterable(n_spins):
        raise ValueError(f"n_spins must be a list of sizes N (e.g. [200, 400, 800]), got {n_spins!r}.")
    Ns = np.asarray([as_count(n, "n_spins (each size N)") for n in n_spins], dtype=np.int64)
    if np.unique(Ns).size != Ns.size:
        raise ValueError(f"sizes N must be distinct, got {Ns.tolist()}.")
    if Ns.size < MIN_SIZES_EXTRAPOLATION or Ns.min() < 10:
        raise ValueError(f"pass at least {MIN_SIZES_EXTRAPOLATION} sizes N >= 10 for the finite-size extrapolation "
                         f"(a fit of alpha_c + a N^-1/2 with an error bar), got {Ns.tolist()}; e.g. 200,400,800.")
    A = np.round(np.arange(0.10, 0.2201, 0.01), 4) if alphas is None else as_real_array(alphas, "alphas", ndim=1)
    if np.any(A <= 0):
        raise ValueError(f"alphas must be positive finite loads P/N, got {A.tolist()}.")
    if np.unique(A).size != A.size:
        raise ValueError(f"alphas must be distinct, got {A.tolist()}.")
    if A.size < 3:
        raise ValueError(f"pass at least 3 loads alphas around alpha_c (the logistic step has two parameters), got "
                         f"{A.tolist()}; e.g. 0.10,0.12,...,0.22.")
    return np.sort(Ns), np.sort(A)


def capacity_figure(result: CapacityResult) -> Any:
    """Two panels: retrieval probability vs alpha for each N; alpha_c(N) vs N^(-1/2) with the extrapolation.

    Sizes whose alpha_c(N) lies outside the loads have no marker (their curves end without a step); without an
    extrapolation the right panel says why.
    """
    from spinlens.report import new_figure

    if not isinstance(result, CapacityResult):
        raise TypeError(f"result must be the CapacityResult of capacity_experiment(), got {type(result).__name__}.")
    fig, (ax1, ax2) = new_figure(1, 2, size=(10, 3.8))
    aa = np.linspace(result.alphas.min(), result.alphas.max(), 200)
    flags = result.alpha_c_n_flag or ("ok",) * len(result.n_spins)
    for i, N in enumerate(result.n_spins):
        col = f"C{i % 10}"
        tag = "" if flags[i] == "ok" else f" (alpha_c {flags[i]} range)" if flags[i] in ("above", "below") \
            else " (no step)"
        ax1.errorbar(result.alphas, result.p_retrieval[i], yerr=result.p_error[i], fmt="o", ms=3, capsize=2,
                     color=col, label=f"N = {N}{tag}")
        w = np.nan if result.width_n is None else float(result.width_n[i])
        if np.isfinite(result.alpha_c_n[i]):
            if np.isfinite(w) and w > 0:  # the fitted logistic step and its midpoint alpha_c(N)
                ax1.plot(aa, 1.0 / (1.0 + np.exp(np.clip((aa - result.alpha_c_n[i]) / w, -50, 50))), "-",
                         color=col, lw=1)
            ax1.plot([result.alpha_c_n[i]], [0.5], "v", color=col, ms=6)
    ax1.plot([], [], "k-", lw=1, label=r"logistic fit, $\blacktriangledown$ = $\alpha_c(N)$")
    ax1.axvline(ALPHA_C_AGS, color="k", ls="--", lw=1, label=r"AGS $\alpha_c$ = 0.138")
    ax1.axhline(0.5, color="grey", ls=":", lw=0.8)
    ax1.set(xlabel=r"load $\alpha = P/N$", ylabel=rf"P(retrieval), $m_f \geq$ {result.threshold:.2g}",
            title=f"Hopfield capacity ({result.rule})")
    ax1.legend(frameon=False, fontsize=8)
    ax1.grid(alpha=0.3)
    ok = np.isfinite(result.alpha_c_n)
    x = result.n_spins.astype(float) ** -0.5
    ax2.errorbar(x[ok], result.alpha_c_n[ok], yerr=result.alpha_c_n_error[ok], fmt="o", capsize=2,
                 label=r"$\alpha_c(N)$")
    xx = np.linspace(0, x.max() * 1.1, 50)
    if np.isfinite(result.alpha_c.mean):
        ax2.plot(xx, result.alpha_c.mean + result.slope * xx, "C1-",
                 label=rf"fit: $\alpha_c$ = {result.alpha_c.mean:.4f} ± {result.alpha_c.error:.4f}")
        ax2.errorbar([0.0], [result.alpha_c.mean], yerr=[result.alpha_c.error], fmt="s", color="C1", capsize=3,
                     ms=5, clip_on=False, label=r"extrapolated $N\to\infty$")
    else:
        ax2.text(0.5, 0.97, f"no extrapolation: alpha_c(N) resolved at {int(ok.sum())} of {ok.size} sizes\n"
                 f"(needs {MIN_SIZES_EXTRAPOLATION}; see the notes)", transform=ax2.transAxes, ha="center",
                 va="top", fontsize=9, color="C3", bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="C3"))
    ax2.axhline(ALPHA_C_AGS, color="k", ls="--", lw=1, label="AGS 0.138")
    ax2.set(xlabel=r"$N^{-1/2}$", ylabel=r"$\alpha_c(N)$", title="finite-size extrapolation")
    ax2.set_xlim(0, x.max() * 1.1)
    ax2.legend(frameon=False, fontsize=8)
    ax2.grid(alpha=0.3)
    return fig
