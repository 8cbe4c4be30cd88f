"""Images of RBM samples and learned filters (matplotlib ``Figure`` objects, Agg)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["image_grid_figure", "filters_figure"]


def image_grid_figure(images: Any, image_shape: tuple[int, int], ncols: int = 10, title: str = "",
                      cmap: str = "gray", symmetric: bool = False, cell: float = 0.7) -> Any:
    """A grid of images: ``images`` (n, h*w) shown as ``image_shape`` tiles."""
    from spinlens.report import new_figure

    X = np.asarray(images, dtype=np.float64)
    n = X.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(nrows, ncols, size=(cell * ncols, cell * nrows + (0.4 if title else 0)), squeeze=False)
    for a, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if a >= n:
            continue
        img = X[a].reshape(image_shape)
        if symmetric:
            lim = float(np.max(np.abs(img))) or 1.0
            ax.imshow(img, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow(img, cmap=cmap, interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig


def filters_figure(rbm: Any, image_shape: tuple[int, int], n_filters: int = 64, ncols: int = 8) -> Any:
    """The first ``n_filters`` hidden units' weight vectors W[:, j] as images (red/blue = +/-)."""
    W = rbm.components_[:n_filters]
    return image_grid_figure(W, image_shape, ncols=ncols, title="learned filters W[:, j] (red +, blue -)",
                             cmap="RdBu_r", symmetric=True)
