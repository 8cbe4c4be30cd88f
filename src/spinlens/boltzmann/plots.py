"""Images of RBM samples and learned filters (matplotlib ``Figure`` objects, Agg)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from spinlens.spins.model import as_count, as_real, as_real_array

__all__ = ["image_grid_figure", "filters_figure"]


def image_grid_figure(images: Any, image_shape: tuple[int, int], ncols: int = 10, title: str = "",
                      cmap: str = "gray", symmetric: bool = False, cell: float = 0.7) -> Any:
    """A grid of images: ``images`` (n, h*w) shown as ``image_shape`` tiles."""
    from spinlens.report import new_figure

    X = as_real_array(images, "images (n, h*w)", ndim=2)
    shape = _image_shape(image_shape, X.shape[1])
    ncols = as_count(ncols, "ncols", minimum=1)
    cell = as_real(cell, "cell", low=0.0, low_open=True)
    n = X.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(nrows, ncols, size=(cell * ncols, cell * nrows + (0.4 if title else 0)), squeeze=False)
    for a, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if a >= n:
            continue
        img = X[a].reshape(shape)
        if symmetric:
            lim = float(np.max(np.abs(img))) or 1.0
            ax.imshow(img, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow(img, cmap=cmap, interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig


def _image_shape(image_shape: Any, size: int) -> tuple[int, int]:
    if isinstance(image_shape, (str, bytes)) or not hasattr(image_shape, "__len__") or len(image_shape) != 2:
        raise ValueError(f"image_shape must be a pair (height, width), got {image_shape!r}.")
    h, w = (as_count(x, "image_shape", minimum=1) for x in image_shape)
    if h * w != size:
        raise ValueError(f"image_shape {(h, w)} holds {h * w} pixels but the images have {size} each.")
    return h, w


def filters_figure(rbm: Any, image_shape: tuple[int, int], n_filters: int = 64, ncols: int = 8) -> Any:
    """The first ``n_filters`` hidden units' weight vectors W[:, j] as images (red/blue = +/-)."""
    if not hasattr(rbm, "components_"):
        raise TypeError(f"rbm must be a fitted spinlens RBM, got {type(rbm).__name__}.")
    n_filters = as_count(n_filters, "n_filters", minimum=1)
    W = rbm.components_[:n_filters]
    return image_grid_figure(W, image_shape, ncols=ncols, title="learned filters W[:, j] (red +, blue -)",
                             cmap="RdBu_r", symmetric=True)
