r"""The one core object: an Ising model :math:`H(s) = -\sum_{i<j} J_{ij} s_i s_j - \sum_i h_i s_i`.

Every source of couplings (lattices, SK disorder, Hopfield memories, Boltzmann machines,
trained neural networks) builds an :class:`IsingModel`; every solver (exact enumeration,
Monte Carlo, mean field/TAP) takes one. Temperature is never part of the model: solvers take
``beta``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

# dense float64 ndarray or scipy.sparse CSR (typed loosely: scipy.sparse has no precise stubs)
Couplings = Any

__all__ = ["IsingModel", "LatticeGeometry", "as_spins"]

_SYM_RTOL = 1e-10


@dataclass(frozen=True)
class LatticeGeometry:
    """Optional metadata of a uniform nearest-neighbour hypercubic lattice.

    Samplers may use it (checkerboard updates, multi-spin coding, cluster moves);
    spins are indexed in C (row-major) order over ``shape``.
    """

    shape: tuple[int, ...]
    coupling: float
    periodic: bool = True

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True, eq=False)
class IsingModel:
    r"""Ising model over ``n_spins`` spins :math:`s_i \in \{-1, +1\}`.

    .. math:: H(s) = -\sum_{i<j} J_{ij} s_i s_j - \sum_i h_i s_i
                   = -\tfrac12 s^\top J s - h^\top s

    Parameters
    ----------
    J : (n, n) array_like or scipy.sparse matrix
        Symmetric couplings with zero diagonal. Dense input stays a float64 ndarray,
        sparse input becomes float64 CSR with sorted indices and no explicit zeros.
    h : (n,) array_like, optional
        External fields; default zero.
    layers : sequence of int, optional
        Sizes of consecutive spin groups (e.g. the layers of a network mapped to spins).
        Metadata only; must sum to ``n_spins``.
    geometry : LatticeGeometry, optional
        Set by the lattice builders; lets samplers use lattice-specific kernels.

    Raises
    ------
    ValueError
        If ``J`` is not square, not symmetric, has a non-zero diagonal, contains NaN/inf,
        or if ``h`` has the wrong shape or non-finite entries.
    """

    J: Couplings
    h: Any = field(default=None)
    layers: tuple[int, ...] | None = None
    geometry: LatticeGeometry | None = None

    def __post_init__(self) -> None:
        J = _validate_couplings(self.J)
        n = J.shape[0]
        if self.h is None:
            h = np.zeros(n)
        else:
            if np.iscomplexobj(self.h):
                raise ValueError("h is complex; fields must be real numbers.")
            try:
                h = np.array(self.h, dtype=np.float64, copy=True)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"h must be a number or a numeric vector: {exc}") from None
            if h.ndim == 0:
                h = np.full(n, float(h))
            if h.shape != (n,):
                raise ValueError(
                    f"h has shape {h.shape} but J is {n}x{n}; pass one field per spin (shape ({n},)) or a scalar."
                )
            if not np.all(np.isfinite(h)):
                raise ValueError("h contains NaN or inf; all fields must be finite numbers.")
        h.setflags(write=False)
        layers = None
        if self.layers is not None:
            layers = tuple(int(x) for x in self.layers)
            if any(x <= 0 for x in layers) or sum(layers) != n:
                raise ValueError(
                    f"layers {layers} must be positive group sizes summing to n_spins = {n}."
                )
        object.__setattr__(self, "J", J)
        object.__setattr__(self, "h", h)
        object.__setattr__(self, "layers", layers)

    # ------------------------------------------------------------------ basic facts
    @property
    def n_spins(self) -> int:
        """Number of spins."""
        return int(self.J.shape[0])

    @property
    def is_sparse(self) -> bool:
        """True when ``J`` is stored as scipy.sparse CSR."""
        return sp.issparse(self.J)

    @property
    def has_field(self) -> bool:
        return bool(np.any(self.h != 0.0))

    def dense_J(self) -> np.ndarray:
        """Couplings as a dense float64 array (a copy for sparse models)."""
        return self.J.toarray() if sp.issparse(self.J) else self.J

    def csr(self) -> sp.csr_matrix:
        """Couplings as CSR (converted for dense models; zero entries dropped)."""
        return self.J if sp.issparse(self.J) else sp.csr_matrix(self.J)

    def coupling_square_sums(self) -> np.ndarray:
        r""":math:`d_i = \sum_k J_{ik}^2` (the Onsager reaction weights of TAP)."""
        if sp.issparse(self.J):
            return np.asarray(self.J.multiply(self.J).sum(axis=1)).ravel()
        return np.einsum("ij,ij->i", self.J, self.J)

    def is_ferromagnetic(self) -> bool:
        """All couplings non-negative (no frustration); required by cluster moves."""
        data = self.J.data if sp.issparse(self.J) else self.J
        return bool(np.all(np.asarray(data) >= 0.0))

    def layer_slices(self) -> list[slice]:
        """Slices of the spin groups given by ``layers`` (one group if unset)."""
        sizes = self.layers or (self.n_spins,)
        out, start = [], 0
        for s in sizes:
            out.append(slice(start, start + s))
            start += s
        return out

    # ------------------------------------------------------------------ physics
    def local_field(self, s: Any) -> np.ndarray:
        r"""Local fields :math:`\phi_i = \sum_j J_{ij} s_j + h_i`, for one state ``(n,)`` or a batch ``(b, n)``."""
        S = as_spins(s, self.n_spins).astype(np.float64)
        return (self.J @ S.T).T + self.h

    def energy(self, s: Any) -> np.ndarray | float:
        r"""Energy :math:`H(s) = -\tfrac12 s^\top J s - h^\top s`.

        ``s`` of shape ``(n,)`` gives a float, ``(b, n)`` an array of ``b`` energies.
        """
        S = as_spins(s, self.n_spins).astype(np.float64)
        single = S.ndim == 1
        S2 = np.atleast_2d(S)
        JS = np.asarray(self.J @ S2.T).T
        e = -0.5 * np.einsum("bi,bi->b", S2, JS) - S2 @ self.h
        return float(e[0]) if single else e

    def delta_energy(self, s: Any, i: int) -> float | np.ndarray:
        r"""Energy change of flipping spin ``i``: :math:`\Delta E = 2 s_i (\sum_j J_{ij} s_j + h_i)`."""
        S = as_spins(s, self.n_spins)
        if not 0 <= int(i) < self.n_spins:
            raise IndexError(f"spin index {i} out of range for {self.n_spins} spins")
        i = int(i)
        row = self.J[i].toarray().ravel() if sp.issparse(self.J) else self.J[i]
        if S.ndim == 1:
            return float(2.0 * S[i] * (row @ S + self.h[i]))
        return 2.0 * S[:, i] * (S @ row + self.h[i])

    def with_field(self, h: Any) -> IsingModel:
        """Same couplings, new fields."""
        return IsingModel(self.J, h, layers=self.layers, geometry=self.geometry)

    def __repr__(self) -> str:
        kind = f"sparse, nnz={self.J.nnz}" if self.is_sparse else "dense"
        return f"IsingModel(n_spins={self.n_spins}, {kind}, field={'yes' if self.has_field else 'no'})"


def _validate_couplings(J: Any) -> Couplings:
    if np.iscomplexobj(J):  # dense arrays, nested lists and scipy.sparse alike
        raise ValueError("J is complex; Ising couplings must be real numbers (pass J.real if that is meant).")
    if sp.issparse(J):
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise ValueError(f"J must be a square matrix, got shape {J.shape}.")
        M = sp.csr_matrix(J, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(M.data)):
            raise ValueError("J contains NaN or inf; all couplings must be finite numbers.")
        M.eliminate_zeros()
        M.sum_duplicates()
        M.sort_indices()
        if np.any(M.diagonal() != 0.0):
            raise ValueError(
                "J has a non-zero diagonal; self-couplings only add a constant to H. "
                "Remove them, e.g. J.setdiag(0); J.eliminate_zeros()."
            )
        diff = M - M.T
        scale = max(1.0, float(np.max(np.abs(M.data)))) if M.nnz else 1.0
        if diff.nnz and float(np.max(np.abs(diff.data))) > _SYM_RTOL * scale:
            asym = float(np.max(np.abs(diff.data)))
            raise ValueError(f"J is not symmetric (max |J - J^T| = {asym:.3g}); symmetrise it, e.g. (J + J.T) / 2.")
        M = ((M + M.T) * 0.5).tocsr()
        M.eliminate_zeros()
        M.sort_indices()
        M.data.setflags(write=False)
        return M
    try:
        A = np.array(J, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"J must be a numeric matrix: {exc}") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"J must be a square (n, n) matrix, got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ValueError("J contains NaN or inf; all couplings must be finite numbers.")
    if np.any(np.diag(A) != 0.0):
        raise ValueError(
            "J has a non-zero diagonal; self-couplings only add a constant to H. "
            "Remove them with np.fill_diagonal(J, 0)."
        )
    scale = max(1.0, float(np.max(np.abs(A)))) if A.size else 1.0
    asym = float(np.max(np.abs(A - A.T))) if A.size else 0.0
    if asym > _SYM_RTOL * scale:
        raise ValueError(f"J is not symmetric (max |J - J^T| = {asym:.3g}); symmetrise it, e.g. (J + J.T) / 2.")
    A = 0.5 * (A + A.T)
    A.setflags(write=False)
    return A


def as_count(value: Any, name: str) -> int:
    """``value`` as an int, refusing non-integral input (``2.5``, ``"4"``, ``True``) with a clear ``ValueError``."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise ValueError(f"{name} must be an integer, got {value!r}.")


def as_spins(s: Any, n: int | None = None) -> np.ndarray:
    """Validate spins in {-1, +1} (shape ``(n,)`` or ``(b, n)``) and return them as int8."""
    S = np.asarray(s)
    if S.ndim not in (1, 2):
        raise ValueError(f"spins must have shape (n,) or (batch, n), got {S.shape}.")
    if n is not None and S.shape[-1] != n:
        raise ValueError(f"spins have {S.shape[-1]} entries per state but the model has {n} spins.")
    if S.dtype != np.int8:
        if not np.all((S == 1) | (S == -1)):
            raise ValueError("spins must be -1 or +1; convert {0,1} data with s = 2*x - 1.")
        return S.astype(np.int8)
    if not np.all((S == 1) | (S == -1)):
        raise ValueError("spins must be -1 or +1; convert {0,1} data with s = 2*x - 1.")
    return S
