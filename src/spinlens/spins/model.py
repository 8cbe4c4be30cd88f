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

    def __post_init__(self) -> None:
        if isinstance(self.shape, (str, bytes)) or not hasattr(self.shape, "__len__") or len(self.shape) == 0:
            raise ValueError(f"shape must be a non-empty tuple of lattice sides, got {_describe(self.shape)}.")
        shape = tuple(as_count(x, "shape (lattice side)", minimum=2) for x in self.shape)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "coupling", as_real(self.coupling, "coupling"))

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
            h = as_real_array(self.h, "h", ndim=(0, 1), allow_empty=True, finite=False)
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
            if isinstance(self.layers, (str, bytes)) or not hasattr(self.layers, "__iter__"):
                raise ValueError(f"layers must be a sequence of group sizes, got {_describe(self.layers)}.")
            layers = tuple(as_count(x, "layers (group size)") for x in self.layers)
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

    @classmethod
    def _trusted(cls, J: Any, h: np.ndarray, layers: tuple[int, ...] | None = None) -> IsingModel:
        """Internal, for builders only: a model from couplings they guarantee valid, without the public checks.

        ``J`` must be a square float64 CSR matrix that is exactly symmetric, with sorted unique column indices, a zero
        diagonal and finite entries; ``h`` a finite float64 array of shape ``(n,)``; ``layers`` positive sizes
        summing to ``n``. The public constructor's checks cost several copies of ``J`` (the symmetry test
        ``J - J.T`` and the symmetrisation): memory of about five times ``J``. Here ``J`` is taken as it is (explicit
        zeros are dropped in place) and only made read-only. Cost: O(nnz) time, no copy.
        """
        if not (sp.issparse(J) and J.format == "csr" and J.dtype == np.float64 and J.shape[0] == J.shape[1]
                and J.has_sorted_indices and h.shape == (J.shape[0],) and h.dtype == np.float64):
            raise TypeError("IsingModel._trusted takes a square float64 CSR J with sorted indices and float64 h (n,).")
        if J.nnz and not np.all(J.data != 0.0):
            J.eliminate_zeros()
        J.data.setflags(write=False)
        h = h if not h.flags.writeable else h.copy()
        h.setflags(write=False)
        obj = object.__new__(cls)
        object.__setattr__(obj, "J", J)
        object.__setattr__(obj, "h", h)
        object.__setattr__(obj, "layers", None if layers is None else tuple(int(x) for x in layers))
        object.__setattr__(obj, "geometry", None)
        return obj

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
        if J.shape[0] == 0:
            raise ValueError("J is empty (0 spins); a model needs at least one spin.")
        if J.dtype.kind not in "biuf":
            raise ValueError(f"J must hold real numbers, got dtype {J.dtype}.")
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
    A = as_real_array(J, "J", allow_empty=True, finite=False)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"J must be a square (n, n) matrix, got shape {A.shape}.")
    if A.shape[0] == 0:
        raise ValueError("J is empty (0 spins); a model needs at least one spin.")
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


# ------------------------------------------------------------------ argument checks shared by the package
def _describe(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def as_count(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an int (>= ``minimum`` when given), refusing non-integral input (``2.5``, ``"4"``, ``True``,
    None, NaN) with a ``ValueError`` that names the argument."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    out: int | None = None
    if isinstance(value, (bool, np.bool_)):
        out = None
    elif isinstance(value, (int, np.integer)):
        out = int(value)
    elif isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        out = int(value)
    if out is None:
        need = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {need}, got {_describe(value)}.")
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {out}.")
    return out


def as_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float, optionally inside ``[low, high]`` (``low_open``/``high_open``: exclusive).

    Refuses bools, strings, None, complex numbers, sequences and NaN/inf with a ``ValueError`` naming ``name``.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {_describe(value)}.")
    x = float(value)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {x}.")
    bad_low = low is not None and (x <= low if low_open else x < low)
    bad_high = high is not None and (x >= high if high_open else x > high)
    if bad_low or bad_high:
        lo = "" if low is None else (f"> {low:g}" if low_open else f">= {low:g}")
        hi = "" if high is None else (f"< {high:g}" if high_open else f"<= {high:g}")
        raise ValueError(f"{name} must be {' and '.join(t for t in (lo, hi) if t)}, got {x:g}.")
    return x


def as_positive(value: Any, name: str) -> float:
    """A finite number > 0 (inverse temperatures, scales, rates)."""
    return as_real(value, name, low=0.0, low_open=True)


def as_real_array(value: Any, name: str, *, ndim: int | tuple[int, ...] | None = None,
                  shape: tuple[int | None, ...] | None = None, allow_empty: bool = False,
                  finite: bool = True) -> np.ndarray:
    """``value`` as a float64 array (a copy) with the given ``ndim``/``shape`` (None in ``shape``: any size).

    Refuses complex, boolean, string and object input, empty arrays (unless ``allow_empty``) and NaN/inf
    (unless ``finite=False``) with a ``ValueError`` naming ``name``.
    """
    if np.iscomplexobj(value):
        raise ValueError(f"{name} is complex; it must hold real numbers.")
    try:
        raw = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray(value, dtype=object)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a rectangular array of real numbers, got {_describe(value)}.") from None
    if raw.dtype == object and raw.ndim == 0 and not isinstance(raw[()], (int, float, np.number)):
        raise ValueError(f"{name} must be a real number or array of them, got {_describe(value)}.")
    if raw.dtype.kind not in "iuf":
        if raw.dtype.kind == "b":
            raise ValueError(f"{name} is boolean; pass numbers (e.g. {name}.astype(float)).")
        if raw.dtype.kind == "O":
            try:
                if any(not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, (bool, np.bool_))
                       for v in raw.ravel()):
                    raise TypeError
            except TypeError:
                raise ValueError(f"{name} must hold real numbers, got an array of objects.") from None
        else:
            raise ValueError(f"{name} must hold real numbers, got dtype {raw.dtype}.")
    A = np.array(raw, dtype=np.float64, copy=True)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if shape is not None:
        dims = (len(shape),)
    if dims is not None and A.ndim not in dims:
        want = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be {want}, got shape {A.shape}.")
    if shape is not None and any(w is not None and w != g for w, g in zip(shape, A.shape, strict=True)):
        want = "(" + ", ".join("any" if w is None else str(w) for w in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {A.shape}.")
    if A.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {A.shape}).")
    if finite and not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or inf; all entries must be finite numbers.")
    return A


def check_model(model: Any, name: str = "model") -> IsingModel:
    """``model`` if it is an :class:`IsingModel`, else a ``TypeError`` naming the argument."""
    if not isinstance(model, IsingModel):
        raise TypeError(f"{name} must be a spinlens IsingModel, got {type(model).__name__}.")
    return model


def as_spins(s: Any, n: int | None = None) -> np.ndarray:
    """Validate spins in {-1, +1} (shape ``(n,)`` or ``(b, n)``) and return them as int8."""
    if n is not None:
        n = as_count(n, "n (number of spins)", minimum=1)
    if isinstance(s, (str, bytes)) or s is None:
        raise ValueError(f"spins must be an array of -1/+1 values, got {_describe(s)}.")
    S = np.asarray(s)
    if S.dtype.kind == "b":
        raise ValueError("spins are boolean; pass -1/+1 values, e.g. s = 2 * x.astype(int) - 1.")
    if S.dtype.kind not in "iuf":
        raise ValueError(f"spins must be -1/+1 numbers, got dtype {S.dtype}.")
    if S.ndim not in (1, 2):
        raise ValueError(f"spins must have shape (n,) or (batch, n), got {S.shape}.")
    if S.size == 0:
        raise ValueError(f"spins are empty (shape {S.shape}).")
    if n is not None and S.shape[-1] != n:
        raise ValueError(f"spins have {S.shape[-1]} entries per state but the model has {n} spins.")
    if S.dtype != np.int8:
        if not np.all((S == 1) | (S == -1)):
            raise ValueError("spins must be -1 or +1; convert {0,1} data with s = 2*x - 1.")
        return S.astype(np.int8)
    if not np.all((S == 1) | (S == -1)):
        raise ValueError("spins must be -1 or +1; convert {0,1} data with s = 2*x - 1.")
    return S
