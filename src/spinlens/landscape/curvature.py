"""Curvature seen through a 2-D projection (Böttcher & Wheeler 2022, arXiv:2208.13219).

The loss on a plane spanned by orthonormal ``u, v`` has Hessian ``P = [[uᵀHu, uᵀHv], [vᵀHu, vᵀHv]]`` at the
centre. Its principal curvatures lie between the extreme eigenvalues of ``H`` (Cauchy interlacing) and, for a
random plane, are close to a weighted average of all eigenvalues: ``κ_u = Σ_i λ_i (u·e_i)²``. For large N the
random-plane ``P`` is distributed like ``mean(λ) I + (std(λ)/√N) G`` with ``G`` from GOE(2) (diagonal variance
2, off-diagonal 1), so with ``μ = √N mean(λ)/std(λ)``

    P(min) = Φ(μ) − e^(−μ²/4) (1 + erf(μ/2)) / (2√2),   P(max) = P(min)(−μ),   P(saddle) = 1 − P(min) − P(max).

``μ = 0`` gives ``P(saddle) = 1/√2`` and ``P(min) = P(max) = (2 − √2)/4``: even at a perfectly symmetric
saddle, 29% of random planes show a minimum or a maximum; once the mean curvature is positive (μ ≫ 1) almost
every random plane shows a minimum.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from spinlens._rng import RNGLike, as_generator
from spinlens.landscape.hessian import HessianOperator, _as_operator
from spinlens.results import Result
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array

__all__ = [
    "goe2_probabilities",
    "projected_hessian",
    "ProjectionCurvature",
    "projection_curvature",
    "RandomPlaneStatistics",
    "random_plane_statistics",
]


def goe2_probabilities(mu: float | np.ndarray) -> dict[str, Any]:
    """GOE(2) prediction of the random-plane picture: probabilities of ``min``, ``max`` and ``saddle``.

    ``mu = √N mean(λ)/std(λ)``: a finite number (floats out) or a numpy array of them (arrays out).
    """
    from scipy.special import erf
    from scipy.stats import norm

    if isinstance(mu, (list, tuple)):
        raise TypeError(f"mu must be a number or a numpy array of numbers, got a {type(mu).__name__}; "
                        "pass np.asarray(mu) for several values.")
    mu = as_real_array(mu, "mu")

    def pmin(m: np.ndarray) -> np.ndarray:
        return norm.cdf(m) - np.exp(-(m**2) / 4) * (1 + erf(m / 2)) / (2 * math.sqrt(2))

    p_min, p_max = pmin(mu), pmin(-mu)
    out = {"min": p_min, "max": p_max, "saddle": 1 - p_min - p_max}
    if mu.ndim == 0:
        return {k: float(v) for k, v in out.items()}
    return out


def projected_hessian(
    model: nn.Module | HessianOperator,
    loss_fn: Any = None,
    data: Any = None,
    directions: np.ndarray | None = None,
    orthonormalize: bool = True,
    **kwargs: Any,
) -> np.ndarray:
    """``DᵀHD`` (r, r) for directions ``D`` (r, N) (orthonormalised first unless told otherwise).

    Zero, non-finite and (when orthonormalising) linearly dependent directions are refused.
    """
    from spinlens.landscape.directions import _direction_rows, _orthonormal_rows

    if directions is None:
        raise ValueError("directions (r, N) are required.")
    D = _direction_rows(directions)
    op = _as_operator(model, loss_fn, data, **kwargs)
    if D.shape[1] != op.n_params:
        raise ValueError(f"directions must have shape (r, {op.n_params}) (one entry per parameter), got {D.shape}.")
    if not np.all(np.any(D != 0, axis=1)):
        raise ValueError("directions holds a zero direction; every direction needs a non-zero length.")
    if orthonormalize:
        Q, _ = _orthonormal_rows(D)
        D = Q.T
    Dt = torch.as_tensor(D, dtype=op.dtype, device=op.device)
    HD = op.matvec(Dt)
    P = (Dt @ HD.T).double().cpu().numpy()
    return 0.5 * (P + P.T)


@dataclasses.dataclass(frozen=True)
class ProjectionCurvature(Result):
    """Principal curvatures of a plane (2,) against the true extreme eigenvalues ``lambda_min/max``."""

    projected: np.ndarray
    principal_curvatures: np.ndarray
    lambda_min: float
    lambda_max: float
    kind: str


def _classify(ev: np.ndarray) -> str:
    if ev[0] > 0:
        return "min"
    if ev[-1] < 0:
        return "max"
    return "saddle"


def projection_curvature(
    model: nn.Module | HessianOperator,
    loss_fn: Any = None,
    data: Any = None,
    directions: np.ndarray | None = None,
    extremes: tuple[float, float] | None = None,
    **kwargs: Any,
) -> ProjectionCurvature:
    """Projected 2×2 Hessian of a plane, its principal curvatures and the true extremes of ``H``.

    ``extremes = (λ_min, λ_max)`` may be passed when known; otherwise they come from Lanczos.
    """
    from spinlens.landscape.directions import _direction_rows
    from spinlens.landscape.hessian import hessian_eigs

    if directions is None:
        raise ValueError("directions (2, N) are required: the two directions spanning the plane.")
    D = _direction_rows(directions)
    if D.shape[0] != 2:
        raise ValueError(f"directions must hold the 2 directions of a plane, got {D.shape[0]}.")
    if extremes is not None:
        if isinstance(extremes, (str, bytes)) or not hasattr(extremes, "__len__") or len(extremes) != 2:
            raise ValueError(f"extremes must be (lambda_min, lambda_max), got {extremes!r}.")
        lo, hi = as_real(extremes[0], "extremes[0] (lambda_min)"), as_real(extremes[1], "extremes[1] (lambda_max)")
        if lo > hi:
            raise ValueError(f"extremes must be (lambda_min, lambda_max) with lambda_min <= lambda_max, "
                             f"got {extremes}.")
        extremes = (lo, hi)
    op = _as_operator(model, loss_fn, data, **kwargs)
    P = projected_hessian(op, directions=D)
    ev = np.linalg.eigvalsh(P)
    if extremes is None:
        res = hessian_eigs(op, k=1, which="both", rng=0)
        extremes = (float(res.eigenvalues[1]), float(res.eigenvalues[0]))
    return ProjectionCurvature(
        projected=P, principal_curvatures=ev, lambda_min=float(extremes[0]), lambda_max=float(extremes[1]),
        kind=_classify(ev),
    )


@dataclasses.dataclass(frozen=True)
class RandomPlaneStatistics(Result):
    """How random planes show a critical point: counts of ``min``/``max``/``saddle`` and GOE(2) predictions.

    ``mu = √N mean(λ)/std(λ)``; ``principal_curvatures`` (n_planes, 2); ``sigma_*`` are binomial standard
    errors of the measured fractions.
    """

    n_planes: int
    p_min: float
    p_max: float
    p_saddle: float
    sigma_min: float
    sigma_max: float
    sigma_saddle: float
    mu: float
    goe_min: float
    goe_max: float
    goe_saddle: float
    principal_curvatures: np.ndarray


def random_plane_statistics(
    model: nn.Module | HessianOperator,
    loss_fn: Any = None,
    data: Any = None,
    *,
    n_planes: int = 200,
    mean_eig: float | None = None,
    std_eig: float | None = None,
    batch_size: int = 32,
    rng: RNGLike = None,
    **kwargs: Any,
) -> RandomPlaneStatistics:
    """Classify the centre of ``n_planes`` uniformly random planes and compare with GOE(2).

    Each plane is two orthonormalised Gaussian vectors; its 2×2 projected Hessian is a minimum when both
    principal curvatures are positive, a maximum when both are negative, else a saddle. ``mean_eig`` and
    ``std_eig`` (of all N eigenvalues) define ``μ``; when not given they are estimated as
    ``mean = tr H / N`` (Hutch++) and ``std² = tr H²/N − mean²`` with ``tr H² = E||Hz||²``.
    """
    from spinlens.landscape.hessian import hessian_trace

    n_planes = as_count(n_planes, "n_planes", minimum=1)
    batch_size = as_count(batch_size, "batch_size", minimum=1)
    if mean_eig is not None:
        mean_eig = as_real(mean_eig, "mean_eig")
    if std_eig is not None:
        std_eig = as_positive(std_eig, "std_eig")
    op = _as_operator(model, loss_fn, data, **kwargs)
    n = op.n_params
    g = as_generator(rng)
    if mean_eig is None or std_eig is None:
        tr = hessian_trace(op, n_matvec=99, rng=g)
        m = tr.trace.mean / n
        Z = torch.as_tensor(g.choice([-1.0, 1.0], size=(64, n)), dtype=op.dtype, device=op.device)
        HZ = op.matvec(Z)
        tr2 = float((HZ * HZ).sum(1).double().mean())
        mean_eig = m if mean_eig is None else mean_eig
        std_eig = math.sqrt(max(tr2 / n - m**2, 1e-300)) if std_eig is None else std_eig
    curv = np.zeros((n_planes, 2))
    for s in range(0, n_planes, batch_size):
        k = min(batch_size, n_planes - s)
        G = g.standard_normal((k, n, 2))
        Q, _ = np.linalg.qr(G)  # batched, (k, n, 2) orthonormal columns
        Qt = torch.as_tensor(np.transpose(Q, (0, 2, 1)).reshape(2 * k, n), dtype=op.dtype, device=op.device)
        HQ = op.matvec(Qt).reshape(k, 2, n)
        Qt = Qt.reshape(k, 2, n)
        P = torch.einsum("kan,kbn->kab", Qt, HQ).double().cpu().numpy()
        P = 0.5 * (P + np.transpose(P, (0, 2, 1)))
        curv[s : s + k] = np.linalg.eigvalsh(P)
    kinds = np.where(curv[:, 0] > 0, 0, np.where(curv[:, 1] < 0, 1, 2))
    p = [float(np.mean(kinds == i)) for i in range(3)]
    sig = [math.sqrt(max(q * (1 - q), 1e-300) / n_planes) for q in p]
    mu = math.sqrt(n) * float(mean_eig) / float(std_eig)
    goe = goe2_probabilities(mu)
    return RandomPlaneStatistics(
        n_planes=n_planes, p_min=p[0], p_max=p[1], p_saddle=p[2], sigma_min=sig[0], sigma_max=sig[1],
        sigma_saddle=sig[2], mu=mu, goe_min=goe["min"], goe_max=goe["max"], goe_saddle=goe["saddle"],
        principal_curvatures=curv,
    )
