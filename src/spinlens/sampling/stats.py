r"""Monte Carlo statistics: autocorrelation times, error bars, R-hat, Binder cumulant, response functions, overlaps.

Time series are ``(n_chains, n_samples)`` arrays (a 1-D array is one chain). Conventions:

* integrated autocorrelation time :math:`\tau_{int} = \tfrac12 + \sum_{t=1}^{W}\rho(t)` (0.5 for independent
  samples), window ``W`` chosen automatically as the smallest ``W >= c * tau_int(W)`` with ``c = 5``
  (Madras & Sokal 1988; Sokal 1997, "Monte Carlo methods in statistical mechanics");
* effective sample size :math:`n_{eff} = N / (2\tau_{int})`, error :math:`\sqrt{\mathrm{Var}(x)/n_{eff}}`;
* split R-hat (Gelman & Rubin 1992; Vehtari et al. 2021): every chain split in halves,
  :math:`\hat R = \sqrt{((n-1)/n\,W + B/n)/W}`;
* derived quantities (susceptibility, heat capacity, Binder cumulant) get jackknife errors over time blocks
  that are much longer than tau_int.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from spinlens.results import Estimate

__all__ = [
    "ShortRunWarning",
    "autocorrelation",
    "tau_int",
    "estimate",
    "binning_errors",
    "binning_error",
    "split_r_hat",
    "jackknife",
    "binder_cumulant",
    "susceptibility",
    "heat_capacity",
    "overlap",
    "overlap_distribution",
    "overlap_susceptibility",
    "overlap_binder",
    "edwards_anderson",
]

MIN_TAUS = 50.0


class ShortRunWarning(UserWarning):
    """The run is shorter than ~50 integrated autocorrelation times: error bars are unreliable."""


def _as_chains(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"time series must have shape (n_samples,) or (n_chains, n_samples), got {a.shape}.")
    if a.shape[1] < 2:
        raise ValueError("need at least 2 samples per chain to estimate errors.")
    return a


def autocorrelation(x: np.ndarray) -> np.ndarray:
    r"""Normalised autocorrelation :math:`\rho(t)` averaged over chains (FFT; chain means subtracted)."""
    a = _as_chains(x)
    c, n = a.shape
    d = a - a.mean(axis=1, keepdims=True)
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(d, nfft, axis=1)
    acov = np.fft.irfft(f * np.conj(f), nfft, axis=1)[:, :n].mean(axis=0) / n
    if acov[0] <= 0.0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    return acov / acov[0]


def tau_int(x: np.ndarray, c: float = 5.0) -> float:
    r"""Integrated autocorrelation time with Sokal's automatic window (smallest ``W >= c tau(W)``)."""
    rho = autocorrelation(x)
    n = rho.size
    tau = 0.5
    for W in range(1, n):
        tau += rho[W]
        if W >= c * tau:
            break
    return float(max(tau, 0.5))


def estimate(x: np.ndarray, c: float = 5.0, warn: bool = True, name: str = "observable") -> Estimate:
    """Mean with error bar, tau_int and effective sample size, pooling all chains.

    Warns with :class:`ShortRunWarning` when the run is shorter than 50 tau_int per chain.
    """
    a = _as_chains(x)
    n_chains, n = a.shape
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} time series contains NaN or inf.")
    tau = tau_int(a, c)
    N = a.size
    n_eff = N / (2.0 * tau)
    var = float(np.var(a, ddof=1)) if N > 1 else 0.0
    err = math.sqrt(var / n_eff) if n_eff > 0 else float("nan")
    if warn and n < MIN_TAUS * tau:
        warnings.warn(
            f"{name}: each chain has {n} samples but tau_int = {tau:.3g}; runs shorter than {MIN_TAUS:g} tau_int "
            "give unreliable error bars. Run more sweeps (or use a cluster method near criticality).",
            ShortRunWarning,
            stacklevel=2,
        )
    return Estimate(float(a.mean()), err, tau, n_eff)


def binning_errors(x: np.ndarray, min_bins: int = 32) -> np.ndarray:
    """Standard error of the mean from blocks of size 1, 2, 4, ... (per level, chains pooled).

    The errors grow with the block size and saturate once blocks are longer than tau_int;
    :math:`\\tau_{int} \\approx \\tfrac12 (\\sigma_{plateau}/\\sigma_0)^2`.
    """
    a = _as_chains(x)
    out = []
    b = a
    while b.shape[1] >= min_bins // max(1, a.shape[0]) and b.shape[1] >= 2 and b.size >= min_bins:
        out.append(float(np.std(b, ddof=1) / math.sqrt(b.size)))
        m = b.shape[1] // 2
        b = 0.5 * (b[:, 0 : 2 * m : 2] + b[:, 1 : 2 * m : 2])
    return np.asarray(out)


def binning_error(x: np.ndarray) -> float:
    """Binning estimate of the error of the mean: the largest error over the levels with >= 32 blocks."""
    errs = binning_errors(x)
    return float(errs.max()) if errs.size else float("nan")


def split_r_hat(x: np.ndarray) -> float:
    """Split R-hat across chains (Gelman–Rubin with every chain split in two halves; ~1 when mixed)."""
    a = _as_chains(x)
    n = a.shape[1] // 2
    if n < 2:
        return float("nan")
    halves = np.concatenate([a[:, :n], a[:, -n:]], axis=0)
    means = halves.mean(axis=1)
    W = float(halves.var(axis=1, ddof=1).mean())
    B = n * float(means.var(ddof=1))
    if W <= 0.0:
        return 1.0 if B <= 0.0 else float("inf")
    var_plus = (n - 1) / n * W + B / n
    return float(math.sqrt(var_plus / W))


def jackknife(func: Callable[..., float], *series: np.ndarray, n_blocks: int = 20,
              tau: float | None = None) -> Estimate:
    """Jackknife estimate of ``func(*series)`` over ``n_blocks`` time blocks (each block cut from every chain).

    ``func`` receives the flattened samples of each series (all chains pooled). ``tau`` is only stored.
    """
    arrs = [_as_chains(s) for s in series]
    n = arrs[0].shape[1]
    nb = max(2, min(n_blocks, n))
    edges = np.linspace(0, n, nb + 1).astype(int)
    full = float(func(*[a.ravel() for a in arrs]))
    vals = np.empty(nb)
    for b in range(nb):
        keep = np.ones(n, dtype=bool)
        keep[edges[b] : edges[b + 1]] = False
        vals[b] = func(*[a[:, keep].ravel() for a in arrs])
    mean_j = float(vals.mean())
    err = math.sqrt((nb - 1) / nb * float(np.sum((vals - mean_j) ** 2)))
    bias_corrected = nb * full - (nb - 1) * mean_j
    total = arrs[0].size
    t = 0.5 if tau is None else float(tau)
    return Estimate(float(bias_corrected), err, t, total / (2.0 * t))


def binder_cumulant(m: np.ndarray, tau: float | None = None) -> Estimate:
    r"""Binder cumulant :math:`U = 1 - \langle m^4\rangle / (3\langle m^2\rangle^2)` (Binder 1981), jackknife error.

    ``m`` is the magnetisation per spin (any normalisation: U is scale free). U → 2/3 in an ordered phase, → 0
    in a disordered one; curves for different sizes cross near T_c (2D Ising: U* ≈ 0.6107).
    """
    def f(x: np.ndarray) -> float:
        m2 = float(np.mean(x**2))
        return 1.0 - float(np.mean(x**4)) / (3.0 * m2 * m2) if m2 > 0 else 0.0

    return jackknife(f, m, tau=tau)


def susceptibility(m: np.ndarray, beta: float, n_spins: int, tau: float | None = None,
                   connected: bool = False) -> Estimate:
    r"""Susceptibility per spin :math:`\chi = \beta N(\langle m^2\rangle - \langle |m|\rangle^2)` from the
    magnetisation per spin ``m`` (the finite-size form used for scaling, Landau & Binder 2014), or with
    ``connected=True`` :math:`\beta N(\langle m^2\rangle - \langle m\rangle^2)` (use it with fields)."""
    if connected:
        return jackknife(lambda x: beta * n_spins * float(np.var(x)), m, tau=tau)
    return jackknife(lambda x: beta * n_spins * (float(np.mean(x**2)) - float(np.mean(np.abs(x))) ** 2), m, tau=tau)


def heat_capacity(e: np.ndarray, beta: float, n_spins: int, tau: float | None = None) -> Estimate:
    r"""Specific heat per spin :math:`C = \beta^2 N (\langle e^2\rangle - \langle e\rangle^2)` from the energy per
    spin ``e``."""
    return jackknife(lambda x: beta * beta * n_spins * float(np.var(x)), e, tau=tau)


# ---------------------------------------------------------------------------------------- overlaps
def overlap(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    r"""Replica overlap :math:`q = \frac1N\sum_i s^{(1)}_i s^{(2)}_i` (last axis summed; broadcasts)."""
    a = np.asarray(s1, dtype=np.float64)
    b = np.asarray(s2, dtype=np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"replicas have different sizes {a.shape[-1]} and {b.shape[-1]}.")
    return np.mean(a * b, axis=-1)


def overlap_distribution(q: np.ndarray, bins: int = 41, symmetrize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Histogram density P(q) on [-1, 1]: ``(centres, density)``; ``symmetrize`` adds q → -q (zero field)."""
    v = np.asarray(q, dtype=np.float64).ravel()
    if symmetrize:
        v = np.concatenate([v, -v])
    dens, edges = np.histogram(v, bins=bins, range=(-1.0, 1.0), density=True)
    return 0.5 * (edges[1:] + edges[:-1]), dens


def overlap_susceptibility(q: np.ndarray, n_spins: int) -> float:
    r"""Spin-glass susceptibility :math:`\chi_{SG} = N\langle q^2\rangle`."""
    return float(n_spins * np.mean(np.asarray(q, dtype=np.float64) ** 2))


def overlap_binder(q: np.ndarray) -> float:
    r"""Spin-glass Binder ratio :math:`g = \tfrac12(3 - \langle q^4\rangle/\langle q^2\rangle^2)`."""
    v = np.asarray(q, dtype=np.float64)
    q2 = float(np.mean(v**2))
    return 0.5 * (3.0 - float(np.mean(v**4)) / (q2 * q2)) if q2 > 0 else float("nan")


def edwards_anderson(states: np.ndarray) -> float:
    r"""Edwards–Anderson parameter :math:`q_{EA} = \frac1N\sum_i \langle s_i\rangle^2` from ``(n_samples, n)``
    configurations of one chain (time averages; biased upwards by about ``1/n_eff`` for short runs)."""
    S = np.asarray(states, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError(f"states must be (n_samples, n_spins), got {S.shape}.")
    return float(np.mean(S.mean(axis=0) ** 2))
