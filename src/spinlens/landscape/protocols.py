"""Spin-glass protocols on loss landscapes (Liao et al. 2024; Cohen et al. 2021; Keskar et al. 2017; Foret et al. 2021).

* :func:`random_walk` — isotropic random walks from a solution: loss against step and distance.
* :func:`cluster_solutions` — hierarchical clustering of many solutions and an ultrametricity test: in an
  ultrametric space every triangle is isosceles with the two largest sides equal, so
  ``(d_max − d_mid)/d_max`` is 0 for every triple (replica-symmetry breaking predicts near-ultrametric
  organisation of pure states).
* :func:`sharpness` — ε-sharpness: the loss rise in a ball of radius ρ, either SAM-style
  (Foret et al. 2021: ``δ = ρ g/||g||``, optional projected ascent steps) or the worst of random directions;
  :func:`sharpness_vs_error` relates it to test error across solutions (Spearman correlation).
* :func:`edge_of_stability` — full-batch gradient descent with step η while tracking ``λ_max`` (Lanczos):
  ``λ_max`` rises to and hovers at ``2/η`` (Cohen et al. 2021).
"""
from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.landscape._problem import LossFn, Problem, check_module
from spinlens.landscape.directions import flat_parameters
from spinlens.landscape.surface import evaluate_losses
from spinlens.results import Result
from spinlens.spins.model import _describe, as_count, as_positive, as_real_array

__all__ = [
    "RandomWalk",
    "random_walk",
    "Ultrametricity",
    "cluster_solutions",
    "sharpness",
    "SharpnessStudy",
    "sharpness_vs_error",
    "EdgeOfStability",
    "edge_of_stability",
]


# ---------------------------------------------------------------------- random walks
@dataclasses.dataclass(frozen=True)
class RandomWalk(Result):
    """``loss`` and ``distance`` (n_walkers, n_steps + 1) along walks ``θ_{t+1} = θ_t + s ξ_t``, ``||ξ_t|| = 1``."""

    steps: np.ndarray
    distance: np.ndarray
    loss: np.ndarray
    step_size: float


def random_walk(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    *,
    n_steps: int = 50,
    step_size: float = 0.1,
    n_walkers: int = 4,
    params: Sequence[str] | str | None = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> RandomWalk:
    """Isotropic random walks in parameter space from the model's parameters.

    Each step adds ``step_size`` times a uniformly random unit vector; the distance from the start grows like
    ``s√t``. Losses at all positions are evaluated in vmapped batches.
    """
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    n_walkers = as_count(n_walkers, "n_walkers", minimum=1)
    step_size = as_positive(step_size, "step_size")
    prob = Problem(model, loss_fn, data, params=params, dtype=dtype, device=device)
    g = as_generator(rng)
    n = prob.n_params
    losses = np.zeros((n_walkers, n_steps + 1))
    dist = np.zeros((n_walkers, n_steps + 1))
    for w in range(n_walkers):
        xi = g.standard_normal((n_steps, n))
        xi /= np.linalg.norm(xi, axis=1, keepdims=True)
        pos = np.vstack([np.zeros(n), np.cumsum(step_size * xi, axis=0)])
        dist[w] = np.linalg.norm(pos, axis=1)
        P = torch.as_tensor(pos, dtype=prob.dtype, device=prob.device)
        losses[w] = evaluate_losses(prob, torch.eye(n_steps + 1, dtype=prob.dtype), P, fast=False)
        notify(progress, w + 1, n_walkers)
    return RandomWalk(steps=np.arange(n_steps + 1), distance=dist, loss=losses, step_size=float(step_size))


# ---------------------------------------------------------------------- clustering and ultrametricity
@dataclasses.dataclass(frozen=True)
class Ultrametricity(Result):
    """Distances (K, K), average-linkage ``linkage`` (K−1, 4), per-triangle ``ratios`` ``(d_max−d_mid)/d_max``.

    ``mean_ratio`` is 0 for an ultrametric; ``null_mean_ratio`` is the same statistic for Gaussian points
    with the same mean distance structure removed (isotropic cloud in the same dimension, for comparison);
    ``cophenetic`` is the correlation between distances and the dendrogram's cophenetic distances
    (1 for an ultrametric).
    """

    distances: np.ndarray
    linkage: np.ndarray
    ratios: np.ndarray
    mean_ratio: float
    null_mean_ratio: float
    cophenetic: float


def _triangle_ratios(D: np.ndarray) -> np.ndarray:
    K = D.shape[0]
    i, j, k = np.array([(a, b, c) for a in range(K) for b in range(a + 1, K) for c in range(b + 1, K)]).T
    sides = np.sort(np.stack([D[i, j], D[i, k], D[j, k]], axis=1), axis=1)
    return (sides[:, 2] - sides[:, 1]) / np.maximum(sides[:, 2], 1e-300)


def cluster_solutions(
    solutions: Sequence[Any] | np.ndarray, method: str = "average", rng: RNGLike = 0
) -> Ultrametricity:
    """Hierarchical clustering of trained solutions and an ultrametricity test.

    ``solutions``: (K, N) flat parameter vectors or a sequence of models (align MLPs first with
    :func:`spinlens.landscape.weight_matching` to remove the permutation symmetry). The null comparison uses
    K points of an isotropic Gaussian cloud whose mean pairwise distance matches (in high dimension such
    points are nearly equidistant, so compare the statistics rather than read ``mean_ratio`` alone).
    """
    from scipy.cluster.hierarchy import cophenet, linkage
    from scipy.spatial.distance import pdist, squareform

    methods = ("single", "complete", "average", "weighted", "centroid", "median", "ward")
    if method not in methods:
        raise ValueError(f"method must be one of {methods} (scipy linkage), got {method!r}.")
    if isinstance(solutions, np.ndarray):
        X = as_real_array(solutions, "solutions", ndim=2)
    elif isinstance(solutions, (list, tuple)):
        rows = []
        for i, s in enumerate(solutions):
            if isinstance(s, nn.Module):
                rows.append(flat_parameters(s))
            else:
                if isinstance(s, torch.Tensor):
                    s = s.detach().cpu().double().numpy()
                rows.append(as_real_array(s, f"solutions[{i}]").reshape(-1))
        if len({r.size for r in rows}) > 1:
            raise ValueError(f"solutions have different numbers of parameters {sorted({r.size for r in rows})}.")
        X = np.stack(rows) if rows else np.zeros((0, 0))
    else:
        raise TypeError(f"solutions must be a (K, N) array or a list of models / flat parameter vectors, got "
                        f"{_describe(solutions)}.")
    if X.shape[0] < 3:
        raise ValueError(f"solutions: need at least 3 solutions for triangles, got {X.shape[0]}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("solutions contain NaN or inf (a diverged run?); pass finite parameter vectors.")
    d = pdist(X)
    if not np.any(d > 0):
        raise ValueError(f"solutions are all the same point ({X.shape[0]} copies): there are no distances to "
                         "cluster and the ultrametricity ratios are undefined; pass distinct solutions.")
    D = squareform(d)
    Z = linkage(d, method=method)
    coph = float(cophenet(Z, d)[0]) if np.std(d) > 0 else 1.0
    r = _triangle_ratios(D)
    g = as_generator(rng)
    Y = g.standard_normal(X.shape) * (np.mean(d) / math.sqrt(2 * X.shape[1]))
    r0 = _triangle_ratios(squareform(pdist(Y)))
    return Ultrametricity(
        distances=D, linkage=Z, ratios=r, mean_ratio=float(r.mean()), null_mean_ratio=float(r0.mean()),
        cophenetic=coph,
    )


# ---------------------------------------------------------------------- sharpness
def sharpness(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    rho: float = 0.05,
    *,
    kind: str = "sam",
    n_steps: int = 1,
    n_directions: int = 32,
    relative: bool = False,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    rng: RNGLike = None,
) -> float:
    """ε-sharpness ``max_{||δ|| <= ρ} L(θ+δ) − L(θ)`` (approximately).

    ``kind="sam"``: ``n_steps`` of normalised gradient ascent projected on the ball (one step is SAM's
    ``δ = ρ g/||g||``); ``kind="random"``: the largest rise over ``n_directions`` random directions of
    length ρ. ``relative=True`` uses radius ``ρ ||θ||``.
    """
    rho = as_positive(rho, "rho")
    if kind not in ("sam", "random"):
        raise ValueError(f"kind must be 'sam' or 'random', got {kind!r}.")
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    n_directions = as_count(n_directions, "n_directions", minimum=1)
    prob = Problem(model, loss_fn, data, dtype=dtype, device=device)
    th0 = prob.theta0
    r = rho * float(torch.linalg.vector_norm(th0)) if relative else rho
    l0 = float(prob.loss(th0).detach())
    if kind == "sam":
        delta = torch.zeros_like(th0)
        for _ in range(n_steps):
            t = (th0 + delta).detach().requires_grad_(True)
            (gr,) = torch.autograd.grad(prob.loss(t), t)
            step = r / n_steps * gr / torch.linalg.vector_norm(gr).clamp_min(1e-300)
            delta = delta + step
            nrm = torch.linalg.vector_norm(delta)
            if nrm > r:
                delta = delta * (r / nrm)
        with torch.no_grad():
            return float(prob.loss(th0 + delta)) - l0
    if kind == "random":
        g = as_generator(rng)
        U = g.standard_normal((n_directions, prob.n_params))
        U *= r / np.linalg.norm(U, axis=1, keepdims=True)
        vals = evaluate_losses(prob, torch.eye(n_directions, dtype=prob.dtype), torch.as_tensor(U))
        return float(vals.max()) - l0
    raise ValueError(f"kind must be 'sam' or 'random', got {kind!r}.")


@dataclasses.dataclass(frozen=True)
class SharpnessStudy(Result):
    """Sharpness and test error per solution and their Spearman rank correlation."""

    sharpness: np.ndarray
    test_error: np.ndarray
    train_loss: np.ndarray
    spearman: float
    rho: float
    kind: str


def sharpness_vs_error(
    models: Sequence[nn.Module],
    loss_fn: LossFn,
    train_data: Any,
    test_data: tuple[Any, Any],
    rho: float = 0.05,
    kind: str = "sam",
    rng: RNGLike = 0,
    **kwargs: Any,
) -> SharpnessStudy:
    """ε-sharpness on the training data against classification error on ``test_data`` for each model."""
    from scipy.stats import spearmanr

    if isinstance(models, (str, bytes)) or not isinstance(models, Sequence) or len(models) == 0:
        raise ValueError(f"models must be a non-empty list of torch models, got {_describe(models)}.")
    for i, m in enumerate(models):
        check_module(m, f"models[{i}]")
    rho = as_positive(rho, "rho")
    if kind not in ("sam", "random"):
        raise ValueError(f"kind must be 'sam' or 'random', got {kind!r}.")
    if not isinstance(test_data, (tuple, list)) or len(test_data) != 2:
        raise ValueError(f"test_data must be a pair (inputs, labels), got {_describe(test_data)}.")
    g = as_generator(rng)
    xs, ys = (torch.as_tensor(np.asarray(a)) for a in test_data)
    if xs.ndim == 0 or ys.ndim != 1 or xs.shape[0] != ys.shape[0] or xs.shape[0] == 0:
        raise ValueError(f"test_data must be (inputs (n, ...), labels (n,)) with n >= 1, got shapes "
                         f"{tuple(xs.shape)} and {tuple(ys.shape)}.")
    sh, err, tl = [], [], []
    for m in models:
        sh.append(sharpness(m, loss_fn, train_data, rho, kind=kind, rng=g, **kwargs))
        p = next(m.parameters())
        with torch.no_grad():
            out = m(xs.to(p.device, p.dtype))
        err.append(float((out.argmax(1).cpu() != ys).double().mean()))
        prob = Problem(m, loss_fn, train_data)
        with torch.no_grad():
            tl.append(float(prob.loss(prob.theta0)))
    rho_s = float(spearmanr(sh, err)[0]) if len(models) > 2 else float("nan")
    return SharpnessStudy(
        sharpness=np.asarray(sh), test_error=np.asarray(err), train_loss=np.asarray(tl), spearman=rho_s,
        rho=float(rho), kind=kind,
    )


# ---------------------------------------------------------------------- edge of stability
@dataclasses.dataclass(frozen=True)
class EdgeOfStability(Result):
    """Full-batch GD: ``loss`` per step, ``lambda_max`` at ``eig_steps``, the stability threshold ``2/lr``."""

    steps: np.ndarray
    loss: np.ndarray
    eig_steps: np.ndarray
    lambda_max: np.ndarray
    lr: float
    threshold: float

    def settled_ratio(self, last_fraction: float = 0.3) -> float:
        """Median of ``lr·λ_max/2`` over the last part of the run (≈ 1 at the edge of stability)."""
        k = max(1, int(round(last_fraction * len(self.lambda_max))))
        return float(np.median(self.lambda_max[-k:]) * self.lr / 2)


def edge_of_stability(
    model: nn.Module,
    loss_fn: LossFn,
    data: Any,
    lr: float,
    n_steps: int = 1000,
    *,
    eig_every: int = 10,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = None,
    rng: RNGLike = 0,
    progress: ProgressCallback | None = None,
) -> EdgeOfStability:
    """Train a copy of ``model`` by full-batch gradient descent ``θ ← θ − lr ∇L`` and track ``λ_max``.

    Every ``eig_every`` steps the top Hessian eigenvalue is computed by Lanczos (float64 by default).
    Cohen et al. (2021): λ_max rises (progressive sharpening) to ``2/lr`` and hovers there.
    """
    from spinlens.landscape.hessian import HessianOperator, hessian_eigs

    lr = as_positive(lr, "lr")
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    eig_every = as_count(eig_every, "eig_every", minimum=1)
    check_module(model, "model")
    net = copy.deepcopy(model)
    if dtype is not None:
        net = net.to(dtype)
    prob = Problem(net, loss_fn, data, dtype=dtype, device=device)
    net = net.to(prob.device)
    g = as_generator(rng)
    theta = prob.theta0.clone()
    losses, eig_steps, lams = [], [], []
    for t in range(n_steps + 1):
        th = theta.detach().requires_grad_(True)
        loss = prob.loss(th)
        (gr,) = torch.autograd.grad(loss, th)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            raise ValueError(f"GD diverged at step {t} (loss {losses[-1]}); lower lr.")
        if t % eig_every == 0:
            with torch.no_grad():
                for name, p in prob.unflatten(theta).items():
                    net.get_parameter(name).copy_(p)
            op = HessianOperator(net, loss_fn, prob.batches, dtype=dtype, device=prob.device)
            res = hessian_eigs(op, k=1, which="top", tol=1e-5, max_iter=60, rng=g)
            eig_steps.append(t)
            lams.append(float(res.eigenvalues[0]))
        if t < n_steps:
            theta = (theta - lr * gr).detach()
        notify(progress, t, n_steps)
    return EdgeOfStability(
        steps=np.arange(n_steps + 1), loss=np.asarray(losses), eig_steps=np.asarray(eig_steps),
        lambda_max=np.asarray(lams), lr=float(lr), threshold=2.0 / lr,
    )
