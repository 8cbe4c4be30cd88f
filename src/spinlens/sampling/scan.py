r"""Temperature scans with finite-size analysis.

* :func:`ising_scan` — 2D Ising (periodic L×L, J = 1) over sizes and temperatures: energy, :math:`|m|`,
  susceptibility, specific heat and Binder cumulant per spin with error bars; T_c from the crossings of the
  Binder cumulants of successive sizes (Binder 1981) with a parametric-bootstrap uncertainty; data collapse with
  the 2D Ising exponents :math:`\nu = 1`, :math:`\beta = 1/8`, :math:`\gamma = 7/4`:
  :math:`|m| L^{\beta/\nu}` and :math:`\chi L^{-\gamma/\nu}` against :math:`(T - T_c) L^{1/\nu} / T_c`.
* :func:`sk_scan` — SK model over sizes N and temperatures, by parallel tempering on the temperature grid with
  two independent ladders per disorder sample: overlap distribution :math:`P(q)`, spin-glass susceptibility
  :math:`\chi_{SG} = N[\langle q^2\rangle]`, overlap Binder ratio, energy per spin (paramagnet: :math:`-\beta/2`)
  and annealed ground-state energies extrapolated as :math:`e_0(N) = e_\infty + a N^{-2/3}` (Parisi:
  :math:`e_\infty \approx -0.7632`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback
from spinlens._rng import RNGLike, as_generator, seed_int
from spinlens.results import Result
from spinlens.sampling.api import check_method, sample
from spinlens.sampling.samplers import check_coupling_dtype, dense_storage
from spinlens.sampling.tempering import ParallelTempering, anneal
from spinlens.spins.lattice import square_lattice
from spinlens.spins.model import as_count, as_real_array
from spinlens.spins.sk import sk
from spinlens.sweeps import Unit, run_sweep_with

__all__ = [
    "ISING_2D_EXPONENTS",
    "IsingScanResult",
    "SKScanResult",
    "binder_crossing",
    "collapse",
    "ising_scan",
    "sk_scan",
    "ising_point",
    "sk_sample",
    "fit_finite_size",
]

ISING_2D_EXPONENTS = {"nu": 1.0, "beta": 0.125, "gamma": 1.75}
PARISI_E0 = -0.7632


def _sizes(values: Any, name: str) -> list[int]:
    """System sizes as ints, refusing strings, None, nested lists and non-integral entries (naming ``name``)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list of sizes, got {values!r}.")
    return [as_count(x, name) for x in values]


def _check_grid(values: Sequence[Any] | np.ndarray, name: str, positive: bool = True) -> np.ndarray:
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {values!r}.")
    a = as_real_array(values, name, ndim=(0, 1), allow_empty=True, finite=False).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)) or (positive and np.any(a <= 0)):
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {values!r}.")
    return a


@dataclass(frozen=True)
class IsingScanResult(Result):
    """2D Ising scan: arrays of shape ``(n_L, n_T)`` (per spin), and the Binder-crossing T_c.

    ``tc_pairs`` rows are ``(L1, L2, T_cross, error)`` for successive sizes (NaN when the curves do not cross
    inside the grid); ``tc``/``tc_error`` combine them (inverse-variance weights, error inflated by the scatter).
    """

    L_values: np.ndarray
    temperatures: np.ndarray
    energy: np.ndarray
    energy_err: np.ndarray
    abs_magnetization: np.ndarray
    abs_magnetization_err: np.ndarray
    susceptibility: np.ndarray
    susceptibility_err: np.ndarray
    heat_capacity: np.ndarray
    heat_capacity_err: np.ndarray
    binder: np.ndarray
    binder_err: np.ndarray
    tau_energy: np.ndarray
    tau_abs_magnetization: np.ndarray
    r_hat: np.ndarray
    tc_pairs: np.ndarray
    tc: float
    tc_error: float
    method: str
    n_sweeps: int
    n_chains: int


def binder_crossing(T: np.ndarray, U1: np.ndarray, e1: np.ndarray, U2: np.ndarray, e2: np.ndarray,
                    n_bootstrap: int = 400, rng: RNGLike = None) -> tuple[float, float]:
    """Temperature where ``U2(T) - U1(T)`` changes sign from + to -, with a parametric bootstrap error.

    The sign change is located by linear interpolation and refined by a weighted quadratic fit of the
    difference through the 4 nearest grid points; the error is the spread over Gaussian resamplings of every
    point with its error bar. ``(nan, nan)`` without a crossing.
    """
    g = as_generator(rng)
    order = np.argsort(T)
    T, U1, e1, U2, e2 = T[order], U1[order], e1[order], U2[order], e2[order]

    w = 1.0 / np.maximum(e1**2 + e2**2, 1e-12)

    def cross(d: np.ndarray) -> float:
        idx = np.nonzero((d[:-1] > 0) & (d[1:] <= 0))[0]
        if idx.size == 0:
            return float("nan")
        # the crossing nearest the middle of all sign changes (robust to noise far from T_c)
        k = idx[len(idx) // 2]
        t_lin = float(T[k] + (T[k + 1] - T[k]) * d[k] / (d[k] - d[k + 1]))
        # refine with a weighted quadratic through the 4 nearest points: linear interpolation of the curved
        # difference of Binder curves on a coarse grid is biased (towards low T for the 2D Ising model)
        near = np.argsort(np.abs(T - t_lin))[: min(4, T.size)]
        if near.size < 4:
            return t_lin
        x = T[near] - t_lin
        coef = np.polynomial.polynomial.polyfit(x, d[near], 2, w=np.sqrt(w[near]))
        roots = np.polynomial.polynomial.polyroots(coef)
        roots = roots[np.isreal(roots)].real
        span = T[near].max() - T[near].min()
        roots = roots[np.abs(roots) <= 0.5 * span]
        return float(t_lin + roots[np.argmin(np.abs(roots))]) if roots.size else t_lin

    t0 = cross(U2 - U1)
    if not np.isfinite(t0):
        return float("nan"), float("nan")
    boots = np.array([cross(U2 + e2 * g.standard_normal(U2.size) - U1 - e1 * g.standard_normal(U1.size))
                      for _ in range(int(n_bootstrap))])
    boots = boots[np.isfinite(boots)]
    err = float(np.std(boots, ddof=1)) if boots.size > 10 else float("nan")
    return t0, err


_ISING_FIELDS = (("e", "ee", "energy"), ("m", "me", "abs_magnetization"), ("x", "xe", "susceptibility"),
                 ("c", "ce", "heat_capacity"), ("u", "ue", "binder"))


def ising_point(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """One (L, T) point of :func:`ising_scan`: a sweep unit, a pure function of (config, params, seed)."""
    r = sample(square_lattice(int(params["L"])), 1.0 / float(params["T"]), int(config["n_sweeps"]),
               method=config["method"], n_chains=int(config["n_chains"]), n_burn=config["n_burn"], rng=seed,
               warn=False)
    out = {"te": r.energy.tau_int, "tm": r.abs_magnetization.tau_int, "rh": r.r_hat}
    for km, ke, name in _ISING_FIELDS:
        est = getattr(r, name)
        out[km], out[ke] = est.mean, est.error
    return {k: float(v) for k, v in out.items()}


def ising_scan(L_values: Sequence[int] | np.ndarray, temperatures: Sequence[float] | np.ndarray, n_sweeps: int = 4000,
               n_burn: int | None = None, method: str = "wolff", n_chains: int = 4, rng: RNGLike = None,
               progress: ProgressCallback | None = None, n_bootstrap: int = 400,
               sweep: Mapping[str, Any] | None = None) -> IsingScanResult:
    """Scan the periodic 2D Ising model (J = 1) over sizes ``L_values`` and ``temperatures``.

    Every (L, T) point is an independent :func:`~spinlens.sampling.sample` run, one unit of
    :func:`spinlens.sweeps.run_sweep` (:func:`ising_point`) whose seed depends on the base seed and the point
    alone; ``sweep`` passes runner options (``run_dir`` to keep and resume units, ``executor``, ``n_workers``,
    ``scheduler``), serial in memory by default. ``method="wolff"`` (default) keeps autocorrelations short near
    T_c. ``progress(done, total)`` counts points.
    """
    Ls = np.asarray(_sizes(L_values, "L_values"))
    if Ls.size == 0 or np.any(Ls < 4):
        raise ValueError(f"L_values must list lattice sizes >= 4, got {L_values!r}.")
    Ts = np.sort(_check_grid(temperatures, "temperatures"))
    check_method(method)  # bad input is refused before any unit runs
    n_sweeps, n_chains = as_count(n_sweeps, "n_sweeps", minimum=1), as_count(n_chains, "n_chains", minimum=1)
    n_burn = None if n_burn is None else as_count(n_burn, "n_burn", minimum=0)
    n_bootstrap = as_count(n_bootstrap, "n_bootstrap", minimum=1)
    base = seed_int(rng)
    config = {"n_sweeps": n_sweeps, "n_burn": n_burn, "method": method, "n_chains": n_chains}
    units = [Unit(f"L={int(L)},T={T:.10g}", {"L": int(L), "T": float(T)}) for L in Ls for T in Ts]
    res = run_sweep_with(sweep, ising_point, units, config=config, seed=base, progress=progress)
    out = {k: np.array([res[u.key][k] for u in units]).reshape(Ls.size, Ts.size)  # units are L-major
           for k in ("e", "ee", "m", "me", "x", "xe", "c", "ce", "u", "ue", "te", "tm", "rh")}
    boot = as_generator(np.random.SeedSequence([base, 1]))  # the bootstrap's own stream
    pairs = []
    for a in range(Ls.size - 1):
        t, e = binder_crossing(Ts, out["u"][a], out["ue"][a], out["u"][a + 1], out["ue"][a + 1],
                               n_bootstrap=n_bootstrap, rng=boot)
        pairs.append((Ls[a], Ls[a + 1], t, e))
    tc_pairs = np.asarray(pairs, dtype=np.float64).reshape(-1, 4)
    tc, tc_err = _combine(tc_pairs[:, 2], tc_pairs[:, 3])
    return IsingScanResult(Ls, Ts, out["e"], out["ee"], out["m"], out["me"], out["x"], out["xe"], out["c"],
                           out["ce"], out["u"], out["ue"], out["te"], out["tm"], out["rh"], tc_pairs, tc, tc_err,
                           method, int(n_sweeps), int(n_chains))


def _combine(vals: np.ndarray, errs: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(vals) & np.isfinite(errs) & (errs > 0)
    if not np.any(ok):
        good = vals[np.isfinite(vals)]
        return (float(good.mean()), float("nan")) if good.size else (float("nan"), float("nan"))
    v, e = vals[ok], errs[ok]
    w = 1.0 / e**2
    mean = float(np.sum(w * v) / np.sum(w))
    err = math.sqrt(1.0 / float(np.sum(w)))
    if v.size > 1:
        chi2 = float(np.sum(w * (v - mean) ** 2)) / (v.size - 1)
        err *= math.sqrt(max(1.0, chi2))
    return mean, err


def collapse(result: IsingScanResult, tc: float | None = None, nu: float = 1.0, beta_exp: float = 0.125,
             gamma: float = 1.75) -> dict[str, np.ndarray]:
    r"""Finite-size scaling variables: ``x = (T - T_c) L^{1/nu} / T_c``, ``m = |m| L^{beta/nu}``,
    ``chi = chi L^{-gamma/nu}``, ``U`` (all ``(n_L, n_T)``). ``tc`` defaults to the Binder-crossing estimate."""
    t = result.tc if tc is None or not np.isfinite(tc) else tc
    if not np.isfinite(t):
        t = 2.0 / math.log(1.0 + math.sqrt(2.0))
    L = result.L_values.astype(np.float64)[:, None]
    T = result.temperatures[None, :]
    return {
        "x": (T - t) / t * L ** (1.0 / nu),
        "m": result.abs_magnetization * L ** (beta_exp / nu),
        "m_err": result.abs_magnetization_err * L ** (beta_exp / nu),
        "chi": result.susceptibility * L ** (-gamma / nu),
        "chi_err": result.susceptibility_err * L ** (-gamma / nu),
        "U": result.binder,
        "U_err": result.binder_err,
    }


# --------------------------------------------------------------------------------------------- SK
@dataclass(frozen=True)
class SKScanResult(Result):
    """SK scan over sizes ``N_values`` and ``temperatures`` (disorder averages over ``n_samples``).

    Arrays ``(n_N, n_T)``: ``energy`` (+ ``energy_err``), ``chi_sg`` (+ err), ``q_binder``, ``q_abs`` mean
    :math:`[\\langle|q|\\rangle]`; ``p_q`` ``(n_N, n_T, n_bins)`` with ``q_centres``; ``e0``, ``e0_err`` (n_N,)
    annealed ground-state energies per spin; ``e0_inf``, ``e0_inf_err``, ``e0_slope`` from the fit
    :math:`e_0(N) = e_\\infty + a N^{-2/3}`; ``swap_acceptance`` ``(n_N, n_T - 1)``.
    """

    N_values: np.ndarray
    temperatures: np.ndarray
    energy: np.ndarray
    energy_err: np.ndarray
    chi_sg: np.ndarray
    chi_sg_err: np.ndarray
    q_binder: np.ndarray
    q_abs: np.ndarray
    q_centres: np.ndarray
    p_q: np.ndarray
    e0: np.ndarray
    e0_err: np.ndarray
    e0_inf: float
    e0_inf_err: float
    e0_slope: float
    swap_acceptance: np.ndarray
    n_samples: int
    n_sweeps: int


def fit_finite_size(N: np.ndarray, e: np.ndarray, err: np.ndarray | None = None,
                    exponent: float = -2.0 / 3.0) -> tuple[float, float, float]:
    """Weighted least squares of ``e(N) = e_inf + a N^exponent``: ``(e_inf, error of e_inf, a)``."""
    N = np.asarray(N, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if N.size < 2:
        return float("nan"), float("nan"), float("nan")
    w = np.ones_like(e) if err is None else 1.0 / np.maximum(np.asarray(err, dtype=np.float64), 1e-12) ** 2
    A = np.stack([np.ones_like(N), N**exponent], axis=1)
    Aw = A * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(Aw, e * np.sqrt(w), rcond=None)
    cov = np.linalg.pinv(Aw.T @ Aw)
    if N.size > 2:
        resid = (e - A @ coef) * np.sqrt(w)
        cov *= max(1.0, float(resid @ resid) / (N.size - 2))
    return float(coef[0]), float(math.sqrt(max(cov[0, 0], 0.0))), float(coef[1])


def _q_centres(bins: int) -> np.ndarray:
    """Centres of ``bins`` equal bins on the overlap range [-1, 1]."""
    edges = np.linspace(-1, 1, bins + 1)
    return 0.5 * (edges[1:] + edges[:-1])


def _lattice_density(q: np.ndarray, n: int, centres: np.ndarray) -> np.ndarray:
    """Symmetrised density of overlaps that live on the grid ``-1 + 2k/n``, interpolated to ``centres``.

    Histogramming such discrete values with bins unrelated to ``2/n`` gives empty and doubled bins (aliasing);
    counting per grid value and dividing by the spacing does not.
    """
    k = np.rint((np.asarray(q).ravel() + 1.0) * n / 2.0).astype(np.int64)
    counts = np.bincount(np.clip(k, 0, n), minlength=n + 1).astype(np.float64)
    counts = 0.5 * (counts + counts[::-1])
    grid = -1.0 + 2.0 * np.arange(n + 1) / n
    dens = counts / (counts.sum() * (2.0 / n))
    out = np.interp(centres, grid, dens)
    width = centres[1] - centres[0] if centres.size > 1 else 1.0
    total = out.sum() * width
    return out / total if total > 0 else out


def sk_sample(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One disorder sample of :func:`sk_scan` at size ``params["N"]``: a sweep unit.

    Arrays are indexed by the scan temperatures (ascending T): ``E`` energy per spin, ``Q2``, ``Q4``, ``QA``
    moments of the overlap between the two ladders, ``hist`` the overlap density ``(n_T, bins)``, ``swap``
    acceptance between neighbouring temperatures, ``e0`` the annealed ground-state energy per spin.
    """
    N = int(params["N"])
    Ts = np.asarray(config["temperatures"], dtype=np.float64)
    nT, bins = Ts.size, int(config["bins"])
    betas = np.sort(1.0 / Ts)  # ascending beta; ladder index kk <-> temperature index nT - 1 - kk
    g = as_generator(seed)
    model = sk(N, rng=g)
    couplings = str(params.get("couplings", "float64"))  # the storage resolved for this N by sk_scan
    pt = ParallelTempering(betas=tuple(betas), n_chains=2, n_burn=int(config["n_burn"]), record_all=True,
                           adapt=False, coupling_dtype=couplings)
    smp, _ = pt.sample(model, float(betas[-1]), int(config["n_sweeps"]) + int(config["n_burn"]), rng=g)
    e_all = smp.extra["energy_all"] / N  # (2, T, K)
    q = smp.extra["overlaps"][0]  # (T, K)
    centres = _q_centres(bins)
    hist = np.array([_lattice_density(q[:, kk], N, centres) for kk in range(nT)])[::-1]
    e0 = anneal(model, n_steps=int(config["anneal_steps"]), n_restarts=int(config["anneal_restarts"]),
                rng=g, coupling_dtype=couplings).energy_per_spin
    return {"E": e_all.mean(axis=(0, 1))[::-1], "Q2": np.mean(q**2, axis=0)[::-1],
            "Q4": np.mean(q**4, axis=0)[::-1], "QA": np.mean(np.abs(q), axis=0)[::-1], "hist": hist,
            "swap": np.asarray(smp.extra["swap_acceptance"], dtype=np.float64)[::-1], "e0": float(e0)}


def sk_scan(N_values: Sequence[int] | np.ndarray, temperatures: Sequence[float] | np.ndarray, n_samples: int = 8,
            n_sweeps: int = 2000,
            n_burn: int | None = None, anneal_steps: int = 300, anneal_restarts: int = 4, bins: int = 41,
            rng: RNGLike = None, progress: ProgressCallback | None = None,
            sweep: Mapping[str, Any] | None = None, coupling_dtype: str = "auto") -> SKScanResult:
    """Scan SK (J = 1, zero field) over sizes and temperatures (see module docstring).

    Each disorder sample (one unit of :func:`spinlens.sweeps.run_sweep`, :func:`sk_sample`) runs parallel
    tempering with the scan temperatures as its fixed ladder and two independent ladders (for overlaps), then
    simulated annealing for its ground-state energy. ``sweep`` passes runner options as in :func:`ising_scan`;
    ``coupling_dtype`` is the storage of the dense couplings in the sweeps (see
    :class:`spinlens.sampling.MetropolisSampler`; ``"auto"``: exact up to N = 1024, int32 fixed point above).
    """
    check_coupling_dtype(coupling_dtype)
    Ns = np.asarray(_sizes(N_values, "N_values"))
    if Ns.size == 0 or np.any(Ns < 4):
        raise ValueError(f"N_values must list sizes >= 4, got {N_values!r}.")
    Ts = np.sort(_check_grid(temperatures, "temperatures"))
    if Ts.size < 2:
        raise ValueError("sk_scan needs at least two temperatures (they form the tempering ladder).")
    n_samples = as_count(n_samples, "n_samples", minimum=1)
    n_sweeps = as_count(n_sweeps, "n_sweeps", minimum=1)
    n_burn = n_sweeps // 4 if n_burn is None else as_count(n_burn, "n_burn", minimum=0)
    anneal_steps = as_count(anneal_steps, "anneal_steps", minimum=1)
    anneal_restarts = as_count(anneal_restarts, "anneal_restarts", minimum=1)
    bins = as_count(bins, "bins", minimum=2)
    config = {"temperatures": Ts, "n_sweeps": n_sweeps, "n_burn": n_burn, "anneal_steps": anneal_steps,
              "anneal_restarts": anneal_restarts, "bins": bins}

    def unit_params(N: int) -> dict[str, Any]:
        # the storage actually used is part of each unit's identity; exact couplings leave the params as they
        # were before storages existed, so stored exact units stay valid
        storage = dense_storage(N, coupling_dtype)
        return {"N": N} if storage == "float64" else {"N": N, "couplings": storage}

    units = [Unit(f"N={int(N)},sample={k}", unit_params(int(N))) for N in Ns for k in range(int(n_samples))]
    res = run_sweep_with(sweep, sk_sample, units, config=config, seed=seed_int(rng), progress=progress)

    def stack(name: str) -> np.ndarray:  # (nN, ..., n_samples); units are N-major
        per_unit = np.stack([np.asarray(res[u.key][name]) for u in units], axis=-1)
        return np.moveaxis(per_unit.reshape(*per_unit.shape[:-1], Ns.size, int(n_samples)), -2, 0)

    E, Q2, Q4, QA = stack("E"), stack("Q2"), stack("Q4"), stack("QA")
    hist = stack("hist").mean(axis=-1)
    swap = stack("swap").mean(axis=-1)
    e0 = stack("e0")
    centres = _q_centres(bins)
    sem = (lambda x: x.std(axis=-1, ddof=1) / math.sqrt(x.shape[-1])) if n_samples > 1 else \
        (lambda x: np.full(x.shape[:-1], np.nan))
    chi = Ns[:, None] * Q2.mean(axis=2)
    chi_err = Ns[:, None] * sem(Q2)
    q2m = Q2.mean(axis=2)
    g_q = 0.5 * (3.0 - Q4.mean(axis=2) / np.where(q2m > 0, q2m**2, np.nan))
    e0m = e0.mean(axis=1)
    e0e = sem(e0)
    einf, einf_err, slope = fit_finite_size(Ns, e0m, e0e if n_samples > 1 else None)
    return SKScanResult(Ns, Ts, E.mean(axis=2), sem(E), chi, chi_err, g_q, QA.mean(axis=2), centres, hist, e0m,
                        e0e, einf, einf_err, slope, swap, int(n_samples), int(n_sweeps))
