r"""Null models of a network's couplings: what the phase would be without learned structure.

A checkpoint's :math:`T_c` can grow because training built structure into the couplings (hidden order) or only
because the weights grew. Two nulls separate the two (issue "The flagship as a rigorous reproduction", item 2):

* **Entry-shuffled couplings** (:func:`shuffled_graph`): within every coupling block the stored couplings are
  permuted at random over the block's stored positions. Each block keeps its sparsity pattern and the exact
  multiset of its values (hence its variance and every moment), but any arrangement — a low-rank spike, aligned
  rows, the weight sharing of a convolution — is destroyed. Its stability :math:`T_c` is the glass temperature of
  the same weight statistics.
* **Variance prediction**: the initialisation theory (:func:`~spinlens.networks.theory.init_theory`) evaluated on
  the checkpoint's *current* per-block second moments: for an MLP the layered-SK formula
  :math:`T_c^2 = \lambda_{\max}(M)`, :math:`M_{ab} = n_b\,\overline{W_{ab}^2}` (Barney, Winer & Galitski,
  arXiv:2408.06421).

Hidden order is learned structure only where the measured :math:`T_c` exceeds both nulls. Cost: the shuffle is
:math:`O(\mathrm{nnz})`; its stability curve costs as much as the checkpoint's own.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from spinlens._rng import RNGLike, as_generator
from spinlens.networks.graph import CouplingBlock, SpinGraph
from spinlens.spins import IsingModel

__all__ = ["shuffled_graph", "graph_from_blocks"]


def graph_from_blocks(graph: SpinGraph, matrices: list[Any], note: str) -> SpinGraph:
    r"""``graph`` with its coupling blocks replaced by ``matrices`` (same shapes, same order): :math:`J` is
    assembled sparse from the blocks, :math:`J_{d\ell} = A`, :math:`J_{\ell d} = A^\top`; no fields."""
    offsets = {layer.name: layer.offset for layer in graph.layers}
    n = graph.n_spins
    rows, cols, vals = [], [], []
    blocks = []
    for b, M in zip(graph.blocks, matrices, strict=True):
        C = sp.coo_matrix(M)
        if C.shape != b.matrix.shape:
            raise ValueError(f"block {b.src} -> {b.dst} has shape {b.matrix.shape}, got {C.shape}.")
        r, c = C.row + offsets[b.dst], C.col + offsets[b.src]
        rows += [r, c]
        cols += [c, r]
        vals += [C.data, C.data]
        blocks.append(CouplingBlock(b.src, b.dst, sp.csr_matrix(M)))
    J = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    J.sum_duplicates()
    model = IsingModel(J, np.zeros(n), layers=tuple(layer.size for layer in graph.layers))
    return SpinGraph(model=model, layers=graph.layers, blocks=tuple(blocks), fields=np.zeros(n),
                     notes=(*graph.notes, note))


def shuffled_graph(graph: SpinGraph, rng: RNGLike = None) -> SpinGraph:
    """The entry-shuffled null: every block's stored couplings permuted over its stored positions (module
    docstring). Same layers, sparsity patterns and per-block value multisets; no fields."""
    g = as_generator(rng)
    mats = []
    for b in graph.blocks:
        M = sp.csr_matrix(b.matrix, copy=True)
        M.data = g.permutation(np.asarray(M.data, dtype=np.float64))
        mats.append(M)
    return graph_from_blocks(graph, mats, "null model: couplings shuffled within each block.")
