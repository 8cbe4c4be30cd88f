r"""Nearest-neighbour lattices, chains and the Curie–Weiss (fully connected) model.

All builders return an :class:`~spinlens.spins.model.IsingModel` with
:math:`H = -J \sum_{\langle ij\rangle} s_i s_j - h \sum_i s_i`. Lattice spins are indexed in
row-major order; periodic lattices of linear size 2 get the two bonds between the same pair
added (a 2-site ring has two bonds).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spinlens.spins.model import IsingModel, LatticeGeometry, _describe, as_count, as_real

__all__ = ["hypercubic_lattice", "square_lattice", "cubic_lattice", "chain", "curie_weiss"]


def hypercubic_lattice(shape: tuple[int, ...], J: float = 1.0, h: float = 0.0, periodic: bool = True) -> IsingModel:
    """Uniform nearest-neighbour Ising model on a hypercubic lattice of the given ``shape``."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) == 0:
        raise ValueError(f"shape must be a non-empty tuple of lattice sides, got {_describe(shape)}.")
    shape = tuple(as_count(x, "lattice side") for x in shape)
    if any(L < 2 for L in shape):
        raise ValueError(f"every lattice dimension must be >= 2, got shape {shape}.")
    J, h = as_real(J, "J"), as_real(h, "h")
    n = int(np.prod(shape))
    idx = np.arange(n).reshape(shape)
    rows, cols = [], []
    for axis, L in enumerate(shape):
        nb = np.roll(idx, -1, axis=axis)
        a, b = idx, nb
        if not periodic:
            sl = [slice(None)] * len(shape)
            sl[axis] = slice(0, L - 1)
            a, b = idx[tuple(sl)], nb[tuple(sl)]
        rows.append(a.ravel())
        cols.append(b.ravel())
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    data = np.full(r.size, float(J))
    M = sp.coo_matrix((data, (r, c)), shape=(n, n)).tocsr()
    M = (M + M.T).tocsr()
    geom = LatticeGeometry(shape=shape, coupling=float(J), periodic=periodic) if min(shape) > 2 else None
    return IsingModel(M, np.full(n, float(h)), geometry=geom)


def square_lattice(L: int, J: float = 1.0, h: float = 0.0, periodic: bool = True) -> IsingModel:
    """L×L square lattice (sparse couplings, ``geometry`` set)."""
    L = as_count(L, "L")
    return hypercubic_lattice((L, L), J=J, h=h, periodic=periodic)


def cubic_lattice(L: int, J: float = 1.0, h: float = 0.0, periodic: bool = True) -> IsingModel:
    """L×L×L simple cubic lattice."""
    L = as_count(L, "L")
    return hypercubic_lattice((L,) * 3, J=J, h=h, periodic=periodic)


def chain(n: int, J: float = 1.0, h: float = 0.0, periodic: bool = True) -> IsingModel:
    """One-dimensional chain of ``n`` spins (a ring when ``periodic``)."""
    n = as_count(n, "n (number of spins of the chain)", minimum=2)
    return hypercubic_lattice((n,), J=J, h=h, periodic=periodic)


def curie_weiss(n: int, J: float = 1.0, h: float = 0.0) -> IsingModel:
    r"""Fully connected ferromagnet :math:`H = -(J/n)\sum_{i<j} s_i s_j - h\sum_i s_i` (dense)."""
    n = as_count(n, "n (number of spins)", minimum=2)
    J, h = as_real(J, "J"), as_real(h, "h")
    A = np.full((n, n), float(J) / n)
    np.fill_diagonal(A, 0.0)
    return IsingModel(A, np.full(n, float(h)))
