"""Matplotlib helpers on ``Figure`` objects with the Agg canvas (no pyplot global state)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["new_figure", "figure_png", "errorbar_plot", "line_plot"]


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None, **kw: Any):
    """A fresh ``Figure`` with an Agg canvas and its axes (``fig, axes``), like ``plt.subplots``."""
    size = size or (4.8 * ncols, 3.6 * nrows)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """Render a figure to PNG bytes."""
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def line_plot(
    x: Sequence[float] | np.ndarray,
    ys: dict[str, Sequence[float] | np.ndarray],
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    logy: bool = False,
    styles: dict[str, str] | None = None,
) -> Figure:
    """One axes with several labelled curves over a shared ``x``."""
    fig, ax = new_figure()
    for label, y in ys.items():
        ax.plot(x, y, (styles or {}).get(label, "-"), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(ys) > 1:
        ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig


def errorbar_plot(
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    reference: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> Figure:
    """Curves with error bars: ``series[label] = (x, mean, error)``; optional exact reference curve."""
    fig, ax = new_figure()
    if reference is not None:
        ax.plot(reference[0], reference[1], "k-", lw=1, label=reference[2])
    for label, (x, y, e) in series.items():
        ax.errorbar(x, y, yerr=e, fmt="o", ms=3, capsize=2, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig
