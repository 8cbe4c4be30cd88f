"""Figures for loss landscapes (matplotlib ``Figure`` objects on the Agg canvas, no pyplot state)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from spinlens.landscape.hessian import HessianEigs, SpectralDensity
from spinlens.landscape.surface import Interpolation, Surface1D, Surface2D
from spinlens.report import new_figure

__all__ = [
    "plot_contour",
    "plot_surface3d",
    "plot_planes",
    "plot_line",
    "plot_interpolation",
    "plot_spectrum",
    "plot_edge_of_stability",
]


def _contour(ax: Any, s: Surface2D, title: str, levels: int = 30, log: bool = True) -> Any:
    Z = s.loss.T  # rows = beta
    Zp = np.log10(np.maximum(Z, 1e-12)) if log else Z
    cs = ax.contourf(s.alphas, s.betas, Zp, levels=levels, cmap="viridis")
    ax.contour(s.alphas, s.betas, Zp, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
    ax.plot([0], [0], "r*", ms=9, label="θ0")
    if s.trajectory.size:
        ax.plot(s.trajectory[:, 0], s.trajectory[:, 1], "w.-", lw=1, ms=3, label="trajectory")
    ax.set(xlabel="α (direction 1)", ylabel="β (direction 2)", title=title)
    ax.set_aspect("equal", adjustable="box")
    return cs


def plot_contour(s: Surface2D, title: str = "", log: bool = True) -> Figure:
    """Filled contours of ``log10 L`` on the plane (the centre starred; a projected trajectory if present)."""
    fig, ax = new_figure(size=(5.2, 4.4))
    cs = _contour(ax, s, title or s.kind, log=log)
    fig.colorbar(cs, ax=ax, label="log10 loss" if log else "loss")
    return fig


def plot_surface3d(s: Surface2D, title: str = "", log: bool = False) -> Figure:
    """The loss as a 3-D surface over the plane."""
    fig = Figure(figsize=(5.4, 4.4), layout="constrained")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="3d")
    A, B = np.meshgrid(s.alphas, s.betas, indexing="ij")
    Z = np.log10(np.maximum(s.loss, 1e-12)) if log else s.loss
    ax.plot_surface(A, B, Z, cmap="viridis", linewidth=0, antialiased=True)
    ax.set(xlabel="α", ylabel="β", zlabel="log10 loss" if log else "loss", title=title or s.kind)
    return fig


def plot_planes(surfaces: Sequence[Surface2D], titles: Sequence[str], suptitle: str = "", log: bool = True) -> Figure:
    """Side-by-side contour plots (e.g. random plane vs Hessian plane) on a shared colour scale."""
    fig, axes = new_figure(1, len(surfaces), size=(4.6 * len(surfaces) + 0.8, 4.2))
    axes = np.atleast_1d(axes)
    allz = np.concatenate([s.loss.ravel() for s in surfaces])
    allz = np.log10(np.maximum(allz, 1e-12)) if log else allz
    levels = np.linspace(allz.min(), allz.max(), 30)
    cs = None
    for ax, s, t in zip(axes, surfaces, titles, strict=False):
        cs = _contour(ax, s, t, levels=levels, log=log)  # type: ignore[arg-type]
    if cs is not None:
        fig.colorbar(cs, ax=list(axes), label="log10 loss" if log else "loss")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_line(lines: dict[str, Surface1D], title: str = "") -> Figure:
    """1-D slices ``L(θ0 + α d)`` for several directions."""
    fig, ax = new_figure()
    for label, s in lines.items():
        ax.plot(s.alphas, s.loss, label=label)
    ax.set(xlabel="α", ylabel="loss", title=title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig


def plot_interpolation(interp: Interpolation, title: str = "") -> Figure:
    """Loss along ``(1−t)θ_A + tθ_B`` (aligned and unaligned), with the linear reference and the barrier."""
    fig, ax = new_figure()
    if interp.aligned and interp.loss_unaligned.size:
        ax.plot(interp.ts, interp.loss_unaligned, "o-", ms=3, color="C3",
                label=f"naive (barrier {interp.barrier_unaligned:.3g})")
    ax.plot(interp.ts, interp.loss, "o-", ms=3, color="C0",
            label=("weight-matched" if interp.aligned else "linear") + f" (barrier {interp.barrier:.3g})")
    ax.plot([0, 1], [interp.loss_a, interp.loss_b], "k--", lw=1, label="endpoint interpolation")
    ax.set(xlabel="t  (θ = (1−t)θ_A + tθ_B)", ylabel="loss", title=title or "linear mode connectivity")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig


def plot_spectrum(density: SpectralDensity | None = None, eigs: HessianEigs | None = None, title: str = "") -> Figure:
    """SLQ density (log scale) with the Lanczos extreme eigenvalues marked."""
    fig, ax = new_figure(size=(5.6, 3.8))
    if density is not None:
        ax.semilogy(density.grid, np.maximum(density.density, 1e-12), "C0-", lw=1.2, label="SLQ density")
        ax.set_ylim(max(1e-8, density.density.max() * 1e-9), density.density.max() * 3)
    if eigs is not None:
        for i, lam in enumerate(eigs.eigenvalues):
            ax.axvline(lam, color="C3" if lam >= 0 else "C2", lw=0.8, alpha=0.8,
                       label=("Lanczos eigenvalues" if i == 0 else None))
    ax.set(xlabel="eigenvalue λ", ylabel="density", title=title or "Hessian spectrum")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig


def plot_edge_of_stability(eos: Any, title: str = "") -> Figure:
    """λ_max during full-batch GD against the threshold 2/η, and the training loss."""
    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    axes[0].plot(eos.eig_steps, eos.lambda_max, "C0.-", label="λ_max")
    axes[0].axhline(eos.threshold, color="k", ls="--", label="2/η")
    axes[0].set(xlabel="step", ylabel="λ_max", title=title or "edge of stability")
    axes[0].legend(frameon=False)
    axes[1].semilogy(eos.steps, eos.loss, "C1-")
    axes[1].set(xlabel="step", ylabel="training loss")
    for a in axes:
        a.grid(alpha=0.3)
    return fig
