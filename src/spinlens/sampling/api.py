r"""One entry point: :func:`sample` picks a sampler, runs burn-in and production, and returns estimates.

All observables are per spin: :math:`e = H/N`, :math:`m = \frac1N\sum_i s_i`. Estimates pool the chains and carry
their error bar, integrated autocorrelation time and effective sample size (:mod:`spinlens.sampling.stats`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.results import Estimate, Result
from spinlens.sampling import stats
from spinlens.sampling.samplers import (
    CheckerboardSampler,
    MetropolisSampler,
    MultiSpinReplicaSampler,
    MultiSpinSampler,
    Samples,
    SwendsenWangSampler,
    WolffSampler,
    multispin_supported,
    replace,
    validate_run,
)
from spinlens.sampling.tempering import ParallelTempering
from spinlens.spins.model import IsingModel, as_count, check_model

__all__ = ["METHODS", "SampleResult", "sample", "choose_method", "make_sampler", "summarize"]

METHODS = ("auto", "metropolis", "heatbath", "checkerboard", "multispin", "multispin-replicas", "wolff",
           "swendsen-wang", "tempering")

_OPTIONS = {
    "metropolis": {"record_states", "coupling_dtype"},
    "heatbath": {"record_states", "coupling_dtype"},
    "checkerboard": {"record_states", "rule"},
    "multispin": set(),
    "multispin-replicas": {"random"},
    "wolff": {"record_states", "clusters_per_sweep"},
    "swendsen-wang": {"record_states"},
    "tempering": {"record_states", "n_temps", "beta_min", "betas", "target_acceptance", "adapt",
                  "sweeps_per_swap", "record_all", "rule", "coupling_dtype"},
}


@dataclass(frozen=True)
class SampleResult(Result):
    r"""Monte Carlo estimates at one temperature (all per spin).

    Attributes
    ----------
    energy, magnetization, abs_magnetization : Estimate — :math:`\langle e\rangle`, :math:`\langle m\rangle`,
        :math:`\langle |m|\rangle` with error, tau_int (in records) and n_eff.
    susceptibility : Estimate — :math:`\beta N(\langle m^2\rangle - \langle|m|\rangle^2)`.
    heat_capacity : Estimate — :math:`\beta^2 N(\langle e^2\rangle - \langle e\rangle^2)`.
    binder : Estimate — :math:`U = 1 - \langle m^4\rangle/(3\langle m^2\rangle^2)`.
    r_hat : float — the larger split R-hat of ``e`` and ``|m|`` across chains (> 1.05: chains disagree).
    acceptance : float — accepted flips per attempted single-spin update (NaN where undefined).
    energy_series, magnetization_series : (n_chains, n_records) — per-spin time series.
    state : (n_chains, n_spins) int8 — final configurations; pass as ``state=`` to resume.
    """

    method: str
    beta: float
    n_spins: int
    n_chains: int
    n_sweeps: int
    n_burn: int
    thin: int
    energy: Estimate
    magnetization: Estimate
    abs_magnetization: Estimate
    susceptibility: Estimate
    heat_capacity: Estimate
    binder: Estimate
    r_hat: float
    acceptance: float
    energy_series: np.ndarray
    magnetization_series: np.ndarray
    state: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def check_method(method: str) -> str:
    """``method`` if it names a sampler of :data:`METHODS`, else a ValueError listing them."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    return method


def choose_method(model: IsingModel, method: str = "auto") -> str:
    """Resolve ``method="auto"``: multi-spin coding for large periodic lattices, else single-spin Metropolis."""
    check_model(model)
    if check_method(method) != "auto":
        return method
    if multispin_supported(model) is None and model.n_spins >= 1024:
        return "multispin"
    return "metropolis"


def make_sampler(method: str, n_chains: int, n_burn: int = 0, thin: int = 1, **options: Any) -> Any:
    """The sampler config for ``method`` (see :data:`METHODS`)."""
    allowed = _OPTIONS.get(method) if isinstance(method, str) else None
    if allowed is None:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS[1:])}.")
    bad = set(options) - allowed
    if bad:
        raise ValueError(f"options {sorted(bad)} do not apply to method {method!r} (allowed: {sorted(allowed)}).")
    kw = dict(n_chains=n_chains, n_burn=n_burn, thin=thin, **options)
    if method in ("metropolis", "heatbath"):
        return MetropolisSampler(rule=method, **kw)
    if method == "checkerboard":
        return CheckerboardSampler(**kw)
    if method == "multispin":
        return MultiSpinSampler(**kw)
    if method == "multispin-replicas":
        return MultiSpinReplicaSampler(**kw)
    if method == "wolff":
        return WolffSampler(**kw)
    if method == "swendsen-wang":
        return SwendsenWangSampler(**kw)
    return ParallelTempering(**kw)


def summarize(samples: Samples, beta: float, state: np.ndarray, n_sweeps: int, n_burn: int, thin: int,
              warn: bool = True) -> SampleResult:
    """Turn raw :class:`Samples` (totals) into per-spin estimates."""
    n = samples.n_spins
    e = samples.energy / n
    m = samples.magnetization / n
    if e.shape[1] < 4:
        raise ValueError(f"only {e.shape[1]} records per chain; need at least 4 (increase n_sweeps or lower thin).")
    E = stats.estimate(e, warn=warn, name="energy")
    Mabs = stats.estimate(np.abs(m), warn=warn, name="|m|")
    Mm = stats.estimate(m, warn=False, name="m")
    tau_m2 = stats.tau_int(m**2)
    chi = stats.susceptibility(m, beta, n, tau=tau_m2)
    C = stats.heat_capacity(e, beta, n, tau=E.tau_int)
    U = stats.binder_cumulant(m, tau=tau_m2)
    r_hat = max(stats.split_r_hat(e), stats.split_r_hat(np.abs(m))) if e.shape[0] > 1 else float("nan")
    return SampleResult(samples.method, float(beta), n, e.shape[0], int(n_sweeps), int(n_burn), int(thin), E, Mm,
                        Mabs, chi, C, U, float(r_hat), float(samples.acceptance), e, m, state, dict(samples.extra))


def sample(model: IsingModel, beta: float, n_sweeps: int, method: str = "auto", n_chains: int = 4,
           n_burn: int | None = None, thin: int = 1, state: Any = None, rng: RNGLike = None,
           progress: ProgressCallback | None = None, warn: bool = True, **options: Any) -> SampleResult:
    r"""Sample the Boltzmann distribution :math:`P(s) \propto e^{-\beta H(s)}` of ``model`` and estimate observables.

    Parameters
    ----------
    model : IsingModel
    beta : float > 0 — inverse temperature.
    n_sweeps : int > 0 — production sweeps per chain (after burn-in); a record every ``thin`` sweeps.
    method : one of ``"auto"``, ``"metropolis"``, ``"heatbath"``, ``"checkerboard"``, ``"multispin"``,
        ``"multispin-replicas"``, ``"wolff"``, ``"swendsen-wang"``, ``"tempering"``. ``"auto"`` takes
        multi-spin coding for periodic 2D/3D lattices without field (>= 1024 spins), else Metropolis.
    n_chains : independent chains (replicas for ``multispin-replicas``; ladders for ``tempering``).
    n_burn : burn-in sweeps (default ``n_sweeps // 5``; 0 when resuming from ``state``).
    state : (n_chains, n) or (n,) spins to start from (``result.state`` of a previous run resumes it).
    rng : seed or Generator; same seed, same numbers.
    progress : ``progress(done, total)`` callback.
    warn : warn (:class:`~spinlens.sampling.stats.ShortRunWarning`) when the run is shorter than 50 tau_int.
    **options : sampler options (e.g. ``random="shared"`` for multispin-replicas, ``n_temps=`` for tempering,
        ``coupling_dtype=`` — the storage of dense couplings — for metropolis, heatbath and tempering).

    Returns
    -------
    SampleResult — per-spin ``energy``, ``magnetization``, ``abs_magnetization``, ``susceptibility``,
    ``heat_capacity``, ``binder`` (each an :class:`~spinlens.results.Estimate`), ``r_hat``, time series, ``state``.

    Raises
    ------
    ValueError — beta <= 0, n_sweeps <= 0, unknown method, a method that does not apply (cluster moves on
    negative couplings, multi-spin coding off a periodic lattice), bad options.
    """
    beta, n_sweeps = validate_run(model, beta, n_sweeps)
    method = choose_method(model, method)
    thin = as_count(thin, "thin", minimum=1)
    as_count(n_chains, "n_chains", minimum=1)
    if n_burn is None:
        n_burn = 0 if state is not None else n_sweeps // 5
    n_burn = as_count(n_burn, "n_burn", minimum=0)
    if n_sweeps // thin < 4:
        raise ValueError(f"n_sweeps // thin = {n_sweeps // thin} records; need at least 4.")
    g = as_generator(rng)
    total = n_burn + n_sweeps
    if method == "tempering":
        cfg = make_sampler(method, n_chains, n_burn=n_burn, thin=thin, **options)
        smp, S = cfg.sample(model, beta, total, state=state, rng=g, progress=progress)
        return summarize(smp, beta, S, n_sweeps, n_burn, thin, warn)
    cfg = make_sampler(method, n_chains, n_burn=0, thin=thin, **options)
    S = state
    if n_burn > 0:
        _, S = replace(cfg, n_burn=n_burn, thin=1).sample(model, beta, n_burn, state=S, rng=g)
        notify(progress, n_burn, total)
    if method == "wolff" and getattr(cfg, "clusters_per_sweep", None) is None:
        S = np.array(S) if S is not None else None
        from spinlens.sampling.samplers import initial_state

        S = initial_state(model, n_chains, S, g)
        cfg = replace(cfg, clusters_per_sweep=WolffSampler.pilot_clusters_per_sweep(model, beta, S, g))
    n_rec = n_sweeps // thin
    n_chunks = max(1, min(20, n_rec // 50))  # independent of progress: same seed, same numbers
    per = thin * math.ceil(n_rec / n_chunks)
    parts: list[Samples] = []
    done = 0
    while done < n_sweeps:
        k = min(per, n_sweeps - done)
        if k // thin == 0:
            break
        smp, S = cfg.sample(model, beta, k, state=S, rng=g)
        parts.append(smp)
        done += k
        notify(progress, n_burn + done, total)
    first = parts[0]
    acc = [p.acceptance for p in parts]
    merged = Samples(
        np.concatenate([p.energy for p in parts], axis=1),
        np.concatenate([p.magnetization for p in parts], axis=1),
        np.concatenate([p.states for p in parts], axis=1) if first.states is not None else None,
        float(np.mean(acc)),
        first.n_spins,
        first.method,
        dict(first.extra),
    )
    res = summarize(merged, beta, np.asarray(S), n_sweeps, n_burn, thin, warn)
    if merged.states is not None:
        res.extra["states"] = merged.states
    return res
