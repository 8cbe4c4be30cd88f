r"""ReLU, binarized and lazy-control runs of one set-up, side by side (``spinlens phases --compare``).

The three variants differ in one thing each: the **ReLU** network; the **binarized** one (sign forward, hard-tanh
straight-through backward); the **lazy control** (the ReLU network with output scale :math:`\alpha = 100` and
learning rate :math:`\eta/\alpha^2`, whose weights barely move: Chizat, Oyallon & Bach 2019). Each is an
ordinary run of the pipeline in its own folder; this module draws them together: :math:`T_c(t)` with the null
models on log–log axes, the phase of every checkpoint as a strip, the accuracies (training and held-out), and
the bond-matrix density of the last checkpoint against its null.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spinlens.networks.experiment import ExperimentConfig, ExperimentResult, step_axis

__all__ = ["VARIANTS", "variant_configs", "comparison_figures", "comparison_section"]

#: label -> (activation, lazy_scale) of the three variants.
VARIANTS: dict[str, tuple[str, float | None]] = {"relu": ("relu", None), "binarized": ("sign", None),
                                                 "lazy": ("relu", 100.0)}
_COLORS = {"relu": "tab:red", "binarized": "tab:blue", "lazy": "tab:gray"}
_PHASE_COLORS = {"spin glass": "tab:blue", "hidden order": "tab:red", "paramagnet": "0.75", "invalid": "white"}


def variant_configs(cfg: ExperimentConfig) -> dict[str, ExperimentConfig]:
    """The three variants of a training configuration (an MLP: the binarized and lazy variants are MLP ones)."""
    if cfg.checkpoint_dir:
        raise ValueError("a comparison trains its three variants; the user's checkpoints are one run.")
    if cfg.arch != "mlp":
        raise ValueError(f"the comparison's variants are MLPs (ReLU, binarized, lazy); arch {cfg.arch!r} is not.")
    return {label: dataclasses.replace(cfg, activation=act, lazy_scale=lazy)
            for label, (act, lazy) in VARIANTS.items()}


def comparison_figures(results: Mapping[str, ExperimentResult], folders: Mapping[str, Path]) -> dict[str, Any]:
    """``compare_tc``, ``compare_phases``, ``compare_accuracy`` and ``compare_density`` (matplotlib Figures)."""
    from spinlens.networks.experiment import _analysis_of
    from spinlens.report import new_figure

    figs: dict[str, Any] = {}
    fig, ax = new_figure()
    for label, r in results.items():
        xs, c = step_axis(r.steps), _COLORS.get(label, "k")
        ok = np.isfinite(r.t_c)
        ax.plot(xs[ok], r.t_c[ok], "o-", ms=3, color=c, label=f"{label}: T_c")
        if r.t_c_shuffled is not None:
            ok = np.isfinite(r.t_c_shuffled)
            ax.plot(xs[ok], r.t_c_shuffled[ok], "x:", ms=3, color=c, lw=0.8, label=f"{label}: shuffled null")
    ax.set(xscale="log", yscale="log", xlabel="training step (step 0 drawn at the left edge)", ylabel="T_c",
           title="T_c(t): ReLU, binarized, lazy control")
    ax.legend(frameon=False, fontsize=7)
    ax.grid(alpha=0.3, which="both")
    figs["compare_tc"] = fig

    fig, ax = new_figure(size=(6.4, 1.4 + 0.45 * len(results)))
    for row, r in enumerate(results.values()):
        for k, phase in enumerate(r.phases):
            ax.add_patch(_rect(k, row, _PHASE_COLORS.get(phase, "k")))
    n = max(len(r.phases) for r in results.values())
    ax.set(xlim=(-0.1, n), ylim=(0, len(results)), yticks=np.arange(len(results)) + 0.5,
           yticklabels=list(results), xlabel="checkpoint (in step order)",
           title="phase per checkpoint\n(blue: spin glass, red: hidden order, grey: paramagnet)")
    figs["compare_phases"] = fig

    fig, ax = new_figure()
    for label, r in results.items():
        xs, c = step_axis(r.steps), _COLORS.get(label, "k")
        ok = np.isfinite(r.train_accuracy)
        ax.plot(xs[ok], r.train_accuracy[ok], "o-", ms=3, color=c, label=f"{label}: train")
        if r.test_accuracy is not None:
            ok = np.isfinite(r.test_accuracy)
            ax.plot(xs[ok], r.test_accuracy[ok], "s--", ms=3, color=c, label=f"{label}: held-out")
    ax.set(xscale="log", xlabel="training step", ylabel="accuracy", title="accuracy")
    ax.legend(frameon=False, fontsize=7)
    ax.grid(alpha=0.3)
    figs["compare_accuracy"] = fig

    fig, ax = new_figure()
    drawn = False
    for label, r in results.items():
        last = max(k for k, p in enumerate(r.phases) if p != "invalid")
        arr = _analysis_of(folders[label], int(r.steps[last]))["arrays"]
        if "density" not in arr:
            continue
        c = _COLORS.get(label, "k")
        ax.plot(arr["density_grid"], arr["density"], "-", color=c, lw=1, label=f"{label} (step {r.steps[last]})")
        ax.plot(arr["density_grid"], arr["null_density"], ":", color=c, lw=0.8, label=f"{label}: null")
        drawn = True
    if drawn:
        ax.set(yscale="log", xlabel="eigenvalue of J", ylabel="density", title="bond-matrix density, last checkpoint")
        ax.legend(frameon=False, fontsize=7)
        ax.grid(alpha=0.3)
        figs["compare_density"] = fig
    return figs


def _rect(k: int, row: int, color: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((k, row + 0.1), 0.9, 0.8, color=color, lw=0)


def comparison_section(results: Mapping[str, ExperimentResult], figure_paths: Mapping[str, Path]) -> Any:
    """The report section of a comparison: one row per variant and the side-by-side figures."""
    from spinlens.networks.experiment import fit_text
    from spinlens.report import Section

    rows = []
    for label, r in results.items():
        last = max(k for k, p in enumerate(r.phases) if p != "invalid")
        rows.append({
            "variant": label,
            "final phase": r.phases[last],
            "final T_c": float(r.t_c[last]),
            "final null (shuffled)": float(r.t_c_shuffled[last]) if r.t_c_shuffled is not None else "—",
            "train acc": float(r.train_accuracy[last]) if np.isfinite(r.train_accuracy[last]) else "—",
            "held-out acc": float(r.test_accuracy[last]) if r.test_accuracy is not None else "—",
            "γ": fit_text(r.fit) if r.fit is not None else "no fit",
        })
    return Section("ReLU, binarized and lazy control", text=[
        "The same set-up trained three ways, each a run of its own (folders relu/, binarized/, lazy/ with their own "
        "reports). Rich training (ReLU, binarized) should leave the glass for hidden order with T_c above the "
        "shuffled null; the lazy control should stay at the glass value."],
        tables=[("the three variants at their last checkpoint", rows)],
        figures=[(figure_paths[k], c) for k, c in (
            ("compare_tc", "T_c(t) and the shuffled null per variant"), ("compare_phases", "phase strip"),
            ("compare_accuracy", "training and held-out accuracy"),
            ("compare_density", "bond-matrix density at the last checkpoint against its null"))
            if k in figure_paths])
