"""Matplotlib helpers on ``Figure`` objects with the Agg canvas (no pyplot global state)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spinlens.spins.model import _describe, as_count, as_positive, as_real_array

__all__ = ["new_figure", "figure_png", "errorbar_plot", "line_plot"]


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None, **kw: Any):
    """A fresh ``Figure`` with an Agg canvas and its axes (``fig, axes``), like ``plt.subplots``.

    ``size`` is ``(width, height)`` in inches, both finite and > 0 (default 4.8 × 3.6 per panel).
    """
    nrows = as_count(nrows, "nrows", minimum=1)
    ncols = as_count(ncols, "ncols", minimum=1)
    if size is None:
        size = (4.8 * ncols, 3.6 * nrows)
    elif isinstance(size, (str, bytes)) or not isinstance(size, (Sequence, np.ndarray)) or len(size) != 2:
        raise ValueError(f"size must be (width, height) in inches, got {_describe(size)}.")
    else:
        size = (as_positive(size[0], "size[0] (width in inches)"), as_positive(size[1], "size[1] (height in inches)"))
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """Render a figure to PNG bytes at ``dpi`` (an integer >= 1) dots per inch."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__} ({_describe(fig)}).")
    dpi = as_count(dpi, "dpi", minimum=1)
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
    """One axes with several labelled curves over a shared ``x``.

    ``x`` must be finite; a curve in ``ys`` (one value per ``x``) may hold NaN, drawn as a gap.
    """
    xa = as_real_array(x, "x", ndim=1)
    curves = _curves(ys, xa.size)
    fig, ax = new_figure()
    for label, y in curves.items():
        ax.plot(xa, y, (styles or {}).get(label, "-"), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(ys) > 1:
        ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig


def _curves(ys: Any, n: int) -> dict[str, np.ndarray]:
    if not isinstance(ys, dict) or not ys:
        raise ValueError(f"ys must be a non-empty dict {{label: values}}, got {_describe(ys)}.")
    out = {}
    for label, y in ys.items():
        ya = as_real_array(y, f"ys[{label!r}]", ndim=1, finite=False)
        if ya.size != n:
            raise ValueError(f"ys[{label!r}] has {ya.size} values but x has {n}; pass one value per x.")
        if np.any(np.isinf(ya)):
            raise ValueError(f"ys[{label!r}] contains inf; curves must be finite (NaN marks a gap).")
        out[str(label)] = ya
    return out


def _series(series: Any) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if not isinstance(series, dict) or not series:
        raise ValueError(f"series must be a non-empty dict {{label: (x, mean, error)}}, got {_describe(series)}.")
    out = {}
    for label, triple in series.items():
        name = f"series[{label!r}]"
        if isinstance(triple, (str, bytes)) or not isinstance(triple, (tuple, list)) or len(triple) != 3:
            raise ValueError(f"{name} must be a triple (x, mean, error), got {_describe(triple)}.")
        x = as_real_array(triple[0], f"{name} x", ndim=1)
        y = as_real_array(triple[1], f"{name} mean", ndim=1, finite=False)
        e = as_real_array(triple[2], f"{name} error", ndim=1, finite=False)
        if not x.size == y.size == e.size:
            raise ValueError(f"{name}: x, mean and error have {x.size}, {y.size} and {e.size} values; they must "
                             "agree.")
        if np.any(np.isinf(y)) or np.any(np.isinf(e)) or np.any(e < 0):
            raise ValueError(f"{name}: means must be finite and errors finite and >= 0 (NaN marks a gap).")
        out[str(label)] = (x, y, e)
    return out


def errorbar_plot(
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    reference: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> Figure:
    """Curves with error bars: ``series[label] = (x, mean, error)``; optional exact reference curve."""
    checked = _series(series)
    if reference is not None:
        if not isinstance(reference, (tuple, list)) or len(reference) != 3:
            raise ValueError(f"reference must be (x, y, label), got {_describe(reference)}.")
        rx = as_real_array(reference[0], "reference x", ndim=1)
        ry = as_real_array(reference[1], "reference y", ndim=1, finite=False)
        if ry.size != rx.size:
            raise ValueError(f"reference: x has {rx.size} values, y {ry.size}; they must agree.")
        reference = (rx, ry, str(reference[2]))
    fig, ax = new_figure()
    if reference is not None:
        ax.plot(reference[0], reference[1], "k-", lw=1, label=reference[2])
    for label, (x, y, e) in checked.items():
        ax.errorbar(x, y, yerr=e, fmt="o", ms=3, capsize=2, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig
