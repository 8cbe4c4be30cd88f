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


def _shown(z: np.ndarray, log: bool) -> np.ndarray:
    """The loss as drawn: log10 (floored at 1e-12) or as it is."""
    return np.log10(np.maximum(z, 1e-12)) if log else z


def _contour(
    ax: Any, s: Surface2D, title: str, levels: Any = 30, log: bool = True,
    labels: tuple[str, str] = ("α (direction 1)", "β (direction 2)"),
) -> Any:
    Zp = _shown(s.loss.T, log)  # rows = beta
    cs = ax.contourf(s.alphas, s.betas, Zp, levels=levels, cmap="viridis")
    ax.contour(s.alphas, s.betas, Zp, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
    ax.plot([0], [0], "r*", ms=9, label="θ0")
    if s.trajectory.size:
        ax.plot(s.trajectory[:, 0], s.trajectory[:, 1], "w.-", lw=1, ms=3, label="trajectory")
    ax.set(xlabel=labels[0], ylabel=labels[1], title=title)
    # equal axes only when the two spans are comparable (else the panel collapses to a sliver)
    ratio = np.ptp(s.betas) / max(np.ptp(s.alphas), 1e-300)
    if 0.67 <= ratio <= 1.5:
        ax.set_aspect("equal", adjustable="box")
    return cs


def _default_labels(s: Surface2D) -> tuple[str, str]:
    if s.kind.startswith("hessian") and s.curvatures.size >= 2:
        return (f"α (e_max, λ={s.curvatures[0]:.3g})", f"β (e_min, λ={s.curvatures[1]:.3g})")
    return ("α (direction 1)", "β (direction 2)")


def plot_contour(
    s: Surface2D, title: str = "", log: bool = True, labels: tuple[str, str] | None = None
) -> Figure:
    """Filled contours of ``log10 L`` on the plane (the centre starred; a projected trajectory if present)."""
    fig, ax = new_figure(size=(5.4, 4.4))
    cs = _contour(ax, s, title or s.kind, log=log, labels=labels or _default_labels(s))
    fig.colorbar(cs, ax=ax, label="log10 loss" if log else "loss", shrink=0.85, format="%.3g")
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


def _centre_cuts(s: Surface2D) -> tuple[np.ndarray, np.ndarray]:
    """Loss − L(θ0) along α at β ≈ 0 and along β at α ≈ 0."""
    ia, ib = int(np.argmin(np.abs(s.alphas))), int(np.argmin(np.abs(s.betas)))
    return s.loss[:, ib] - s.loss0, s.loss[ia, :] - s.loss0


def plot_planes(
    surfaces: Sequence[Surface2D],
    titles: Sequence[str],
    suptitle: str = "",
    log: bool | str = "auto",
    shared_scale: bool = False,
    cuts: bool = True,
    labels: Sequence[tuple[str, str]] | None = None,
) -> Figure:
    """Side-by-side contour plots (e.g. random plane vs Hessian plane), plus cuts through the centre.

    Each panel has its own colour scale (``shared_scale=True`` puts all on one, which can leave a nearly flat
    random plane a single colour); its title adds the loss range ``ΔL`` on the plane. ``log="auto"`` colours
    by ``log10 L`` only where the loss varies by more than a factor 10 on the plane. With ``cuts`` a last
    panel draws ``L − L(θ0)`` along both axes of every plane through the centre on one common scale, which
    makes the difference in curvature between the planes explicit.
    """
    n = len(surfaces)
    ncols = n + (1 if cuts else 0)
    fig, axes = new_figure(1, ncols, size=(4.7 * ncols + 0.6, 4.3))
    axes = np.atleast_1d(axes)
    def use_log(z: np.ndarray) -> bool:
        if log == "auto":
            return bool(np.min(z) > 0 and np.max(z) / np.min(z) > 10)
        return bool(log)

    shared = None
    if shared_scale:
        all_loss = np.concatenate([s.loss.ravel() for s in surfaces])
        lg_all = use_log(all_loss)
        allz = _shown(all_loss, lg_all)
        shared = np.linspace(allz.min(), allz.max(), 30)
    for i, (s, t) in enumerate(zip(surfaces, titles, strict=False)):
        ax = axes[i]
        lg = lg_all if shared_scale else use_log(s.loss)
        z = _shown(s.loss, lg)
        lv = shared if shared is not None else np.linspace(z.min(), z.max() + 1e-12 * max(1.0, abs(z.max())), 30)
        lab = labels[i] if labels is not None else _default_labels(s)
        cs = _contour(ax, s, f"{t}\nΔL = {np.ptp(s.loss):.3g} on the plane", levels=lv, log=lg, labels=lab)
        if shared is None or i == n - 1:
            fig.colorbar(cs, ax=ax if shared is None else list(axes[:n]), shrink=0.85, format="%.3g",
                         label="log10 loss" if lg else "loss")
    if cuts:
        ax = axes[-1]
        for i, (s, t) in enumerate(zip(surfaces, titles, strict=False)):
            ca, cb = _centre_cuts(s)
            short = t.split("(")[0].strip() or f"plane {i + 1}"
            ax.plot(s.alphas, ca, "-", color=f"C{i}", label=f"{short}: α axis")
            ax.plot(s.betas, cb, "--", color=f"C{i}", label=f"{short}: β axis")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set(xlabel="coordinate along the axis", ylabel="L − L(θ0)", title="cuts through θ0 (one scale)")
        ax.legend(frameon=False, fontsize=8)
        ax.grid(alpha=0.3)
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
    """SLQ density (log scale) with the Lanczos extreme eigenvalues marked (positive red, negative green)."""
    fig, ax = new_figure(size=(5.8, 3.9))
    if density is not None:
        ax.semilogy(density.grid, np.maximum(density.density, 1e-12), "C0-", lw=1.2,
                    label=f"SLQ density (σ = {density.sigma:.2g})")
        ax.set_ylim(max(1e-8, density.density.max() * 1e-9), density.density.max() * 5)
    if eigs is not None:
        seen: set[bool] = set()
        lo, hi = float(np.min(eigs.eigenvalues)), float(np.max(eigs.eigenvalues))
        for lam in eigs.eigenvalues:
            pos = bool(lam >= 0)
            label = (f"Lanczos λ ≥ 0 (max {hi:.4g})" if pos else f"Lanczos λ < 0 (min {lo:.4g})")
            ax.axvline(lam, color="C3" if pos else "C2", lw=0.9, alpha=0.85, label=None if pos in seen else label)
            seen.add(pos)
    ax.set(xlabel="eigenvalue λ", ylabel="density", title=title or "Hessian spectrum")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, loc="upper center", fontsize=8)
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
