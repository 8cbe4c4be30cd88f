r"""Phases over training for several seeds: bands on :math:`T_c(t)`, accuracy and the exponent.

One run of the pipeline (:func:`spinlens.networks.experiment.run_experiment`) per seed, each in its own folder
``seed_<s>`` of the run directory (trained, analysed and resumed like a single run; its checkpoint analyses are
units of the sweep runner), then per checkpoint step across the :math:`K` seeds:

* the mean and the sample standard deviation :math:`s = [\sum_k (x_k - \bar x)^2/(K-1)]^{1/2}` of :math:`T_c`, of
  the null models' :math:`T_c` and of the accuracies (the band drawn is :math:`\bar x \pm s`);
* the exponent :math:`\gamma` of every seed's own fit, and their mean :math:`\pm` standard error :math:`s/\sqrt K`;
* **learned structure** at a step only where the mean :math:`T_c` exceeds the larger null mean by more than the
  seed spread of both, :math:`\bar T_c - \bar T_{null} > \max(s_{T_c}, s_{null})` (spinlens's criterion for the
  issue's "by more than its seed spread").
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinlens.networks.experiment import ExperimentConfig, ExperimentResult, step_axis
from spinlens.results import Result

__all__ = ["SeedSummary", "seed_configs", "summarize_seeds", "seed_figures", "seed_section"]


@dataclass(frozen=True)
class SeedSummary(Result):
    r"""Phases over training across seeds (:func:`summarize_seeds`).

    Attributes
    ----------
    seeds : (K,) the seeds. ``steps`` : (k,) checkpoint steps (the same for every seed).
    t_c : (K, k) per seed and step; ``t_c_mean``, ``t_c_std`` over seeds (NaN-aware; std with K − 1).
    null_mean, null_std : (k,) of the larger null-model :math:`T_c` per seed (NaN without null models).
    beyond_null : (k,) learned structure by the criterion of the module docstring.
    phase_counts : per step, ``{phase: number of seeds}``.
    train_accuracy, test_accuracy : (K, k) (NaN where not recorded).
    exponents : (K,) γ per seed (NaN without a fit); ``exponent_mean``, ``exponent_se`` over the fitted seeds.
    """

    seeds: tuple
    steps: np.ndarray
    t_c: np.ndarray
    t_c_mean: np.ndarray
    t_c_std: np.ndarray
    null_mean: np.ndarray
    null_std: np.ndarray
    beyond_null: np.ndarray
    phase_counts: list
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    exponents: np.ndarray
    exponent_mean: float
    exponent_se: float
    n_fitted: int


def seed_configs(cfg: ExperimentConfig, n_seeds: int) -> list[ExperimentConfig]:
    """``n_seeds`` copies of ``cfg`` with seeds ``cfg.seed, cfg.seed + 1, ...`` (training runs only)."""
    from spinlens.spins.model import as_count

    n_seeds = as_count(n_seeds, "n_seeds (seeds to run)", minimum=1)
    if cfg.checkpoint_dir:
        raise ValueError("seeds are runs that spinlens trains; the user's checkpoints (checkpoint_dir) are one run.")
    return [dataclasses.replace(cfg, seed=cfg.seed + k) for k in range(n_seeds)]


def seed_dir(out_dir: str | os.PathLike[str], seed: int) -> Path:
    """The folder of one seed's run inside the run directory."""
    return Path(out_dir) / f"seed_{int(seed)}"


def _std(x: np.ndarray) -> np.ndarray:
    """Sample standard deviation over axis 0, NaN-aware (NaN where fewer than 2 values)."""
    n = np.sum(np.isfinite(x), axis=0)
    m = np.nanmean(np.where(n > 0, x, 0.0), axis=0)
    ss = np.nansum((x - m) ** 2, axis=0)
    return np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)


def _mean(x: np.ndarray) -> np.ndarray:
    n = np.sum(np.isfinite(x), axis=0)
    return np.where(n > 0, np.nansum(x, axis=0) / np.maximum(n, 1), np.nan)


def summarize_seeds(results: Sequence[ExperimentResult], seeds: Sequence[int]) -> SeedSummary:
    """Bands over seeds of runs with the same checkpoint schedule (refuses runs of different steps)."""
    if not results or len(results) != len(seeds):
        raise ValueError("need one result per seed.")
    steps = results[0].steps
    for r in results[1:]:
        if not np.array_equal(r.steps, steps):
            raise ValueError("the seeds' runs have different checkpoint steps: not the same schedule.")
    t_c = np.vstack([r.t_c for r in results])
    nan_row = np.full(len(steps), np.nan)
    nulls = np.vstack([np.fmax(r.t_c_shuffled, r.t_c_variance) if r.t_c_shuffled is not None
                       and r.t_c_variance is not None else nan_row for r in results])
    t_mean, t_std, n_mean, n_std = _mean(t_c), _std(t_c), _mean(nulls), _std(nulls)
    spread = np.fmax(np.nan_to_num(t_std, nan=0.0), np.nan_to_num(n_std, nan=0.0))
    beyond = np.isfinite(t_mean) & np.isfinite(n_mean) & (t_mean - n_mean > spread) & (len(results) > 1)
    counts = []
    for j in range(len(steps)):
        c: dict[str, int] = {}
        for r in results:
            c[r.phases[j]] = c.get(r.phases[j], 0) + 1
        counts.append(c)
    expo = np.array([r.fit.exponent if r.fit is not None else np.nan for r in results])
    fitted = expo[np.isfinite(expo)]
    se = float(np.std(fitted, ddof=1) / np.sqrt(len(fitted))) if len(fitted) > 1 else float("nan")
    return SeedSummary(
        seeds=tuple(int(s) for s in seeds),
        steps=steps,
        t_c=t_c,
        t_c_mean=t_mean,
        t_c_std=t_std,
        null_mean=n_mean,
        null_std=n_std,
        beyond_null=beyond,
        phase_counts=counts,
        train_accuracy=np.vstack([r.train_accuracy for r in results]),
        test_accuracy=np.vstack([r.test_accuracy if r.test_accuracy is not None else nan_row for r in results]),
        exponents=expo,
        exponent_mean=float(np.mean(fitted)) if len(fitted) else float("nan"),
        exponent_se=se,
        n_fitted=int(len(fitted)),
    )


def _band(ax: Any, x: np.ndarray, mean: np.ndarray, std: np.ndarray, label: str, color: str, style: str = "o-") -> None:
    ok = np.isfinite(mean)
    ax.plot(x[ok], mean[ok], style, ms=3, color=color, label=label)
    s = np.nan_to_num(std, nan=0.0)
    ax.fill_between(x[ok], (mean - s)[ok], (mean + s)[ok], color=color, alpha=0.2, lw=0)


def seed_figures(summary: SeedSummary) -> dict[str, Any]:
    """``tc_seeds`` (T_c and the null with ±1 s.d. bands, log–log) and ``accuracy_seeds`` (matplotlib Figures)."""
    from spinlens.report import new_figure

    xs = step_axis(summary.steps)
    figs: dict[str, Any] = {}
    fig, ax = new_figure()
    _band(ax, xs, summary.t_c_mean, summary.t_c_std, f"T_c, mean ± s.d. of {len(summary.seeds)} seeds", "tab:red")
    if np.isfinite(summary.null_mean).any():
        _band(ax, xs, summary.null_mean, summary.null_std, "null (larger of shuffled / variance)", "tab:green", "x--")
    sel = summary.beyond_null
    if sel.any():
        ax.plot(xs[sel], summary.t_c_mean[sel], "k*", ms=7, label="beyond the null by more than the seed spread")
    ax.set(xscale="log", yscale="log", xlabel="training step (step 0 drawn at the left edge)", ylabel="T_c",
           title="melting temperature over seeds")
    ax.legend(frameon=False, fontsize=7)
    ax.grid(alpha=0.3, which="both")
    figs["tc_seeds"] = fig
    fig, ax = new_figure()
    for arr, label, color in ((summary.train_accuracy, "train", "tab:blue"), (summary.test_accuracy, "held-out",
                                                                              "tab:orange")):
        if np.isfinite(arr).any():
            _band(ax, xs, _mean(arr), _std(arr), f"{label} accuracy", color)
    ax.set(xscale="log", xlabel="training step", ylabel="accuracy", title="accuracy over seeds (mean ± s.d.)")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    figs["accuracy_seeds"] = fig
    return figs


def seed_section(summary: SeedSummary, figure_paths: dict[str, Path]) -> Any:
    """The report section of a multi-seed run."""
    from spinlens.report import Section

    K = len(summary.seeds)
    if summary.n_fitted > 1:
        gamma = (f"γ = {summary.exponent_mean:.3f} ± {summary.exponent_se:.3f} (mean ± standard error over the "
                 f"{summary.n_fitted} seeds with a fit)")
    elif summary.n_fitted == 1:
        gamma = f"γ = {summary.exponent_mean:.3f} (only one seed has a power-law fit: no error bar)"
    else:
        gamma = "no seed has a power-law fit of T_c(t)"
    beyond = summary.steps[summary.beyond_null]
    claim = (f"T_c exceeds the null models by more than the seed spread from step {int(beyond[0])} on "
             f"({len(beyond)} of {len(summary.steps)} checkpoints): learned structure, not only larger weights"
             if len(beyond) else "at no checkpoint does T_c exceed the null models by more than the seed spread")
    rows = []
    for j, s in enumerate(summary.steps):
        rows.append({"step": int(s), "T_c mean": float(summary.t_c_mean[j]), "T_c s.d.": float(summary.t_c_std[j]),
                     "null mean": float(summary.null_mean[j]), "beyond null": "yes" if summary.beyond_null[j] else "",
                     "phases": ", ".join(f"{p}: {c}" for p, c in sorted(summary.phase_counts[j].items()))})
    per_seed = [{"seed": int(sd), "γ": float(g) if np.isfinite(g) else "—"} for sd, g in zip(summary.seeds,
                                                                                            summary.exponents,
                                                                                            strict=True)]
    return Section(f"Seeds ({K})", text=[
        f"{K} seeds ({', '.join(map(str, summary.seeds))}), each trained and analysed as its own run (folders "
        f"seed_<s>); bands are ± one sample standard deviation over seeds. {gamma}.", claim + "."],
        figures=[(figure_paths[k], c) for k, c in (
            ("tc_seeds", "T_c(t) over seeds with the null models"), ("accuracy_seeds", "accuracy over seeds"))
            if k in figure_paths],
        tables=[("T_c over seeds per checkpoint", rows), ("exponent per seed", per_seed)])
