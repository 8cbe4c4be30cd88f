r"""The bond-matrix spectrum of a network mapped to spins, over training: per coupling block and of the whole J.

* Extreme eigenvalues of :math:`J` (``eigsh``). A layered bond matrix is bipartite (even vs odd layers), so its
  spectrum is symmetric: :math:`\lambda_{\min} = -\lambda_{\max}`.
* The eigenvalues of one bipartite block are :math:`\pm` the singular values of its matrix :math:`A` (a weight
  matrix :math:`W_l`; for a convolution the sparse weight-shared map between two feature maps).
* **Dense blocks** (a Linear layer: more than half of the entries non-zero) whose reference has no singular value
  beyond the random-matrix edge (times ``1 + margin``). Random-matrix bulk edge: an
  :math:`n \times m` matrix with i.i.d. entries of variance :math:`s^2` has its largest singular value at
  :math:`s(\sqrt n + \sqrt m)` (Marchenko–Pastur; Geman 1980), with :math:`s` the entry standard deviation of the
  reference (step-0) block. BBP (Baik, Ben Arous & Péché 2005; Benaych-Georges & Nadakuditi 2012): a rank-one
  signal of strength :math:`\theta` pops out of the bulk iff :math:`\theta > s\,(nm)^{1/4}`.
* **Sparse blocks** (convolutions, pooling, identity shortcuts), and dense blocks that are not i.i.d. at the
  reference (a Linear layer composed with the average pooling before it; a first checkpoint that is already
  trained). Their entries are shared or correlated, so no random-matrix edge applies
  (:mod:`spinlens.networks.theory`: the top of a conv block's spectrum is the maximum of its Fourier symbol).
  The edge is the block's own largest singular value at the reference (step 0): an outlier is
  a singular value that training pushed beyond everything present at initialisation (spinlens's own convention).
* The outlier count is the number of singular values above the edge times ``1 + margin`` (finite-size
  fluctuations); the top ratio is :math:`\sigma_{\max}/\text{edge}`.
* Weight motion :math:`\|A(t) - A(0)\|_F / \|A(0)\|_F` per block (lazy training keeps it small).

Cost: a dense block of at most ``_FULL_SVD_MAX`` rows or columns gets its full SVD (:math:`O(nm\min(n,m))`);
larger or sparse blocks their ``n_singular`` largest singular values by ARPACK (``svds``, sparse products only);
the extreme eigenvalues of :math:`J` are two ``eigsh`` solves. No dense :math:`n\times n` array is formed.
"""
from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from spinlens.results import Result

__all__ = ["SpectrumResult", "spectrum", "bulk_edge", "bbp_threshold", "extreme_eigenvalues", "relative_change",
           "DENSE_FRACTION"]

#: A block with more than this fraction of non-zero entries is dense (a Linear layer); fewer: sparse (shared).
DENSE_FRACTION = 0.5
_FULL_SVD_MAX = 4096  # dense blocks up to this many rows or columns (the smaller side) get their full SVD
_TOP_SV: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()  # reference CouplingBlock -> sigma_max


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


def _graphs(network: Any, init: Any) -> tuple[Any, Any]:
    """The network and its reference as SpinGraphs with the same blocks (``init`` None: the network itself)."""
    from spinlens.networks.reader import spin_graph

    g = spin_graph(network)
    g0 = spin_graph(init) if init is not None else g
    if [b.matrix.shape for b in g.blocks] != [b.matrix.shape for b in g0.blocks]:
        raise ValueError("weights and init_weights have different layer shapes: not the same network.")
    return g, g0


def relative_change(weights: Any, init_weights: Any) -> np.ndarray:
    r""":math:`\|A - A^{(0)}\|_F / \|A^{(0)}\|_F` per coupling block (per weight matrix of an MLP), shape ``(B,)``."""
    g, g0 = _graphs(weights, init_weights)
    return np.array([float(sp.linalg.norm(b.matrix - b0.matrix)) / max(float(sp.linalg.norm(b0.matrix)), 1e-300)
                     for b, b0 in zip(g.blocks, g0.blocks, strict=True)])


def _is_dense(M: Any) -> bool:
    rows, cols = M.shape
    return M.nnz > DENSE_FRACTION * rows * cols


def _entry_std(M: Any) -> float:
    """Standard deviation over all entries of a sparse block, the zeros included."""
    size = M.shape[0] * M.shape[1]
    mean = float(M.data.sum()) / size
    return float(np.sqrt(max(float(M.data @ M.data) / size - mean**2, 0.0)))


def _svds(M: Any, k: int) -> np.ndarray:
    """The ``k`` largest singular values (descending) by ARPACK; LOBPCG where ARPACK breaks down on a degenerate
    top (an identity shortcut has every singular value equal to 1)."""
    if min(M.shape) <= 64:
        return np.linalg.svd(M.toarray(), compute_uv=False)[:k]
    try:
        sv = sla.svds(M, k=k, return_singular_vectors=False, tol=1e-10, random_state=0)
    except (sla.ArpackError, sla.ArpackNoConvergence):
        with warnings.catch_warnings():  # LOBPCG reports a tolerance below rounding as unreached; the values are
            warnings.simplefilter("ignore", UserWarning)  # accurate to ~1e-14 relative
            sv = sla.svds(M, k=k, return_singular_vectors=False, tol=1e-7, random_state=0, solver="lobpcg",
                          maxiter=2000)
    return np.sort(sv)[::-1]


def _singular_values(M: Any, n_singular: int) -> np.ndarray:
    """All singular values of a small dense block, else the ``n_singular`` largest (descending)."""
    rows, cols = M.shape
    if _is_dense(M) and min(rows, cols) <= _FULL_SVD_MAX:
        return np.linalg.svd(M.toarray(), compute_uv=False)
    k = min(int(n_singular), min(rows, cols) - 1)
    if k < 1:
        return np.linalg.svd(M.toarray(), compute_uv=False)
    return _svds(M, k)


def _top_singular(block: Any) -> float:
    """:math:`\\sigma_{\\max}` of a reference block (a CouplingBlock), computed once per block object."""
    if block in _TOP_SV:
        return _TOP_SV[block]
    M = block.matrix
    if min(M.shape) <= 1 or M.nnz == 0:
        s = float(np.linalg.norm(M.toarray(), 2)) if M.nnz else 0.0
    else:
        s = float(_svds(M, 1)[0])
    _TOP_SV[block] = s
    return s


@dataclass(frozen=True)
class SpectrumResult(Result):
    r"""Spectral summary of one network, per coupling block (one per weight matrix of an MLP).

    Attributes
    ----------
    top_eigenvalues : (k,) largest eigenvalues of J; ``bottom_eigenvalues`` the smallest.
    singular_values : list of arrays, the singular values of each block (descending): all of them for dense blocks
        up to 4096 on a side, else the ``n_singular`` largest.
    edges : (B,) the edge of each block's bulk: :math:`s(\sqrt{n} + \sqrt{m})` for dense blocks (``s`` from the
        reference weights when given, else from the weights themselves), the reference's own
        :math:`\sigma_{\max}` for sparse blocks (see ``edge_kinds``).
    bbp : (B,) BBP thresholds :math:`s (nm)^{1/4}` of dense blocks (NaN for sparse ones).
    outliers : (B,) singular values above ``edge * (1 + margin)`` (at most the number computed).
    top_ratio : (B,) largest singular value over the edge.
    rel_change : (B,) :math:`\|A - A_0\|_F/\|A_0\|_F` (NaN without reference weights).
    blocks : (B,) ``"src → dst"`` names of the blocks (neuron layers by module path).
    edge_kinds : (B,) ``"random-matrix"`` or ``"step-0 sigma_max"``.
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
    blocks: tuple = ()
    edge_kinds: tuple = ()


def spectrum(weights: Any, init_weights: Any = None, *, k: int = 6, margin: float = 0.05,
             n_singular: int = 32) -> SpectrumResult:
    """Bond-matrix and per-block spectra of a network (a module, SpinGraph, state dict or weight list).

    ``init_weights`` (the step-0 network) sets each block's edge (see the module docstring) and gives the weight
    motion; without it the edges come from the weights themselves. ``n_singular``: singular values computed for
    large or sparse blocks.
    """
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}.")
    from spinlens.spins.model import as_count

    n_singular = as_count(n_singular, "n_singular", minimum=1)
    g, g0 = _graphs(weights, init_weights)
    svs, edges, bbp, kinds = [], [], [], []
    for b, b0 in zip(g.blocks, g0.blocks, strict=True):
        rows, cols = b.matrix.shape
        svs.append(_singular_values(b.matrix, n_singular))
        s = _entry_std(b0.matrix)
        if _is_dense(b0.matrix) and _top_singular(b0) <= (1 + margin) * bulk_edge(rows, cols, s):
            edges.append(bulk_edge(rows, cols, s))
            bbp.append(bbp_threshold(rows, cols, s))
            kinds.append("random-matrix")
        else:
            edges.append(_top_singular(b0))
            bbp.append(float("nan"))
            kinds.append("step-0 sigma_max")
    edge_arr = np.array(edges)
    outl = np.array([int(np.sum(sv > e * (1 + margin))) for sv, e in zip(svs, edge_arr, strict=True)])
    ratio = np.array([float(sv[0] / e) if e > 0 else np.inf for sv, e in zip(svs, edge_arr, strict=True)])
    rel = relative_change(g, g0) if init_weights is not None else np.full(len(svs), np.nan)
    top, bot = extreme_eigenvalues(g.model, k)
    return SpectrumResult(
        top_eigenvalues=top,
        bottom_eigenvalues=bot,
        singular_values=svs,
        edges=edge_arr,
        bbp=np.array(bbp),
        outliers=outl,
        top_ratio=ratio,
        rel_change=rel,
        margin=float(margin),
        blocks=tuple(f"{b.src} → {b.dst}" for b in g.blocks),
        edge_kinds=tuple(kinds),
    )
