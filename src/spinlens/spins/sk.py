r"""Sherrington–Kirkpatrick disorder and its layered (multi-species) version.

* SK: :math:`J_{ij} \sim \mathcal N(J_0/N, J^2/N)` for :math:`i<j`, symmetric, zero diagonal.
* Layered SK: couplings only between adjacent groups (layers) of widths :math:`n_0, n_1, \dots`,
  :math:`W_l \in \mathbb R^{n_{l+1}\times n_l}` with i.i.d. entries of variance :math:`C/n_l`
  (fan-in scaling): exactly what a random MLP at initialisation maps to under
  :func:`spinlens.networks.to_spins`. Block :math:`(l, l+1)` of J is :math:`W_l^\top`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from spinlens._rng import RNGLike, as_generator
from spinlens.spins.model import IsingModel, _describe, as_count, as_positive, as_real, as_real_array

__all__ = ["sk", "layered_sk", "layered_sk_from_weights"]


def sk(n_spins: int, J: float = 1.0, J0: float = 0.0, h: float = 0.0, rng: RNGLike = None) -> IsingModel:
    """Sherrington–Kirkpatrick sample with ``J_ij ~ N(J0/N, J^2/N)`` (dense couplings)."""
    n = as_count(n_spins, "n_spins", minimum=2)
    J = as_real(J, "J (the coupling standard deviation scale)", low=0.0)
    J0, h = as_real(J0, "J0"), as_real(h, "h")
    g = as_generator(rng)
    A = g.normal(J0 / n, J / np.sqrt(n), size=(n, n))
    A = np.triu(A, 1)
    A = A + A.T
    return IsingModel(A, np.full(n, float(h)))


def layered_sk_from_weights(weights: Sequence[np.ndarray], h: np.ndarray | None = None) -> IsingModel:
    r"""Block-tridiagonal sparse model from weight matrices ``W_l`` of shape ``(n_{l+1}, n_l)``.

    Spins are ordered layer by layer; block (l, l+1) of J is :math:`W_l^\top`, so
    :math:`H = -\sum_l \sum_{ij} (W_l)_{ji} s^{(l)}_i s^{(l+1)}_j`.
    """
    if isinstance(weights, (str, bytes, np.ndarray)) or not hasattr(weights, "__iter__"):
        raise ValueError(f"weights must be a list of 2-D weight matrices, got {_describe(weights)}.")
    Ws = [as_real_array(W, f"weight {l}", finite=False) for l, W in enumerate(weights)]
    if not Ws:
        raise ValueError("weights is empty; need at least one weight matrix.")
    for l, W in enumerate(Ws):
        if W.ndim != 2:
            raise ValueError(f"weight {l} must be 2-D (out, in), got shape {W.shape}.")
    widths = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    for l, W in enumerate(Ws):
        if W.shape[1] != widths[l]:
            raise ValueError(
                f"weight {l} has {W.shape[1]} inputs but the previous layer has {widths[l]} units."
            )
        if not np.all(np.isfinite(W)):
            raise ValueError(f"weight {l} contains NaN or inf.")
    offsets = np.concatenate([[0], np.cumsum(widths)])
    n = int(offsets[-1])
    blocks_r, blocks_c, blocks_v = [], [], []
    for l, W in enumerate(Ws):
        C = sp.coo_matrix(W.T)  # (n_l, n_{l+1})
        blocks_r.append(C.row + offsets[l])
        blocks_c.append(C.col + offsets[l + 1])
        blocks_v.append(C.data)
    r = np.concatenate(blocks_r)
    c = np.concatenate(blocks_c)
    v = np.concatenate(blocks_v)
    M = sp.coo_matrix((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(n, n))
    return IsingModel(M.tocsr(), h, layers=tuple(widths))


def layered_sk(widths: Sequence[int], C: float = 1.0, rng: RNGLike = None) -> IsingModel:
    """Random layered SK model: Gaussian ``W_l`` with variance ``C / n_l`` between adjacent layers."""
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"widths must be a list of layer sizes, got {_describe(widths)}.")
    widths = [as_count(w, "layer width") for w in widths]
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must list at least two positive layer sizes, got {widths}.")
    C = as_positive(C, "C")
    g = as_generator(rng)
    Ws = [g.normal(0.0, np.sqrt(C / widths[l]), size=(widths[l + 1], widths[l])) for l in range(len(widths) - 1)]
    return layered_sk_from_weights(Ws)
