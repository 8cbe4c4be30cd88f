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
from spinlens.spins.model import _describe, as_count, as_real_array

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


def _named(model: nn.Module, params: Sequence[str] | str | None = None,
           name: str = "model") -> list[tuple[str, torch.Tensor]]:
    from spinlens.landscape._problem import _select, check_module

    check_module(model, name)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(f"{name} has no trainable parameters (all have requires_grad=False).")
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
    d = _flat_direction(direction, sum(p.numel() for _, p in named))
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


def _flat_direction(direction: Any, n_par: int, name: str = "direction") -> np.ndarray:
    """A flat, finite, non-zero float64 copy of an array/tensor direction with ``n_par`` entries."""
    if isinstance(direction, torch.Tensor):
        direction = direction.detach().cpu()
        if direction.is_complex():
            raise ValueError(f"{name} is complex; it must hold real numbers.")
        direction = direction.double().numpy() if direction.dtype != torch.bool else direction.numpy()
    d = as_real_array(direction, name).reshape(-1)
    if d.size != n_par:
        raise ValueError(f"{name} has {d.size} entries but the model has {n_par} parameters; pass one entry per "
                         "trainable parameter, in named_parameters() order.")
    if not np.any(d):
        raise ValueError(f"{name} is zero everywhere; a direction needs a non-zero length.")
    return d


def random_direction(
    model: nn.Module,
    normalization: str = "filter",
    bias: str = "ignore",
    params: Sequence[str] | str | None = None,
    rng: RNGLike = None,
) -> np.ndarray:
    """A Gaussian random direction (N,).

    ``normalization``: ``"filter"`` (Li et al.), ``"unit"`` (``||d|| = 1``) or ``"none"`` (raw N(0, I)).
    """
    if normalization not in ("filter", "unit", "none"):
        hint = " (write 'none' for a raw N(0, I) direction)" if normalization is None else ""
        raise ValueError(f"normalization must be 'filter', 'unit' or 'none', got {normalization!r}{hint}.")
    if bias not in ("ignore", "include"):
        raise ValueError(f"bias must be 'ignore' or 'include', got {bias!r}.")
    g = as_generator(rng)
    n = sum(p.numel() for _, p in _named(model, params))
    d = g.standard_normal(n)
    if normalization == "filter":
        return filter_normalize(d, model, bias=bias, params=params)
    if normalization == "unit":
        return d / np.linalg.norm(d)
    return d


def _direction_rows(directions: Any, name: str = "directions") -> np.ndarray:
    """A list of flat directions (or a 2-D array of rows) as a finite float64 (r, N) array."""
    if isinstance(directions, torch.Tensor):
        directions = directions.detach().cpu().numpy()
    if isinstance(directions, np.ndarray):
        return as_real_array(directions, name, ndim=2)
    if isinstance(directions, (str, bytes)) or not isinstance(directions, Sequence):
        raise TypeError(f"{name} must be a list of flat direction vectors or an (r, N) array, got "
                        f"{_describe(directions)}.")
    rows = []
    for i, d in enumerate(directions):
        if isinstance(d, torch.Tensor):
            d = d.detach().cpu().double().numpy()
        rows.append(as_real_array(d, f"{name}[{i}]").reshape(-1))
    if not rows:
        raise ValueError(f"{name} is empty; pass at least one direction vector.")
    sizes = {r.size for r in rows}
    if len(sizes) > 1:
        raise ValueError(f"{name} have different lengths {[r.size for r in rows]}; every direction needs one entry "
                         "per parameter.")
    return np.stack(rows)


def _orthonormal_rows(D: np.ndarray, name: str = "directions") -> tuple[np.ndarray, np.ndarray]:
    """QR of the rows of ``D``; refuses zero or linearly dependent directions (they span no plane)."""
    if D.shape[0] > D.shape[1]:
        raise ValueError(f"{name}: {D.shape[0]} directions in a {D.shape[1]}-dimensional space cannot be independent.")
    Q, R = np.linalg.qr(D.T)
    diag = np.abs(np.diag(R))
    scale = float(np.max(np.linalg.norm(D, axis=1)))
    bad = np.flatnonzero(diag <= 1e-10 * max(scale, 1e-300))
    if scale == 0.0 or bad.size:
        i = int(bad[0]) if bad.size else 0
        raise ValueError(f"{name} are linearly dependent: direction {i} is zero or lies in the span of the ones "
                         "before it; pass independent directions.")
    return Q, R


def orthonormalize(directions: Sequence[np.ndarray]) -> np.ndarray:
    """Gram–Schmidt (QR) of a few directions: rows of the result are orthonormal, span preserved.

    ``directions``: a list of flat vectors or an (r, N) array. Zero, non-finite, ragged and linearly dependent
    directions are refused (the span would not be the one asked for).
    """
    D = _direction_rows(directions)
    Q, R = _orthonormal_rows(D)
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
    n_components = as_count(n_components, "n_components", minimum=1)
    T = _trajectory_rows(trajectory)
    if T.shape[0] < n_components + 1:
        raise ValueError(f"a trajectory of {T.shape[0]} points is too short for n_components={n_components} "
                         f"(it needs at least {n_components + 1}); lower n_components or record more points.")
    if n_components > T.shape[1]:
        raise ValueError(f"n_components={n_components} exceeds the {T.shape[1]} parameters of the trajectory.")
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


def _trajectory_rows(trajectory: Any, name: str = "trajectory") -> np.ndarray:
    """A trajectory (T, N) from an array, or a sequence of models / state dicts / flat vectors."""
    if isinstance(trajectory, np.ndarray):
        return as_real_array(trajectory, name, ndim=2)
    if isinstance(trajectory, (str, bytes)) or not isinstance(trajectory, Sequence):
        raise TypeError(f"{name} must be a (T, N) array or a list of models, state dicts or flat parameter "
                        f"vectors, got {_describe(trajectory)}.")
    rows = []
    for i, item in enumerate(trajectory):
        if isinstance(item, nn.Module):
            rows.append(flat_parameters(item))
        elif isinstance(item, dict):
            try:
                rows.append(np.concatenate([torch.as_tensor(v).detach().double().reshape(-1).numpy()
                                            for v in item.values()]))
            except (TypeError, ValueError, RuntimeError) as exc:
                raise ValueError(f"{name}[{i}] is a dict but not a state dict of numeric tensors: {exc}") from None
        else:
            if isinstance(item, torch.Tensor):
                item = item.detach().cpu().double().numpy()
            rows.append(as_real_array(item, f"{name}[{i}]").reshape(-1))
    if not rows:
        raise ValueError(f"{name} is empty; pass the parameter vectors of the training path.")
    if len({r.size for r in rows}) > 1:
        raise ValueError(f"{name}: its points have different numbers of parameters {sorted({r.size for r in rows})}.")
    T = np.stack(rows)
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name} contains NaN or inf (a diverged run?); pass finite parameter vectors.")
    return T


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
    n_par = sum(p.numel() for _, p in named)
    if isinstance(direction, dict):
        missing = [n for n, _ in named if n not in direction]
        if missing:
            raise ValueError(f"direction lacks parameters {missing}.")
        parts = []
        for n, p in named:
            v = direction[n]
            v = v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else v
            a = as_real_array(v, f"direction[{n!r}]", allow_empty=True)
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"direction[{n!r}] has shape {tuple(a.shape)}, the parameter {tuple(p.shape)}.")
            parts.append(a.reshape(-1))
        return _flat_direction(np.concatenate(parts), n_par)
    return _flat_direction(direction, n_par)
