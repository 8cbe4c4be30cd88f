r"""Sampler configurations (NetKet style): immutable configs, state in and state out, explicit ``rng``.

Every sampler is a frozen dataclass with

``sample(model, beta, n_sweeps, state=None, rng=None) -> (Samples, state)``

where ``state`` is an ``(n_chains, n_spins)`` int8 array in {-1, +1} (``None``: independent random starts) and
``Samples`` holds the recorded energy and magnetisation time series (totals, not per spin), optionally the
configurations, and the acceptance rate. A sweep is ``n_spins`` attempted single-spin updates (for Wolff:
clusters until at least ``n_spins`` spins were flipped; for Swendsen–Wang: one full decomposition).

Samplers
--------
- :class:`MetropolisSampler` — sequential single-spin Metropolis (``rule="metropolis"``) or heat bath /
  Glauber (``rule="heatbath"``) on dense or sparse (CSR) couplings with incrementally updated local fields.
- :class:`CheckerboardSampler` — colour-class updates (a checkerboard on bipartite lattices), parallel over sites.
- :class:`MultiSpinSampler` — multi-spin coding, 64 spins per ``uint64`` word (sublattice packing), for the
  periodic 2D/3D nearest-neighbour lattice without field; independent random numbers per spin.
- :class:`MultiSpinReplicaSampler` — 64 replicas per word; ``random="independent"`` (independent chains) or
  ``random="shared"`` (one uniform per site and sweep for all 64 replicas: faster, but the replicas are
  *correlated* — each is a valid Markov chain, yet replicas that meet stay together, so they must not be
  treated as independent samples).
- :class:`WolffSampler`, :class:`SwendsenWangSampler` — cluster moves for ferromagnetic couplings.
"""
from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from spinlens._rng import RNGLike, as_generator
from spinlens.results import Result
from spinlens.sampling import _kernels as K
from spinlens.spins.model import IsingModel, as_count, as_positive, as_spins, check_model

__all__ = [
    "Samples",
    "MetropolisSampler",
    "CheckerboardSampler",
    "MultiSpinSampler",
    "MultiSpinReplicaSampler",
    "WolffSampler",
    "SwendsenWangSampler",
    "validate_run",
    "initial_state",
    "local_fields",
    "FieldState",
    "coupling_mode",
    "dense_storage",
    "check_coupling_dtype",
    "dense_couplings",
    "coupling_error",
    "COUPLING_DTYPES",
    "multispin_supported",
]


@dataclass(frozen=True)
class Samples(Result):
    """Raw output of one sampler call.

    Attributes
    ----------
    energy : (n_chains, n_records) float64 — total energy :math:`H(s)` of each record.
    magnetization : (n_chains, n_records) float64 — total magnetisation :math:`\\sum_i s_i`.
    states : (n_chains, n_records, n_spins) int8 or None — configurations when ``record_states=True``.
    acceptance : float — accepted single-spin flips per attempt (cluster samplers: mean flipped fraction).
    n_spins : int
    method : str
    """

    energy: np.ndarray
    magnetization: np.ndarray
    states: np.ndarray | None
    acceptance: float
    n_spins: int
    method: str
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- helpers
def validate_run(model: Any, beta: float, n_sweeps: int) -> tuple[float, int]:
    """Check the arguments every sampler shares; return ``(beta, n_sweeps)`` as float/int."""
    check_model(model)
    b = as_positive(beta, "beta (inverse temperature, T = 1/beta > 0)")
    return b, as_count(n_sweeps, "n_sweeps", minimum=1)


def _check_chain_args(n_chains: int, n_burn: int, thin: int) -> None:
    as_count(n_chains, "n_chains", minimum=1)
    as_count(n_burn, "n_burn", minimum=0)
    as_count(thin, "thin", minimum=1)


def initial_state(model: IsingModel, n_chains: int, state: Any, rng: np.random.Generator) -> np.ndarray:
    """``(n_chains, n)`` int8 start: random (``state=None``), a copy of ``state``, or one state tiled."""
    n = model.n_spins
    if state is None:
        return (2 * rng.integers(0, 2, size=(n_chains, n)) - 1).astype(np.int8)
    S = as_spins(state, n)
    if S.ndim == 1:
        S = np.tile(S, (n_chains, 1))
    if S.shape[0] != n_chains:
        raise ValueError(f"state has {S.shape[0]} chains but n_chains = {n_chains}; pass (n_chains, n) spins.")
    return np.array(S, dtype=np.int8, copy=True, order="C")


def _csr_arrays(model: IsingModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    M = model.csr()
    return (np.ascontiguousarray(M.indptr, dtype=np.int64), np.ascontiguousarray(M.indices, dtype=np.int64),
            np.ascontiguousarray(M.data, dtype=np.float64))


class FieldState(NamedTuple):
    """Local-field state of chains for :func:`run_single_spin` (updated in place by the kernels).

    ``P``: the float64 local fields :math:`\\phi = Js + h` (chains, n), or for fixed-point storage the exact
    integer sums :math:`P = Ds` with :math:`\\phi = h + \\delta P`; ``energies`` (chains,), ``mags`` (chains,);
    ``mode``: the storage of J the fields were made for (``None``: sparse CSR).
    """

    P: np.ndarray
    energies: np.ndarray
    mags: np.ndarray
    mode: str | None


def local_fields(model: IsingModel, S: np.ndarray, coupling_dtype: str = "auto") -> FieldState:
    """Field state of states ``S`` for :func:`run_single_spin` with the same ``coupling_dtype``.

    For fixed-point storage (``"int32"``/``"int16"``, dense models) the fields are exact integer sums and the
    energies those of the stored model; otherwise the fields and energies are computed from the exact J.
    """
    mode = coupling_mode(model, coupling_dtype)
    if mode in FIXED_POINT:
        D, scale = dense_couplings(model, mode)
        P = K.fixed_point_fields(D, S)
        E = -0.5 * scale * np.einsum("ci,ci->c", S.astype(np.float64), P) - S @ model.h
    else:
        Sf = S.astype(np.float64)
        P = np.ascontiguousarray(np.asarray(model.J @ Sf.T).T + model.h)
        E = -0.5 * np.einsum("ci,ci->c", Sf, P - model.h) - Sf @ model.h
    M = S.astype(np.int64).sum(axis=1)
    return FieldState(P, np.ascontiguousarray(E, dtype=np.float64), np.ascontiguousarray(M), mode)


def _seeds(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.integers(0, 2**63 - 1, size=k, dtype=np.int64).astype(np.uint64)


def _n_records(n_sweeps: int, n_burn: int, thin: int) -> int:
    return max(0, (n_sweeps - n_burn) // thin)


def _buffers(n_chains: int, T: int, n: int, record_states: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    E = np.zeros((n_chains, T))
    M = np.zeros((n_chains, T), dtype=np.int64)
    S = np.zeros((n_chains, T, n) if record_states else (n_chains, 0, n), dtype=np.int8)
    return E, M, S


COUPLING_DTYPES = ("auto", "float64", "float32", "int32", "int16")
_INT_MAX = {"int32": 2**31 - 1, "int16": 2**15 - 1}
FIXED_POINT = tuple(_INT_MAX)  # the integer storages: exact integer fields, phi = h + scale * P


class _PerModel:
    """Derived arrays of the one model sampled last (dense test, float32 / fixed-point copies of J).

    Keyed by ``id(model)`` and checked against ``model.J`` (models are immutable), so a long run that calls the
    sampler over and over pays for these once; a new model replaces the old entries. Safe with threads: a value
    is built outside the lock and stored only if the cache still holds the model it was built for.
    """

    def __init__(self) -> None:
        self.key: int | None = None
        self.J: Any = None
        self.items: dict[str, Any] = {}
        self.lock = threading.Lock()

    def _holds(self, model: IsingModel) -> bool:
        return self.key == id(model) and self.J is model.J

    def get(self, model: IsingModel, name: str, build: Any) -> Any:
        with self.lock:
            if not self._holds(model):
                self.key, self.J, self.items = id(model), model.J, {}
            if name in self.items:
                return self.items[name]
        value = build()
        with self.lock:
            if self._holds(model):
                self.items.setdefault(name, value)
        return value


_PER_MODEL = _PerModel()


def _is_dense(model: IsingModel) -> bool:
    if model.is_sparse:
        return False
    n = model.n_spins
    return bool(_PER_MODEL.get(model, "dense", lambda: np.count_nonzero(model.J) > 0.25 * n * n))


def coupling_mode(model: IsingModel, coupling_dtype: str = "auto") -> str | None:
    """The storage of J the single-spin kernel uses: ``None`` (sparse CSR) or one of ``COUPLING_DTYPES[1:]``.

    ``"auto"`` takes exact float64 up to n = 1024 (J up to 8 MB) and int32 fixed point above.
    """
    if not _is_dense(model):
        check_coupling_dtype(coupling_dtype)
        return None
    return dense_storage(model.n_spins, coupling_dtype)


def check_coupling_dtype(coupling_dtype: str) -> str:
    """``coupling_dtype`` itself, or a ValueError naming the choices."""
    if coupling_dtype not in COUPLING_DTYPES:
        raise ValueError(f"coupling_dtype must be one of {COUPLING_DTYPES}, got {coupling_dtype!r}.")
    return coupling_dtype


def dense_storage(n: int, coupling_dtype: str = "auto") -> str:
    """The storage ``coupling_dtype`` means for a dense model of ``n`` spins (resolves ``"auto"``)."""
    if check_coupling_dtype(coupling_dtype) == "auto":
        return "int32" if n > 1024 else "float64"
    return coupling_dtype


def dense_couplings(model: IsingModel, mode: str) -> tuple[np.ndarray, float]:
    r"""``(D, scale)`` with :math:`J \approx \text{scale}\,D` for the dense single-spin kernel (cached per model).

    float64/float32: ``D`` is J (rounded to float32) and ``scale = 1``. int32/int16 (fixed point): one scale
    :math:`\delta` for all couplings, :math:`D = \mathrm{round}(J/\delta)`, so the stored model
    :math:`\delta D` is symmetric and every local-field sum is an exact integer. int16 takes
    :math:`\delta = \max|J| / 32767` (16 bits for the largest coupling); int32
    :math:`\delta = \max(\max|J|/2^{30},\ \max_i\sum_j|J_{ij}| / (2^{31}-1-n))`, so that with rounding
    :math:`\max_i\sum_j |D_{ij}| < 2^{31}` (no overflow of the int32 fields). Each coupling moves by at most
    :math:`\delta/2`, the energy of any state by at most :math:`\tfrac12\sum_{ij}|J_{ij} - \delta D_{ij}|`
    (:func:`coupling_error`).
    """
    def build() -> tuple[np.ndarray, float]:
        J = np.asarray(model.J)
        if mode == "float64":
            return np.ascontiguousarray(J), 1.0
        if mode == "float32":
            return np.ascontiguousarray(J, dtype=np.float32), 1.0
        n = model.n_spins
        A = np.abs(J)
        top = float(A.max())
        if top == 0.0:
            return np.zeros((n, n), dtype=mode), 1.0
        if mode == "int16":
            delta = top / _INT_MAX["int16"]
        else:
            delta = max(top / 2**30, float(A.sum(axis=1).max()) / (_INT_MAX["int32"] - n))
        D = np.rint(J / delta)
        if float(np.abs(D).sum(axis=1).max()) > _INT_MAX["int32"]:
            raise ValueError(f"n = {n} is too large for int16 couplings (int32 local-field sums would overflow); "
                             "use coupling_dtype='int32'.")
        return np.ascontiguousarray(D.astype(mode)), delta

    if mode not in COUPLING_DTYPES[1:]:
        raise ValueError(f"unknown coupling storage {mode!r}.")
    return _PER_MODEL.get(model, mode, build)  # type: ignore[no-any-return]


def coupling_error(model: IsingModel, coupling_dtype: str = "auto") -> tuple[float, float]:
    r"""How far the stored couplings are from J: ``(max |J_ij - scale D_ij|, bound on |H_stored(s) - H(s)|)``.

    The energy bound :math:`\tfrac12\sum_{ij}|J_{ij} - \text{scale}\,D_{ij}|` holds for every state ``s``.
    """
    mode = coupling_mode(model, coupling_dtype)
    if mode is None or mode == "float64":
        return 0.0, 0.0
    D, scale = dense_couplings(model, mode)
    R = np.abs(np.asarray(model.J) - scale * D.astype(np.float64))
    return float(R.max()), 0.5 * float(R.sum())


# ------------------------------------------------------------------------------------ single spin
@dataclass(frozen=True)
class MetropolisSampler:
    r"""Sequential single-spin Metropolis or heat-bath (Glauber) sampler for any :class:`IsingModel`.

    Local fields :math:`\phi_i = \sum_j J_{ij}s_j + h_i` are updated incrementally after each accepted flip
    (:math:`O(\text{row})` work), :math:`\Delta E_i = 2 s_i\phi_i`. Metropolis accepts with
    :math:`\min(1, e^{-\beta\Delta E})`, heat bath with :math:`1/(1+e^{\beta\Delta E})` (Metropolis et al. 1953;
    Glauber 1963). Dense couplings use contiguous row updates, sparse ones CSR.

    ``coupling_dtype`` (dense models): a row of J is read once per accepted flip, so large dense models are
    bound by memory bandwidth and the storage of J sets the speed (:func:`dense_couplings`):

    - ``"float64"``: the couplings exactly;
    - ``"float32"``: J rounded to float32 (relative change <= 6e-8), fields accumulated in float64;
    - ``"int32"``: fixed point :math:`J \approx \delta D` with one scale and exact integer local fields (they
      never drift); for SK at n = 2000 each coupling moves by at most 1e-6 of its typical size; faster than
      float32 rows (one row is as wide, and no conversion is needed);
    - ``"int16"``: 16-bit fixed point, :math:`\delta = \max|J|/32767`, about 1.5-2x faster again; couplings
      move by up to 2e-4 of their typical size, so only for runs where that is far below the statistical error
      (:func:`coupling_error` gives the exact bound on the energy change of any state);
    - ``"auto"`` (default): float64 up to n = 1024, int32 above.

    With fixed point the chain samples the Boltzmann law of the stored couplings :math:`\delta D` exactly and
    records their energies (accumulated in float64, as for exact couplings). With float32 rows the fields start
    from the exact J and move by the rounded rows.
    """

    rule: str = "metropolis"
    n_chains: int = 4
    n_burn: int = 0
    thin: int = 1
    record_states: bool = False
    coupling_dtype: str = "auto"

    def __post_init__(self) -> None:
        if self.rule not in ("metropolis", "heatbath"):
            raise ValueError(f"rule must be 'metropolis' or 'heatbath', got {self.rule!r}.")
        check_coupling_dtype(self.coupling_dtype)
        _check_chain_args(self.n_chains, self.n_burn, self.thin)

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        g = as_generator(rng)
        S = initial_state(model, self.n_chains, state, g)
        betas = np.full(self.n_chains, beta)
        E, M, acc, St = run_single_spin(model, S, betas, n_sweeps, self.n_burn, self.thin,
                                        self.rule == "heatbath", self.record_states, g,
                                        coupling_dtype=self.coupling_dtype)
        n = model.n_spins
        return Samples(E, M.astype(np.float64), St if self.record_states else None,
                       float(acc.sum()) / (self.n_chains * n * n_sweeps), n, self.rule), S


def run_single_spin(model: IsingModel, S: np.ndarray, betas: np.ndarray, n_sweeps: int, n_burn: int, thin: int,
                    heatbath: bool, record_states: bool, g: np.random.Generator,
                    cache: FieldState | None = None,
                    coupling_dtype: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the single-spin kernel on states ``S`` (modified in place) at per-chain ``betas``.

    ``cache`` = ``local_fields(model, S, coupling_dtype)`` consistent with ``S`` (updated in place) avoids
    recomputing the local fields. Returns ``(E_out, M_out, accepted, S_out)``.
    """
    n_chains, n = S.shape
    T = _n_records(n_sweeps, n_burn, thin)
    E_out, M_out, S_out = _buffers(n_chains, T, n, record_states)
    mode = coupling_mode(model, coupling_dtype)
    state = cache if cache is not None else local_fields(model, S, coupling_dtype)
    if state.mode != mode:
        raise ValueError(f"the field cache was made for coupling storage {state.mode!r}, not {mode!r}; "
                         "build it with local_fields(model, S, coupling_dtype).")
    P, energies, mags = state.P, state.energies, state.mags
    seeds = _seeds(g, n_chains)
    if mode is None:
        ip, ix, dat = _csr_arrays(model)
        acc = K.single_spin_csr(ip, ix, dat, model.h, S, P, energies, mags, betas, n_sweeps, n_burn, thin,
                                heatbath, seeds, E_out, M_out, S_out, record_states)
        return E_out, M_out, acc, S_out
    D, scale = dense_couplings(model, mode)
    fixed = mode in FIXED_POINT
    h = model.h if fixed else np.zeros(n)  # float storage: P holds the whole local field
    acc = K.single_spin_dense(D, scale, h, S, P, energies, mags, betas, n_sweeps, n_burn, thin, heatbath,
                              seeds, E_out, M_out, S_out, record_states)
    return E_out, M_out, acc, S_out


# ------------------------------------------------------------------------------------ checkerboard
@dataclass(frozen=True)
class CheckerboardSampler:
    """Checkerboard (graph-colouring) updates: sites of one colour share no coupling and update together.

    On a bipartite lattice (even periodic sizes) the greedy colouring is the two-colour checkerboard; on any
    other graph it is a valid colouring with more classes. The update of each class runs in parallel
    (numba ``prange``) with counter-based random numbers, so results do not depend on the thread count.
    """

    rule: str = "metropolis"
    n_chains: int = 4
    n_burn: int = 0
    thin: int = 1
    record_states: bool = False

    def __post_init__(self) -> None:
        if self.rule not in ("metropolis", "heatbath"):
            raise ValueError(f"rule must be 'metropolis' or 'heatbath', got {self.rule!r}.")
        _check_chain_args(self.n_chains, self.n_burn, self.thin)

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        g = as_generator(rng)
        S = initial_state(model, self.n_chains, state, g)
        ip, ix, dat = _csr_arrays(model)
        col = K.greedy_colouring(ip, ix)
        order = np.argsort(col, kind="stable").astype(np.int64)
        ptr = np.concatenate([[0], np.cumsum(np.bincount(col))]).astype(np.int64)
        n = model.n_spins
        T = _n_records(n_sweeps, self.n_burn, self.thin)
        E, M, St = _buffers(self.n_chains, T, n, self.record_states)
        seed = int(g.integers(0, 2**62))
        kern = K.checkerboard_sweeps if n >= 4096 else K.checkerboard_sweeps_serial
        acc = kern(ip, ix, dat, model.h, order, ptr, S, beta, n_sweeps, self.n_burn, self.thin,
                                    self.rule == "heatbath", seed, 0, E, M, St, self.record_states)
        return Samples(E, M.astype(np.float64), St if self.record_states else None,
                       float(acc.sum()) / (self.n_chains * n * n_sweeps), n, "checkerboard",
                       {"n_colours": int(ptr.size - 1)}), S


# ------------------------------------------------------------------------------------------ clusters
def _require_ferromagnetic(model: IsingModel, name: str) -> None:
    if not model.is_ferromagnetic():
        raise ValueError(
            f"{name} cluster moves need ferromagnetic couplings (all J_ij >= 0), but this model has negative "
            "couplings (frustration possible). Use method='metropolis', 'heatbath' or 'tempering' instead."
        )


@dataclass(frozen=True)
class WolffSampler:
    r"""Wolff single-cluster algorithm (Wolff 1989) for ferromagnetic couplings (any graph, any J_ij >= 0).

    Aligned neighbours join the cluster with :math:`p_{ij} = 1 - e^{-2\beta J_{ij}}`; with fields the cluster
    flip is accepted with :math:`\min(1, e^{-\beta\Delta E_h})`. One sweep flips clusters until at least
    ``n_spins`` spins were flipped *on average*: ``clusters_per_sweep`` (fixed in advance, so that the
    measurement times do not depend on the state) is ``ceil(n / <cluster size>)`` from a short pilot run when
    not given. Raises ``ValueError`` for models with negative couplings.
    """

    n_chains: int = 4
    n_burn: int = 0
    thin: int = 1
    record_states: bool = False
    clusters_per_sweep: int | None = None

    def __post_init__(self) -> None:
        _check_chain_args(self.n_chains, self.n_burn, self.thin)

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        _require_ferromagnetic(model, "Wolff")
        g = as_generator(rng)
        S = initial_state(model, self.n_chains, state, g)
        ip, ix, dat = _csr_arrays(model)
        n = model.n_spins
        T = _n_records(n_sweeps, self.n_burn, self.thin)
        E, M, St = _buffers(self.n_chains, T, n, self.record_states)
        k = self.clusters_per_sweep
        if k is None:
            k = self.pilot_clusters_per_sweep(model, beta, S, g)
        out = K.wolff_sweeps(ip, ix, dat, model.h, S, beta, n_sweeps, self.n_burn, self.thin, _seeds(g, self.n_chains),
                             E, M, St, self.record_states, int(k))
        n_cl, flipped = int(out[0]), int(out[1])
        return Samples(E, M.astype(np.float64), St if self.record_states else None,
                       flipped / max(1, self.n_chains * n * n_sweeps), n, "wolff",
                       {"mean_cluster_size": int(out[2]) / max(1, n_cl), "clusters_per_sweep": int(k)}), S

    @staticmethod
    def pilot_clusters_per_sweep(model: IsingModel, beta: float, S: np.ndarray, g: np.random.Generator,
                                 n_pilot: int = 10) -> int:
        """``ceil(n / mean cluster size)`` from ``n_pilot`` adaptive sweeps on ``S`` (modified: valid moves)."""
        ip, ix, dat = _csr_arrays(model)
        c, n = S.shape
        E, M, St = _buffers(c, 0, n, False)
        out = K.wolff_sweeps(ip, ix, dat, model.h, S, beta, n_pilot, n_pilot, 1, _seeds(g, c), E, M, St, False, 0)
        mean_size = max(1.0, float(out[2]) / max(1, int(out[0])))
        return max(1, int(math.ceil(n / mean_size)))


@dataclass(frozen=True)
class SwendsenWangSampler:
    r"""Swendsen–Wang multi-cluster algorithm (Swendsen & Wang 1987) for ferromagnetic couplings.

    Aligned bonds are activated with :math:`1 - e^{-2\beta J_{ij}}`; every cluster is flipped with probability
    1/2 (heat bath in the cluster's field energy when fields are present). Raises ``ValueError`` on negative J.
    """

    n_chains: int = 4
    n_burn: int = 0
    thin: int = 1
    record_states: bool = False

    def __post_init__(self) -> None:
        _check_chain_args(self.n_chains, self.n_burn, self.thin)

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        _require_ferromagnetic(model, "Swendsen-Wang")
        g = as_generator(rng)
        S = initial_state(model, self.n_chains, state, g)
        ip, ix, dat = _csr_arrays(model)
        n = model.n_spins
        T = _n_records(n_sweeps, self.n_burn, self.thin)
        E, M, St = _buffers(self.n_chains, T, n, self.record_states)
        n_cl = K.swendsen_wang_sweeps(ip, ix, dat, model.h, S, beta, n_sweeps, self.n_burn, self.thin,
                                      _seeds(g, self.n_chains), E, M, St, self.record_states)
        return Samples(E, M.astype(np.float64), St if self.record_states else None, float("nan"), n,
                       "swendsen-wang", {"mean_clusters_per_sweep": n_cl / max(1, self.n_chains * n_sweeps)}), S


# --------------------------------------------------------------------------------- multi-spin coding
def multispin_supported(model: IsingModel) -> str | None:
    """``None`` when multi-spin coding applies to ``model``, else the reason why not."""
    g = check_model(model).geometry
    if g is None:
        return "the model has no lattice geometry (build it with spinlens.spins.square_lattice/cubic_lattice)"
    if g.ndim not in (2, 3):
        return f"multi-spin coding supports 2D and 3D lattices, got {g.ndim}D"
    if not g.periodic:
        return "multi-spin coding needs periodic boundaries"
    if any(L % 2 for L in g.shape) or min(g.shape) < 4:
        return f"multi-spin coding needs even lattice sizes >= 4, got shape {g.shape}"
    if model.has_field:
        return "multi-spin coding supports zero field only"
    if g.coupling == 0.0:
        return "the lattice coupling is zero"
    return None


def _lattice_rows(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows (lines along the last axis): neighbour-row table ``(R, 2(d-1))`` [forward..., backward...], parity."""
    other = shape[:-1]
    R = int(np.prod(other))
    coords = np.indices(other).reshape(len(other), R)
    par = (coords.sum(axis=0) % 2).astype(np.int64)
    fwd, bwd = [], []
    for a, La in enumerate(other):
        c = coords.copy()
        c[a] = (c[a] + 1) % La
        fwd.append(np.ravel_multi_index(tuple(c), other))
        c = coords.copy()
        c[a] = (c[a] - 1) % La
        bwd.append(np.ravel_multi_index(tuple(c), other))
    nbr = np.ascontiguousarray(np.stack(fwd + bwd, axis=1).astype(np.int64))
    return nbr, par


def _bits_per_word(m: int) -> int:
    return max(d for d in range(1, 65) if m % d == 0)


def _thresholds(beta: float, J: float, z: int) -> np.ndarray:
    """53-bit integer thresholds ``P[a] = floor(2^53 exp(-2 beta |J| (z - 2a)))`` for a < z/2 (3 entries)."""
    P = np.zeros(3, dtype=np.uint64)
    for a in range(z // 2):
        if a < 3:
            P[a] = np.uint64(int(math.exp(-2.0 * beta * abs(J) * (z - 2 * a)) * 2.0**53))
    return P


def pack_sublattices(s: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Pack one lattice state ``(n,)`` into black/white sublattice words (see ``msc_sublattice_sweeps``)."""
    L = shape[-1]
    R = int(np.prod(shape[:-1]))
    _, par = _lattice_rows(shape)
    m = L // 2
    nb = _bits_per_word(m)
    nw = m // nb
    grid = s.reshape(R, L)
    j = np.arange(m)
    xb = 2 * j[None, :] + par[:, None]
    xw = 2 * j[None, :] + 1 - par[:, None]
    rows = np.arange(R)[:, None]
    shifts = np.arange(nb, dtype=np.uint64)[None, :, None]
    out = []
    for x in (xb, xw):
        bits = (grid[rows, x] == 1).astype(np.uint64).reshape(R, nb, nw)
        out.append(np.ascontiguousarray(np.bitwise_or.reduce(bits << shifts, axis=1)))
    return out[0], out[1], nb


def unpack_sublattices(B: np.ndarray, W: np.ndarray, shape: tuple[int, ...], nb: int) -> np.ndarray:
    """Inverse of :func:`pack_sublattices`: int8 state ``(n,)``."""
    L = shape[-1]
    R = int(np.prod(shape[:-1]))
    _, par = _lattice_rows(shape)
    m = L // 2
    grid = np.empty((R, L), dtype=np.int8)
    j = np.arange(m)
    rows = np.arange(R)[:, None]
    shifts = np.arange(nb, dtype=np.uint64)[None, :, None]
    for X, x in ((B, 2 * j[None, :] + par[:, None]), (W, 2 * j[None, :] + 1 - par[:, None])):
        bits = ((X[:, None, :] >> shifts) & np.uint64(1)).reshape(R, m)
        grid[rows, x] = (2 * bits.astype(np.int8) - 1)
    return grid.reshape(-1)


@dataclass(frozen=True)
class MultiSpinSampler:
    r"""Multi-spin coded Metropolis for one periodic 2D/3D nearest-neighbour lattice (64 spins per word).

    The lattice is split into its two checkerboard sublattices and each sublattice line is packed into
    ``uint64`` words so that the neighbours of a word are whole words of the other sublattice (or one-bit
    rotations at the line ends). A bit-sliced counter gives the number ``a`` of unsatisfied bonds of all 64
    spins at once; spins with :math:`\Delta E = 2|J|(z-2a) \le 0` flip, the others flip when their *own*
    53-bit uniform (compared bit-serially, about 8 random words per 64 spins) is below
    :math:`e^{-\beta\Delta E}`. Every spin therefore follows exact single-spin Metropolis with independent
    randomness (Jacobs & Rebbi 1981; Preis et al. 2009 for the sublattice layout).
    Needs: ``model.geometry`` periodic, even sizes >= 4, zero field (see :func:`multispin_supported`).
    """

    n_chains: int = 4
    n_burn: int = 0
    thin: int = 1

    def __post_init__(self) -> None:
        _check_chain_args(self.n_chains, self.n_burn, self.thin)

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        why = multispin_supported(model)
        if why is not None:
            raise ValueError(f"method 'multispin' does not apply: {why}. Use 'checkerboard' or 'metropolis'.")
        geom = model.geometry
        assert geom is not None
        g = as_generator(rng)
        S = initial_state(model, self.n_chains, state, g)
        shape = geom.shape
        nbr, par = _lattice_rows(shape)
        z = 2 * len(shape)
        P = _thresholds(beta, geom.coupling, z)
        T = _n_records(n_sweeps, self.n_burn, self.thin)
        E = np.zeros((self.n_chains, T))
        M = np.zeros((self.n_chains, T), dtype=np.int64)
        flips = 0
        for c in range(self.n_chains):
            B, W, nb = pack_sublattices(S[c], shape)
            flips += K.msc_sublattice_sweeps(B, W, nbr, par, nb, geom.coupling < 0, P, n_sweeps, self.n_burn,
                                             self.thin, int(g.integers(0, 2**62)), E[c], M[c], z,
                                             abs(geom.coupling))
            S[c] = unpack_sublattices(B, W, shape, nb)
        n = model.n_spins
        return Samples(E, M.astype(np.float64), None, flips / (self.n_chains * n * n_sweeps), n, "multispin"), S


def pack_replicas(S: np.ndarray) -> np.ndarray:
    """``(64 k, n)`` int8 replicas → ``(k, n)`` uint64 words (bit ``b`` of word ``w`` = replica ``64 w + b``)."""
    r, n = S.shape
    k = r // 64
    out = np.empty((k, n), dtype=np.uint64)
    for w in range(k):
        bits = np.ascontiguousarray((S[64 * w : 64 * (w + 1)] == 1).T)  # (n, 64) bool
        out[w] = np.packbits(bits, axis=1, bitorder="little").view("<u8").reshape(n)
    return out


def unpack_replicas(words: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_replicas`."""
    k, n = words.shape
    out = np.empty((64 * k, n), dtype=np.int8)
    for w in range(k):
        bits = np.unpackbits(np.ascontiguousarray(words[w]).astype("<u8").view(np.uint8).reshape(n, 8), axis=1,
                             bitorder="little")  # (n, 64)
        out[64 * w : 64 * (w + 1)] = 2 * bits.T.astype(np.int8) - 1
    return out


@dataclass(frozen=True)
class MultiSpinReplicaSampler:
    r"""64 replicas of one periodic 2D/3D lattice per ``uint64`` word (replica packing).

    Bit ``b`` of word ``i`` is spin ``i`` of replica ``b``; a sequential (typewriter) Metropolis sweep updates
    site ``i`` of all 64 replicas with a handful of bit operations. Randomness:

    * ``random="independent"`` — every replica uses its own uniforms (bit-serial comparison): the replicas are
      independent Markov chains.
    * ``random="shared"`` — one uniform per site and sweep for all replicas (one random number per 64 spin
      updates). Each replica is still a valid Metropolis chain with the right stationary distribution, but the
      replicas are **correlated**: two replicas that reach the same configuration stay identical forever, and
      replicas in general coalesce over time. Average over them only as you would over a single chain.

    ``n_chains`` must be at most 64 (the first ``n_chains`` bit-replicas are reported; the others come for
    free) or a multiple of 64.
    """

    n_chains: int = 64
    random: str = "independent"
    n_burn: int = 0
    thin: int = 1

    def __post_init__(self) -> None:
        _check_chain_args(self.n_chains, self.n_burn, self.thin)
        if self.random not in ("independent", "shared"):
            raise ValueError(f"random must be 'independent' or 'shared', got {self.random!r}.")
        if self.n_chains > 64 and self.n_chains % 64:
            raise ValueError(f"n_chains must be <= 64 or a multiple of 64 for replica packing, got {self.n_chains}.")

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        why = multispin_supported(model)
        if why is not None:
            raise ValueError(f"method 'multispin-replicas' does not apply: {why}.")
        geom = model.geometry
        assert geom is not None
        g = as_generator(rng)
        n = model.n_spins
        S = initial_state(model, self.n_chains, state, g)
        n_tot = max(64, self.n_chains)
        full = np.concatenate([S, (2 * g.integers(0, 2, size=(n_tot - S.shape[0], n)) - 1).astype(np.int8)])
        words = pack_replicas(full)
        shape = geom.shape
        nbr, _ = _lattice_rows(shape)
        z = 2 * len(shape)
        P = _thresholds(beta, geom.coupling, z)
        T = _n_records(n_sweeps, self.n_burn, self.thin)
        bad = np.zeros((words.shape[0], T, 64), dtype=np.int64)
        up = np.zeros((words.shape[0], T, 64), dtype=np.int64)
        for w in range(words.shape[0]):
            K.msc_replica_sweeps(words[w], nbr, shape[-1], geom.coupling < 0, P, self.random == "shared", n_sweeps,
                                 self.n_burn, self.thin, int(g.integers(0, 2**62)), bad[w], up[w], z)
        n_bonds = z * n // 2
        sign = -1.0 if geom.coupling > 0 else 1.0
        Jabs = abs(geom.coupling)
        E = sign * Jabs * (n_bonds - 2.0 * bad.transpose(0, 2, 1).reshape(n_tot, T))
        M = 2.0 * up.transpose(0, 2, 1).reshape(n_tot, T) - n
        S_new = unpack_replicas(words)[: self.n_chains]
        return Samples(E[: self.n_chains], M[: self.n_chains], None, float("nan"), n,
                       f"multispin-replicas-{self.random}"), np.ascontiguousarray(S_new)


SAMPLERS: dict[str, Any] = {
    "metropolis": lambda **kw: MetropolisSampler(rule="metropolis", **kw),
    "heatbath": lambda **kw: MetropolisSampler(rule="heatbath", **kw),
    "checkerboard": lambda **kw: CheckerboardSampler(**kw),
    "multispin": lambda **kw: MultiSpinSampler(**{k: v for k, v in kw.items() if k != "record_states"}),
    "wolff": lambda **kw: WolffSampler(**kw),
    "swendsen-wang": lambda **kw: SwendsenWangSampler(**kw),
}


def replace(cfg: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` for sampler configs."""
    return dataclasses.replace(cfg, **changes)
