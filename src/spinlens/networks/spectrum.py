r"""The bond-matrix spectrum of a network mapped to spins, over training.

* Extreme eigenvalues of :math:`J` (``eigsh``). The layered bond matrix is bipartite (even vs odd
  layers), so its spectrum is symmetric: :math:`\lambda_{\min} = -\lambda_{\max}`.
* The eigenvalues of one bipartite block are :math:`\pm` the singular values of :math:`W_l`.
* Random-matrix bulk edge: an :math:`n \times m` matrix with i.i.d. entries of variance :math:`s^2` has
  its largest singular value at :math:`s(\sqrt n + \sqrt m)` (Marchenko–Pastur / Geman 1980).
* BBP (Baik, Ben Arous & Péché 2005; Benaych-Georges & Nadakuditi 2012): a rank-one signal of strength
  :math:`\theta` pops out of the bulk iff :math:`\theta > s\,(nm)^{1/4}`; the outlier count is the number of
  singular values above the edge (times ``1 + margin`` for finite-size fluctuations).
* Weight motion :math:`\|W_l(t) - W_l(0)\|_F / \|W_l(0)\|_F` (lazy training keeps it small).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse.linalg as sla

from spinlens.results import Result

__all__ = ["SpectrumResult", "spectrum", "bulk_edge", "bbp_threshold", "extreme_eigenvalues", "relative_change"]


def bulk_edge(n: int, m: int, s: float) -> float:
    r"""Largest singular value of an :math:`n\times m` i.i.d. matrix, entry s.d. ``s``: :math:`s(\sqrt n+\sqrt m)`."""
    return float(s * (np.sqrt(n) + np.sqrt(m)))


def bbp_threshold(n: int, m: int, s: float) -> float:
    r"""BBP strength :math:`\theta_c = s\,(nm)^{1/4}` above which a spike :math:`\theta u v^\top` leaves the bulk."""
    return float(s * (n * m) ** 0.25)


def extreme_eigenvalues(model: Any, k: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest and ``k`` smallest eigenvalues of J (descending / ascending)."""
    from spinlens.networks.phases import _as_model

    mdl, _ = _as_model(model)
    n = mdl.n_spins
    k = max(1, min(int(k), n - 1))
    if n <= 100:
        w = np.linalg.eigvalsh(mdl.dense_J())
        return w[::-1][:k].copy(), w[:k].copy()
    J = mdl.csr()
    top = np.sort(sla.eigsh(J, k=k, which="LA", tol=1e-8, return_eigenvectors=False))[::-1]
    bot = np.sort(sla.eigsh(J, k=k, which="SA", tol=1e-8, return_eigenvectors=False))
    return top, bot


def relative_change(weights: Any, init_weights: Any) -> np.ndarray:
    r""":math:`\|W_l - W_l^{(0)}\|_F / \|W_l^{(0)}\|_F` per layer, shape ``(L,)``."""
    from spinlens.networks.to_spins import extract_weights

    Ws, _, _ = extract_weights(weights)
    W0s, _, _ = extract_weights(init_weights)
    if [W.shape for W in Ws] != [W.shape for W in W0s]:
        raise ValueError("weights and init_weights have different layer shapes.")
    return np.array([float(np.linalg.norm(W - W0)) / max(float(np.linalg.norm(W0)), 1e-300)
                     for W, W0 in zip(Ws, W0s, strict=True)])


@dataclass(frozen=True)
class SpectrumResult(Result):
    r"""Spectral summary of one network.

    Attributes
    ----------
    top_eigenvalues : (k,) largest eigenvalues of J; ``bottom_eigenvalues`` the smallest.
    singular_values : list of (min(n_l, n_{l+1}),) arrays, singular values of each W_l (descending).
    edges : (L,) random-matrix bulk edges :math:`s_l(\sqrt{n_l} + \sqrt{n_{l+1}})` with ``s_l`` from the
        reference (initial) weights when given, else from the weights themselves.
    bbp : (L,) BBP thresholds :math:`s_l (n_l n_{l+1})^{1/4}`.
    outliers : (L,) singular values above ``edge * (1 + margin)``.
    top_ratio : (L,) largest singular value over the edge.
    rel_change : (L,) :math:`\|W - W_0\|_F/\|W_0\|_F` (NaN without reference weights).
    """

    top_eigenvalues: np.ndarray
    bottom_eigenvalues: np.ndarray
    singular_values: list
    edges: np.ndarray
    bbp: np.ndarray
    outliers: np.ndarray
    top_ratio: np.ndarray
    rel_change: np.ndarray
    margin: float


def spectrum(weights: Any, init_weights: Any = None, *, k: int = 6, margin: float = 0.05) -> SpectrumResult:
    """Bond-matrix and per-block spectra of a network (anything :func:`to_spins` accepts).

    ``init_weights`` (the step-0 network) sets the random-matrix scale ``s_l`` = std of ``W_l(0)`` and
    gives the weight motion; without it ``s_l`` is the std of ``W_l`` itself.
    """
    from spinlens.networks.to_spins import extract_weights, to_spins

    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}.")
    Ws, _, _ = extract_weights(weights)
    ref = extract_weights(init_weights)[0] if init_weights is not None else Ws
    if [W.shape for W in Ws] != [W.shape for W in ref]:
        raise ValueError("weights and init_weights have different layer shapes.")
    svs = [np.linalg.svd(W, compute_uv=False) for W in Ws]
    s = np.array([float(np.std(W)) for W in ref])
    shapes = [W.shape for W in Ws]
    edges = np.array([bulk_edge(a, b, sl) for (a, b), sl in zip(shapes, s, strict=True)])
    bbp = np.array([bbp_threshold(a, b, sl) for (a, b), sl in zip(shapes, s, strict=True)])
    outl = np.array([int(np.sum(sv > e * (1 + margin))) for sv, e in zip(svs, edges, strict=True)])
    ratio = np.array([float(sv[0] / e) if e > 0 else np.inf for sv, e in zip(svs, edges, strict=True)])
    rel = relative_change(Ws, ref) if init_weights is not None else np.full(len(Ws), np.nan)
    top, bot = extreme_eigenvalues(to_spins(Ws).model, k)
    return SpectrumResult(
        top_eigenvalues=top,
        bottom_eigenvalues=bot,
        singular_values=svs,
        edges=edges,
        bbp=bbp,
        outliers=outl,
        top_ratio=ratio,
        rel_change=rel,
        margin=float(margin),
    )
