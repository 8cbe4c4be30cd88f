"""Directions in parameter space for loss-landscape slices.

All directions are flat vectors (N,) in the order of the model's trainable parameters (the order of
``model.named_parameters()``), matching :class:`spinlens.landscape.HessianOperator`.

* :func:`random_direction` — Gaussian, optionally filter-normalised (Li et al. 2018, *Visualizing the
  Loss Landscape of Neural Nets*): every filter (row of a weight matrix, first axis of a conv kernel)
  ``d_f ← d_f ||θ_f|| / ||d_f||``; 1-D parameters (biases, BatchNorm) are zeroed (``bias="ignore"``)
  or normalised as a whole (``bias="include"``).
* :func:`pca_directions` — the two leading principal components of a training trajectory
  ``θ_t − θ_final`` (Li et al. 2018, Sec. 7), with the trajectory's coordinates in that plane.
* :func:`hessian_directions` — eigenvectors of the largest and the most negative curvature
  (Böttcher & Wheeler 2022, arXiv:2208.13219).
* :func:`user_direction` — a user's vector or ``{name: tensor}`` mapping, checked.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from spinlens._rng import RNGLike, as_generator
from spinlens.results import Result

__all__ = [
    "flat_parameters",
    "random_direction",
    "filter_normalize",
    "pca_directions",
    "PCADirections",
    "hessian_directions",
    "user_direction",
    "orthonormalize",
]


def _named(model: nn.Module, params: Sequence[str] | str | None = None) -> list[tuple[str, torch.Tensor]]:
    from spinlens.landscape._problem import _select

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters.")
    keep = set(_select([n for n, _ in trainable], params))
    return [(n, p) for n, p in trainable if n in keep]


def flat_parameters(model: nn.Module, params: Sequence[str] | str | None = None) -> np.ndarray:
    """The selected trainable parameters as one float64 vector (N,)."""
    return np.concatenate([p.detach().cpu().double().reshape(-1).numpy() for _, p in _named(model, params)])


def filter_normalize(
    direction: np.ndarray, model: nn.Module, bias: str = "ignore", params: Sequence[str] | str | None = None
) -> np.ndarray:
    """Filter-normalise a flat direction against the model's parameters (Li et al. 2018).

    For a parameter with ``ndim >= 2`` each filter ``f`` (index along axis 0) becomes
    ``d_f ||θ_f|| / ||d_f||``; 1-D parameters are set to zero (``bias="ignore"``) or rescaled to
    ``d ||θ|| / ||d||`` (``bias="include"``).
    """
    if bias not in ("ignore", "include"):
        raise ValueError(f"bias must be 'ignore' or 'include', got {bias!r}.")
    named = _named(model, params)
    d = np.asarray(direction, dtype=np.float64).reshape(-1).copy()
    total = sum(p.numel() for _, p in named)
    if d.size != total:
        raise ValueError(f"direction has {d.size} entries but the model has {total} parameters.")
    i = 0
    for _, p in named:
        k = p.numel()
        seg = d[i : i + k]
        th = p.detach().cpu().double().numpy()
        if p.ndim >= 2:
            D = seg.reshape(p.shape[0], -1)
            T = th.reshape(p.shape[0], -1)
            dn = np.linalg.norm(D, axis=1, keepdims=True)
            tn = np.linalg.norm(T, axis=1, keepdims=True)
            D *= tn / np.where(dn > 0, dn, 1.0)
            seg[:] = D.reshape(-1)
        elif bias == "ignore":
            seg[:] = 0.0
        else:
            dn = np.linalg.norm(seg)
            seg *= np.linalg.norm(th) / (dn if dn > 0 else 1.0)
        i += k
    return d


def random_direction(
    model: nn.Module,
    normalization: str | None = "filter",
    bias: str = "ignore",
    params: Sequence[str] | str | None = None,
    rng: RNGLike = None,
) -> np.ndarray:
    """A Gaussian random direction (N,).

    ``normalization``: ``"filter"`` (Li et al.), ``"unit"`` (``||d|| = 1``) or ``None`` (raw N(0, I)).
    """
    g = as_generator(rng)
    n = sum(p.numel() for _, p in _named(model, params))
    d = g.standard_normal(n)
    if normalization == "filter":
        return filter_normalize(d, model, bias=bias, params=params)
    if normalization == "unit":
        return d / np.linalg.norm(d)
    if normalization is None:
        return d
    raise ValueError(f"normalization must be 'filter', 'unit' or None, got {normalization!r}.")


def orthonormalize(directions: Sequence[np.ndarray]) -> np.ndarray:
    """Gram–Schmidt (QR) of a few directions: rows of the result are orthonormal, span preserved."""
    D = np.stack([np.asarray(d, dtype=np.float64).reshape(-1) for d in directions], axis=1)
    Q, R = np.linalg.qr(D)
    Q = Q * np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))
    return Q.T


@dataclasses.dataclass(frozen=True)
class PCADirections(Result):
    """Two PCA directions (2, N) of a trajectory, its coordinates (T, 2) in that plane and the variance ratios."""

    directions: np.ndarray
    coordinates: np.ndarray
    explained_variance_ratio: np.ndarray
    origin: np.ndarray


def pca_directions(trajectory: Sequence[Any] | np.ndarray, n_components: int = 2) -> PCADirections:
    """PCA of a training trajectory around its final point (Li et al. 2018, Sec. 7).

    ``trajectory``: array (T, N) of flat parameter vectors, or a sequence of models / state dicts
    (flattened in ``named_parameters`` order). With ``M = [θ_t − θ_T]`` the directions are the top right
    singular vectors of ``M`` and the coordinates ``M Vᵀ`` (exact when the trajectory lies in the plane).
    """
    rows = []
    for item in trajectory:
        if isinstance(item, nn.Module):
            rows.append(flat_parameters(item))
        elif isinstance(item, dict):
            rows.append(
                np.concatenate([torch.as_tensor(v).detach().double().reshape(-1).numpy() for v in item.values()])
            )
        else:
            rows.append(np.asarray(item, dtype=np.float64).reshape(-1))
    T = np.stack(rows)
    if T.shape[0] < n_components + 1:
        raise ValueError(f"a trajectory of {T.shape[0]} points is too short for {n_components} PCA directions.")
    origin = T[-1]
    M = T - origin
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    V = Vt[:n_components]
    var = s**2
    return PCADirections(
        directions=V,
        coordinates=M @ V.T,
        explained_variance_ratio=var[:n_components] / max(var.sum(), 1e-300),
        origin=origin,
    )


def hessian_directions(
    model: nn.Module, loss_fn: Any, data: Any, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Unit eigenvectors (2, N) of the largest and the most negative Hessian eigenvalue, and those eigenvalues.

    Böttcher & Wheeler (2022): slices along these show the true extreme curvatures, where random planes
    average them away. ``kwargs`` go to :func:`spinlens.landscape.hessian_eigs`.
    """
    from spinlens.landscape.hessian import hessian_eigs

    res = hessian_eigs(model, loss_fn, data, k=1, which="both", **kwargs)
    return res.eigenvectors.copy(), res.eigenvalues.copy()


def user_direction(model: nn.Module, direction: Any, params: Sequence[str] | str | None = None) -> np.ndarray:
    """Check and flatten a user-given direction (flat array, tensor, or ``{name: tensor}``)."""
    named = _named(model, params)
    if isinstance(direction, dict):
        missing = [n for n, _ in named if n not in direction]
        if missing:
            raise ValueError(f"direction lacks parameters {missing}.")
        parts = []
        for n, p in named:
            v = torch.as_tensor(direction[n]).detach().double()
            if tuple(v.shape) != tuple(p.shape):
                raise ValueError(f"direction[{n!r}] has shape {tuple(v.shape)}, the parameter {tuple(p.shape)}.")
            parts.append(v.reshape(-1).numpy())
        d = np.concatenate(parts)
    else:
        d = np.asarray(torch.as_tensor(direction).detach().cpu().double().numpy()).reshape(-1)
    n_par = sum(p.numel() for _, p in named)
    if d.size != n_par:
        raise ValueError(f"direction has {d.size} entries but the model has {n_par} parameters.")
    if not np.all(np.isfinite(d)):
        raise ValueError("direction has non-finite entries.")
    return d
