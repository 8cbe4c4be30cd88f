r"""The eigenvalue density of a network's bond matrix :math:`J` against its null bulk, outliers and localisation.

For a network mapped to spins (a :class:`~spinlens.networks.graph.SpinGraph`):

* **Density** :math:`\rho(\lambda) = \frac1n\sum_i \delta(\lambda - \lambda_i(J))` by stochastic Lanczos
  quadrature (:func:`spinlens.landscape.hessian.slq_density`: ``n_vectors`` Rademacher start vectors, ``n_steps``
  Lanczos steps with full re-orthogonalisation, Gaussian broadening; Ubaru, Chen & Saad 2017), the same for the
  **null** — the couplings shuffled within each block (:func:`~spinlens.networks.nulls.shuffled_graph`: same
  values, no arrangement) — on one grid. Sparse products only: :math:`O(\mathrm{nnz}(J))` per step.
* **Null edge** :math:`\lambda^{null}_{\max}`, the top eigenvalue of the shuffled :math:`J`; **outliers** the
  eigenvalues of :math:`J` above it (times ``1 + margin``), counted among its ``k`` largest (``eigsh``).
* **Tail statistic**: the fraction of the spectral mass beyond the null edge, :math:`\#\{\lambda_i >
  \lambda^{null}_{\max}\}/n`, from the density (:math:`\int_{\lambda^{null}_{\max}}^\infty\rho`) — a fraction of
  :math:`n`, so of order :math:`k/n` for a few outliers.
* **Localisation** of the top eigenvectors :math:`v` (unit norm): the inverse participation ratio
  :math:`\mathrm{IPR} = \sum_i v_i^4` (:math:`1/n` for a delocalised vector, 1 for one site) and its share per
  neuron layer :math:`\sum_{i\in l} v_i^2`.

Cost: ``n_steps`` × ``n_vectors`` sparse products for each density (the network and its null), one ``eigsh``
of the ``k`` largest eigenpairs of :math:`J`, one for the null's top.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse.linalg as sla

from spinlens._rng import RNGLike, as_generator, spawn
from spinlens.results import Result
from spinlens.spins.model import as_count, as_real

__all__ = ["BondDensity", "bond_density"]


@dataclass(frozen=True)
class BondDensity(Result):
    r"""The spectrum of :math:`J` against its shuffled null (:func:`bond_density`).

    Attributes
    ----------
    grid, density, null_density : the SLQ densities of :math:`J` and of the null on one grid (each integrates to 1).
    null_edge : top eigenvalue of the null's :math:`J`. ``top_eigenvalues`` : (k,) of :math:`J`, descending.
    n_outliers : eigenvalues of :math:`J` above ``null_edge * (1 + margin)`` among the ``k`` computed
        (``k`` itself means "at least k").
    tail_mass : fraction of the spectral mass of :math:`J` above ``null_edge`` (from the density).
    ipr : (k,) inverse participation ratio of each top eigenvector; ``layer_share`` (k, L) its weight per layer.
    layer_names : the neuron layers of ``layer_share``.
    """

    grid: np.ndarray
    density: np.ndarray
    null_density: np.ndarray
    null_edge: float
    top_eigenvalues: np.ndarray
    n_outliers: int
    tail_mass: float
    ipr: np.ndarray
    layer_share: np.ndarray
    layer_names: tuple
    margin: float


def _slq(J: Any, n_vectors: int, n_steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lanczos coefficients (alpha, beta) of ``n_vectors`` unit Rademacher starts on the sparse symmetric ``J``."""
    import torch

    from spinlens.landscape.hessian import lanczos

    n = J.shape[0]
    V = rng.choice([-1.0, 1.0], size=(n_vectors, n)) / np.sqrt(n)

    def mv(x: torch.Tensor) -> torch.Tensor:
        X = x.detach().cpu().numpy()
        return torch.from_numpy(np.ascontiguousarray((J @ X.T).T if X.ndim == 2 else J @ X))

    alpha, beta, _ = lanczos(mv, torch.from_numpy(V), min(n_steps, n), store_basis=False)
    return alpha, beta


def bond_density(graph: Any, *, k: int = 6, n_vectors: int = 4, n_steps: int = 80, n_grid: int = 400,
                 margin: float = 0.05, null: Any = None, rng: RNGLike = None) -> BondDensity:
    """Density, null bulk, outliers, tail mass and localisation of a network's bond matrix (module docstring).

    ``graph``: anything :func:`~spinlens.networks.reader.spin_graph` reads (a SpinGraph, module, state dict).
    ``null``: its shuffled null (:func:`~spinlens.networks.nulls.shuffled_graph`) when the caller has one already
    (the same null as its other analyses); drawn from ``rng`` otherwise.
    """
    from spinlens.landscape.hessian import slq_density
    from spinlens.networks.nulls import shuffled_graph
    from spinlens.networks.reader import spin_graph

    g = spin_graph(graph)
    n = g.n_spins
    k = as_count(k, "k (top eigenvalues)", minimum=1)
    n_vectors = as_count(n_vectors, "n_vectors", minimum=1)
    n_steps = as_count(n_steps, "n_steps", minimum=2)
    n_grid = as_count(n_grid, "n_grid", minimum=2)
    margin = as_real(margin, "margin", low=0.0)
    if n < 3:
        raise ValueError(f"bond_density needs at least 3 spins, got {n}.")
    r_shuffle, r_slq, r_null = spawn(rng, 3)
    J = g.model.csr()
    if null is not None and getattr(null, "n_spins", None) != n:
        raise ValueError(f"null must be a SpinGraph of the same {n} spins (shuffled_graph of graph).")
    null = (null if null is not None else shuffled_graph(g, r_shuffle)).model.csr()
    k = min(k, n - 2)
    vals, vecs = sla.eigsh(J, k=k, which="LA", tol=1e-8, v0=as_generator(0).standard_normal(n))
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    null_edge = float(sla.eigsh(null, k=1, which="LA", tol=1e-8, return_eigenvectors=False,
                                v0=as_generator(1).standard_normal(n))[0])
    a, b = _slq(J, n_vectors, n_steps, as_generator(r_slq))
    a0, b0 = _slq(null, n_vectors, n_steps, as_generator(r_null))
    nodes = np.concatenate([slq_density(a, b, 1.0, 2)[2].ravel(), slq_density(a0, b0, 1.0, 2)[2].ravel()])
    lo, hi = float(nodes.min()), float(max(nodes.max(), vals.max()))
    sig = 0.01 * max(hi - lo, 1e-12)
    grid = np.linspace(lo - 5 * sig, hi + 5 * sig, n_grid)
    _, dens, *_ = slq_density(a, b, sig, grid)
    _, dens0, *_ = slq_density(a0, b0, sig, grid)
    dx = grid[1] - grid[0]
    tail = float(np.sum(dens[grid > null_edge]) * dx)
    share = np.array([[float(np.sum(vecs[layer.slice, j] ** 2)) for layer in g.layers] for j in range(k)])
    return BondDensity(
        grid=grid,
        density=dens,
        null_density=dens0,
        null_edge=null_edge,
        top_eigenvalues=vals,
        n_outliers=int(np.sum(vals > null_edge * (1 + margin))),
        tail_mass=tail,
        ipr=np.sum(vecs**4, axis=0),
        layer_share=share,
        layer_names=tuple(layer.name for layer in g.layers),
        margin=float(margin),
    )
