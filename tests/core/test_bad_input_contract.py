"""The bad-input contract of every public entry point (issue #17, item 15).

Every callable in the ``__all__`` of :mod:`spinlens` and its subpackages that takes array or number
input has a row in :data:`TABLE`: a builder of *valid* arguments and a list of *mutations*, each
replacing one argument by a hypothesis-generated bad value (wrong shape/ndim, non-symmetric J,
complex/object/bool/str dtype where numbers are expected, NaN/inf, empty arrays, zero or negative
beta and sizes, wrong types, wrong files). The contract:

* the call raises ``ValueError`` or ``TypeError`` (``FileNotFoundError`` only for a missing file),
  never another type (IndexError, ZeroDivisionError, LinAlgError, numpy's reshape errors ...);
* the message names the argument (or one of the names listed with the mutation);
* it never returns a result silently.

:func:`test_table_covers_every_public_callable` checks that the table covers every such name, with an
explicit, justified skip list. A mutation that still fails would carry ``xfail=...`` and run in
:func:`test_known_gaps` as a strict xfail (none does).

Default run: ``EXAMPLES`` hypothesis cases per entry point; ``-m slow`` runs a larger profile.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

NAN, INF = float("nan"), float("inf")
EXAMPLES = 12  # hypothesis cases per entry point in the default run
SLOW_EXAMPLES = 60

SUBPACKAGES = ["spins", "exact", "sampling", "meanfield", "expfam", "memory", "boltzmann", "networks",
               "landscape", "criticality", "data", "results", "report"]


# ============================================================================ bad-value strategies
NOT_NUMBERS = ["abc", None, 1j, [1.0, 2.0], {"a": 1}]


def bad_positive(extra: tuple[Any, ...] = (), arrays_ok: bool = False) -> st.SearchStrategy[Any]:
    """Not a finite number > 0 (beta, temperatures, scales, rates); ``arrays_ok``: arrays of them are valid."""
    other = [v for v in NOT_NUMBERS if not (arrays_ok and isinstance(v, list))]
    if arrays_ok:
        other += [[0.5, -1.0], [0.5, NAN], [], np.array(["0.5"], dtype=object)]
    return st.one_of(st.sampled_from([0.0, -1.0, NAN, INF, -INF, True, *other, *extra]),
                     st.floats(max_value=0.0, allow_nan=False, allow_infinity=False))


def bad_finite(extra: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """Not a finite real number (couplings, fields, offsets)."""
    return st.sampled_from([NAN, INF, -INF, True, *NOT_NUMBERS, *extra])


def bad_count(minimum: int = 1, extra: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """Not an integer >= ``minimum`` (sizes, numbers of sweeps/chains/steps)."""
    return st.one_of(st.sampled_from([minimum - 1, -3, 2.5, NAN, INF, "3", True, 1j, [2], *extra]),
                     st.integers(max_value=minimum - 1))


def bad_fraction(extra: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """Not a number in [0, 1]."""
    return st.one_of(st.sampled_from([-0.1, 1.5, NAN, INF, "half", None, True, 1j, *extra]),
                     st.floats(min_value=1.0, exclude_min=True, allow_nan=False, allow_infinity=False),
                     st.floats(max_value=0.0, exclude_max=True, allow_nan=False, allow_infinity=False))


def _shapes_except(shape: tuple[int, ...], scalar_ok: bool) -> st.SearchStrategy[Any]:
    def wrong(s: tuple[int, ...]) -> bool:
        return s != shape and not (scalar_ok and s == ())

    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
                      elements=st.floats(-2, 2)).filter(lambda a: wrong(a.shape))


def _with_nonfinite(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    @st.composite
    def build(draw: Any) -> np.ndarray:
        a = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1)))
        idx = tuple(draw(st.integers(0, s - 1)) for s in shape)
        a[idx] = draw(st.sampled_from([NAN, INF, -INF]))
        if len(shape) == 2 and shape[0] == shape[1]:
            a = np.triu(a, 1)
            a = a + a.T
            a[idx] = a[idx[::-1]] = draw(st.sampled_from([NAN, INF, -INF])) if idx[0] != idx[1] else NAN
        return a

    return build()


def _bad_dtype(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from([
        np.full(shape, 1 + 1j),
        np.full(shape, "x"),
        np.full(shape, None, dtype=object),
        np.full(shape, "1.0", dtype=object),
    ])


def bad_array(shape: tuple[int, ...], scalar_ok: bool = False, extra: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """Anything but a finite real array of ``shape``: wrong shape/ndim, empty, NaN/inf, bad dtype, not an array."""
    return st.one_of(_shapes_except(shape, scalar_ok), _with_nonfinite(shape), _bad_dtype(shape),
                     st.sampled_from([np.zeros((0,) * max(1, len(shape))), "abc", *extra]))


def bad_data(shape: tuple[int, int]) -> st.SearchStrategy[Any]:
    """Not a data matrix: NaN/inf, a bad dtype, not 2-D, empty, not an array (another (M, n) shape of valid values
    is valid data, unlike a wrong shape of a model's parameter)."""
    return st.one_of(_with_nonfinite(shape), _bad_dtype(shape),
                     st.sampled_from([np.zeros(shape[1]), np.zeros((2, 2, 2)), np.zeros((0, shape[1])), "abc", None]))


def bad_matrix(n: int) -> st.SearchStrategy[Any]:
    """Not a symmetric, zero-diagonal, finite real (n, n) coupling matrix."""
    nonsym = hnp.arrays(np.float64, (n, n), elements=st.floats(-2, 2)).filter(
        lambda a: np.max(np.abs(a - a.T)) > 1e-6 or np.any(np.diag(a) != 0))
    return st.one_of(nonsym, bad_array((n, n), extra=(np.zeros((0, 0)),)))


def bad_spins(n: int, batch: bool = True, none_ok: bool = False) -> st.SearchStrategy[Any]:
    """Not a ±1 state of n spins (values 0/2/0.5, {0,1}/bool data, wrong length, empty, wrong ndim)."""
    vals = hnp.arrays(np.int64, (n,), elements=st.integers(-2, 2)).filter(lambda a: not np.all(np.abs(a) == 1))
    plus = [np.ones(n + 1), np.ones((2, 2, n)), np.zeros(0), np.full(n, 0.5), np.ones(n, dtype=bool),
            np.full(n, NAN), np.full(n, "1"), "up", *([] if none_ok else [None])]
    if not batch:
        plus.append(np.ones((2, n)))
    return st.one_of(vals, st.sampled_from(plus))


BAD_MODEL_VALUES = [None, "model", 3.0, np.zeros((3, 3)), [[0.0, 1.0], [1.0, 0.0]]]
bad_model = st.sampled_from(BAD_MODEL_VALUES)
bad_str = st.sampled_from(["no-such-option", "", 3, None, 2.5])


def bad_prob(n: int) -> st.SearchStrategy[Any]:
    """Not a probability vector of length n (negative, not summing to 1, NaN, wrong shape, empty)."""
    p = np.full(n, 1.0 / n)
    neg = p.copy()
    neg[0], neg[1] = -0.5, neg[1] + 0.5 + neg[0]
    return st.one_of(st.sampled_from([neg, 2 * p, np.full(n, NAN), np.zeros(n)]), bad_array((n,)))


# ------------------------------------------------------------------------------------- bad files
_BAD_DIR: Path | None = None


def bad_files() -> dict[str, Path]:
    """Missing path, directory, text file, empty file and a pickle, created once per session."""
    global _BAD_DIR
    if _BAD_DIR is None:
        _BAD_DIR = Path(tempfile.mkdtemp(prefix="spinlens-bad-"))
        (_BAD_DIR / "text.npz").write_text("this is not an npz file\n")
        (_BAD_DIR / "empty.npz").write_bytes(b"")
        (_BAD_DIR / "data.pkl").write_bytes(pickle.dumps({"J": np.eye(2)}))
        (_BAD_DIR / "a_dir").mkdir()
        (_BAD_DIR / "a_dir" / "out").mkdir()  # where valid calls may write; a_dir itself holds no run
    return {"missing": _BAD_DIR / "missing.npz", "directory": _BAD_DIR / "a_dir", "text": _BAD_DIR / "text.npz",
            "empty": _BAD_DIR / "empty.npz", "pickle": _BAD_DIR / "data.pkl"}


def bad_path() -> st.SearchStrategy[Any]:
    return st.sampled_from(["missing", "directory", "text", "empty", "pickle", "not-a-path"]).map(
        lambda k: bad_files()[k] if k != "not-a-path" else 3.5)


# ============================================================================== the table
@dataclass
class Mutation:
    arg: str
    values: st.SearchStrategy[Any]
    names: tuple[str, ...] = ()  # words the message may use for the argument (default: the argument itself)
    xfail: str | None = None  # the quoted failure of a known gap (a strict xfail)
    missing_file_ok: bool = False  # a missing file may raise FileNotFoundError

    def accepted_names(self) -> tuple[str, ...]:
        return (self.arg, *self.names)


@dataclass
class Entry:
    name: str  # "subpackage.name" (or "spinlens.name")
    call: Callable[..., Any]
    valid: Callable[[], dict[str, Any]]
    mutations: list[Mutation] = field(default_factory=list)

    def __repr__(self) -> str:
        return self.name


# ------------------------------------------------------------------ small valid inputs (cheap)
def _model(n: int = 4, seed: int = 0) -> Any:
    from spinlens.spins import IsingModel

    g = np.random.default_rng(seed)
    A = np.triu(g.normal(size=(n, n)), 1)
    return IsingModel(A + A.T, g.normal(0, 0.3, size=n))


def _patterns(p: int = 3, n: int = 16, seed: int = 0) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random((p, n)) < 0.5, -1, 1).astype(np.int8)


def _net() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _loss() -> Any:
    import torch

    return torch.nn.functional.cross_entropy


def _data() -> Any:
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (8,), generator=g)


def _np_data() -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(0)
    X = g.normal(size=(32, 3))
    return X, (X[:, 0] > 0).astype(np.int64)


def _binary(n_samples: int = 40, n: int = 5, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n_samples, n)) < 0.5).astype(np.float64)


def _rbm_params(nv: int = 4, nh: int = 3) -> dict[str, Any]:
    g = np.random.default_rng(0)
    return {"W": g.normal(0, 0.1, (nv, nh)), "b": np.zeros(nv), "c": np.zeros(nh)}


def _fitted_rbm() -> Any:
    from spinlens.boltzmann import RBM

    return RBM.from_params(**_rbm_params())


def M(arg: str, values: st.SearchStrategy[Any], *names: str, xfail: str | None = None,
      missing_file_ok: bool = False) -> Mutation:
    return Mutation(arg, values, tuple(names), xfail, missing_file_ok)


def _bad_nn() -> st.SearchStrategy[Any]:
    return st.sampled_from([None, "net", np.zeros((3, 3)), 3.0])


def _bad_activation() -> st.SearchStrategy[Any]:
    return st.sampled_from(["no-such-activation", "", 3, None, 2.5])


def _entries() -> list[Entry]:  # noqa: PLR0915 (one table)
    import spinlens
    from spinlens import boltzmann as bz
    from spinlens import criticality as cr
    from spinlens import data as da
    from spinlens import exact as ex
    from spinlens import expfam as ef
    from spinlens import landscape as ls
    from spinlens import meanfield as mf
    from spinlens import memory as me
    from spinlens import networks as nw
    from spinlens import report as rp
    from spinlens import results as rs
    from spinlens import sampling as sa
    from spinlens import spins as sn

    T: list[Entry] = []

    def add(name: str, call: Callable[..., Any], valid: Callable[[], dict[str, Any]], *muts: Mutation) -> None:
        T.append(Entry(name, call, valid, [dataclasses.replace(m) for m in muts]))  # own copies: xfail is per entry

    # ---------------------------------------------------------------------------------- spins
    add("spins.IsingModel", sn.IsingModel, lambda: {"J": _model().J, "h": np.zeros(4)},
        M("J", bad_matrix(4)), M("h", bad_array((4,), scalar_ok=True)),
        M("layers", st.sampled_from([(1, 2), (0, 4), (-1, 5), ("a", "b"), (2.5, 1.5), 4]), "layers"))
    add("spins.LatticeGeometry", sn.LatticeGeometry, lambda: {"shape": (3, 3), "coupling": 1.0},
        M("shape", st.sampled_from([(), (0, 3), (-2, 3), (2.5,), "3x3", None, 3])),
        M("coupling", bad_finite()))
    add("spins.as_spins", sn.as_spins, lambda: {"s": np.ones(4), "n": 4},
        M("s", bad_spins(4), "spins"), M("n", bad_count(), "spins"))
    for nm, fn, size_arg in [("spins.square_lattice", sn.square_lattice, "L"),
                             ("spins.cubic_lattice", sn.cubic_lattice, "L"),
                             ("spins.chain", sn.chain, "n"), ("spins.curie_weiss", sn.curie_weiss, "n")]:
        add(nm, fn, (lambda a=size_arg: {a: 3}),
            M(size_arg, bad_count(minimum=2, extra=(None,)), "lattice side", "spins", "n (number"),
            M("J", bad_finite()), M("h", bad_finite()))
    add("spins.hypercubic_lattice", sn.hypercubic_lattice, lambda: {"shape": (3, 3)},
        M("shape", st.sampled_from([(), (1, 3), (0,), (-2, 3), (2.5, 3), "3x3", None, 3, ((3, 3),)]),
          "lattice side", "shape", "dimension"),
        M("J", bad_finite()), M("h", bad_finite()))
    add("spins.sk", sn.sk, lambda: {"n_spins": 4, "rng": 0},
        M("n_spins", bad_count(minimum=2, extra=(None,))), M("J", bad_finite(extra=(-1.0,))),
        M("J0", bad_finite()), M("h", bad_finite()))
    add("spins.layered_sk", sn.layered_sk, lambda: {"widths": [3, 2], "rng": 0},
        M("widths", st.sampled_from([[], [3], [3, 0], [3, -1], [3, 2.5], "3,2", None, 3, [[3, 2]]]),
          "widths", "layer width"),
        M("C", bad_positive()))
    add("spins.layered_sk_from_weights", sn.layered_sk_from_weights,
        lambda: {"weights": [np.ones((2, 3)), np.ones((2, 2))]},
        M("weights", st.one_of(st.sampled_from([[], None, 3.0, "W", [np.ones(3)], [np.ones((2, 3)), np.ones((2, 3))],
                                                [np.zeros((0, 3))], [np.full((2, 3), NAN)], [np.full((2, 3), 1j)],
                                                [np.full((2, 3), "a")]])), "weight"),
        M("h", bad_array((7,), scalar_ok=True)))

    # ---------------------------------------------------------------------------------- exact
    add("exact.enumerate", ex.enumerate, lambda: {"model": _model(), "beta": 0.5},
        M("model", bad_model), M("beta", bad_positive(arrays_ok=True, extra=([[0.5]],))),
        M("max_spins", bad_count(extra=(None,))))
    add("exact.boltzmann_probabilities", ex.boltzmann_probabilities, lambda: {"model": _model(), "beta": 0.5},
        M("model", bad_model), M("beta", bad_positive()), M("max_spins", bad_count(extra=(None,))))
    add("exact.chain_transfer_matrix", ex.chain_transfer_matrix, lambda: {"n": 4, "beta": 0.5},
        M("n", bad_count(minimum=2, extra=(None,))), M("beta", bad_positive(arrays_ok=True)), M("J", bad_finite()),
        M("h", bad_finite()))
    add("exact.curie_weiss", ex.curie_weiss, lambda: {"n": 6, "beta": 0.5},
        M("n", bad_count(extra=("6",))), M("beta", bad_positive(arrays_ok=True)), M("J", bad_finite()),
        M("h", bad_finite()))
    add("exact.kaufman", ex.kaufman, lambda: {"L": 4, "beta": 0.5},
        M("L", bad_count(minimum=2, extra=(None, (4, 0), (4,), (4, 4, 4)))), M("beta", bad_positive(arrays_ok=True)),
        M("J", bad_positive()))
    add("exact.layered_sk_tc", ex.layered_sk_tc, lambda: {"widths": [4, 4, 4], "variances": [1.0, 1.0]},
        M("widths", st.sampled_from([[], [4], [4, 0], [4, -1], [4, 2.5], "4,4", None, 3, [[4, 4]]]),
          "widths", "layer width"),
        M("variances", st.sampled_from([-1.0, NAN, INF, "x", [1.0], [1.0, NAN], [1.0, -1.0], 1j]), "variance"))
    add("exact.layered_sk_tc_equal", ex.layered_sk_tc_equal, lambda: {"C": 1.0, "L": 3},
        M("C", bad_positive()), M("L", bad_count(extra=(None,))))
    add("exact.onsager", ex.onsager, lambda: {"beta": 0.5}, M("beta", bad_positive(arrays_ok=True)))
    add("exact.sk_paramagnet", ex.sk_paramagnet, lambda: {"beta": 0.5},
        M("beta", bad_positive(arrays_ok=True)), M("J", bad_positive()), M("J0", bad_finite()))

    # ------------------------------------------------------------------------------- sampling
    sample_muts = (M("model", bad_model), M("beta", bad_positive()), M("n_sweeps", bad_count(extra=(None,))),
                   M("state", bad_spins(9, none_ok=True), "spins", "state"))

    def sampler_entry(name: str, cls: Any, model: Callable[[], Any], **ctor: Any) -> None:
        def call(model: Any, beta: Any, n_sweeps: Any, state: Any = None, **kw: Any) -> Any:
            return cls(**kw).sample(model, beta, n_sweeps, state=state, rng=0)

        add(name, call, lambda: {"model": model(), "beta": 0.4, "n_sweeps": 3, "n_chains": 2, **ctor}, *sample_muts,
            M("n_chains", bad_count()), M("n_burn", bad_count(minimum=0)), M("thin", bad_count()))

    sq = lambda: sn.square_lattice(3)  # noqa: E731
    sampler_entry("sampling.MetropolisSampler", sa.MetropolisSampler, sq)
    sampler_entry("sampling.CheckerboardSampler", sa.CheckerboardSampler, sq)
    sampler_entry("sampling.SwendsenWangSampler", sa.SwendsenWangSampler, sq)
    sampler_entry("sampling.WolffSampler", sa.WolffSampler, sq)
    sampler_entry("sampling.MultiSpinSampler", sa.MultiSpinSampler, lambda: sn.square_lattice(4))

    def replica_call(model: Any, beta: Any, n_sweeps: Any, state: Any = None, **kw: Any) -> Any:
        return sa.MultiSpinReplicaSampler(**kw).sample(model, beta, n_sweeps, state=state, rng=0)

    add("sampling.MultiSpinReplicaSampler", replica_call,
        lambda: {"model": sn.square_lattice(4), "beta": 0.4, "n_sweeps": 3, "n_chains": 64},
        M("model", bad_model), M("beta", bad_positive()), M("n_sweeps", bad_count(extra=(None,))),
        M("n_chains", bad_count()), M("n_burn", bad_count(minimum=0)), M("thin", bad_count()),
        M("random", bad_str))

    def pt_call(model: Any, beta: Any, n_sweeps: Any, state: Any = None, **kw: Any) -> Any:
        return sa.ParallelTempering(**kw).sample(model, beta, n_sweeps, state=state, rng=0)

    add("sampling.ParallelTempering", pt_call,
        lambda: {"model": _model(9), "beta": 1.0, "n_sweeps": 3, "n_temps": 3, "n_chains": 1},
        *sample_muts[:3], M("n_temps", bad_count(minimum=2)), M("beta_min", bad_positive(extra=(5.0,))),
        M("betas", st.sampled_from([(), (0.5,), (0.5, -1.0), (0.5, NAN), ("a", "b"), 3.0])),
        M("target_acceptance", bad_fraction(extra=(0.0, 1.0))), M("sweeps_per_swap", bad_count()))
    add("sampling.anneal", sa.anneal, lambda: {"model": _model(6), "n_steps": 3, "n_restarts": 1, "rng": 0},
        M("model", bad_model), M("n_steps", bad_count()), M("beta_start", bad_positive()),
        M("beta_end", bad_positive()), M("sweeps_per_step", bad_count()), M("n_restarts", bad_count()),
        M("coupling_dtype", bad_str))
    add("sampling.choose_method", sa.choose_method, lambda: {"model": _model()},
        M("model", bad_model), M("method", bad_str))
    add("sampling.make_sampler", sa.make_sampler, lambda: {"method": "metropolis", "n_chains": 2},
        M("method", bad_str), M("n_chains", bad_count()), M("n_burn", bad_count(minimum=0)), M("thin", bad_count()))
    add("sampling.multispin_supported", sa.multispin_supported, lambda: {"model": sq()}, M("model", bad_model))
    add("sampling.sample", sa.sample, lambda: {"model": _model(9), "beta": 0.4, "n_sweeps": 8, "n_chains": 2,
                                              "rng": 0, "warn": False},
        *sample_muts, M("method", bad_str), M("n_chains", bad_count()), M("n_burn", bad_count(minimum=0)),
        M("thin", bad_count()))
    add("sampling.ising_scan", sa.ising_scan,
        lambda: {"L_values": [4], "temperatures": [2.0], "n_sweeps": 4, "n_chains": 1, "n_bootstrap": 4, "rng": 0,
                 "sweep": {"executor": "serial"}},
        M("L_values", st.sampled_from([[], [1], [0], [-4], [4.5], ["a"], None, [[4]], 4]), "L"),
        M("temperatures", st.sampled_from([[], [0.0], [-1.0], [NAN], [INF], ["a"], None, [[2.0]]]), "temperature"),
        M("n_sweeps", bad_count()), M("n_chains", bad_count()), M("method", bad_str),
        M("n_bootstrap", bad_count()))
    add("sampling.sk_scan", sa.sk_scan,
        lambda: {"N_values": [4], "temperatures": [1.0, 0.5], "n_samples": 1, "n_sweeps": 4, "anneal_steps": 2,
                 "anneal_restarts": 1, "bins": 5, "rng": 0, "sweep": {"executor": "serial"}},
        M("N_values", st.sampled_from([[], [1], [0], [-4], [4.5], ["a"], None, [[4]]]), "N"),
        M("temperatures", st.sampled_from([[], [0.0], [-1.0], [NAN], [INF], ["a"], None, [[2.0]]]), "temperature"),
        M("n_samples", bad_count()), M("n_sweeps", bad_count()), M("anneal_steps", bad_count()),
        M("anneal_restarts", bad_count()), M("bins", bad_count(minimum=2)), M("coupling_dtype", bad_str))
    add("spinlens.sample", spinlens.sample, lambda: {"model": _model(9), "beta": 0.4, "n_sweeps": 8, "n_chains": 2,
                                                     "rng": 0, "warn": False}, *sample_muts)

    # ------------------------------------------------------------------------------ meanfield
    iter_muts = (M("damping", bad_fraction(extra=(1.0,))), M("max_iter", bad_count()), M("tol", bad_positive()))
    for nm, fn in [("meanfield.naive", mf.naive), ("meanfield.tap", mf.tap)]:
        add(nm, fn, lambda: {"model": _model(), "beta": 0.5},
            M("model", bad_model), M("beta", bad_positive()), M("m0", bad_array((4,), extra=(np.full(4, 2.0),))),
            M("n_starts", bad_count()), *iter_muts, M("anneal", st.sampled_from([-1, 2.5, "yes", NAN])))
    add("meanfield.tap_scan", mf.tap_scan, lambda: {"model": _model(), "betas": [0.2, 0.5], "anneal": 2},
        M("model", bad_model),
        M("betas", st.sampled_from([[], [0.0], [-1.0, 0.5], [NAN], [INF], ["a"], None, [[0.5]], 1j]), "beta"),
        M("m0", bad_array((4,), extra=(np.full(4, 2.0),))), *iter_muts)
    for nm, fn in [("meanfield.naive_free_energy", mf.naive_free_energy),
                   ("meanfield.tap_free_energy", mf.tap_free_energy), ("meanfield.tap_hessian", mf.tap_hessian)]:
        add(nm, fn, lambda: {"model": _model(), "m": np.full(4, 0.1), "beta": 0.5},
            M("model", bad_model), M("m", bad_array((4,), extra=(np.full(4, 2.0),))), M("beta", bad_positive()))
    add("meanfield.paramagnet_hessian", mf.paramagnet_hessian, lambda: {"model": _model(), "beta": 0.5},
        M("model", bad_model), M("beta", bad_positive()))
    add("meanfield.paramagnet_stability", mf.paramagnet_stability,
        lambda: {"model": _model(), "temperatures": [0.5, 1.0]},
        M("model", bad_model),
        M("temperatures", st.sampled_from([[], [0.0], [-1.0], [NAN], [INF], ["a"], None, [[1.0]], 1j]),
          "temperature"),
        M("k", bad_count(extra=(5, 100))), M("tol", bad_finite(extra=(-1.0,))))
    add("meanfield.lowest_eigenpairs", mf.lowest_eigenpairs, lambda: {"A": np.diag([1.0, 2.0, 3.0]), "k": 1},
        M("A", st.one_of(_with_nonfinite((3, 3)), _bad_dtype((3, 3)),
                         st.sampled_from([np.array([[0.0, 1.0], [2.0, 0.0]]), np.zeros((0, 0)), np.ones((2, 3)),
                                          np.ones(3), np.ones((2, 2, 2)), np.array(1.0), "abc", None])), "matrix"),
        M("k", bad_count(extra=(4, 10))), M("tol", bad_finite(extra=(-1.0,))))
    add("meanfield.as_spin_samples", mf.as_spin_samples, lambda: {"samples": _binary()},
        M("samples", st.one_of(bad_data((40, 5)), st.sampled_from([np.full((4, 3), 0.5), np.full((4, 3), 2.0),
                                                                     np.ones((1, 0))])), "samples", "spin"))

    def inverse_call(samples: Any, **kw: Any) -> Any:
        return mf.InverseIsing(**kw).fit(samples)

    add("meanfield.InverseIsing", inverse_call,
        lambda: {"samples": _binary(), "method": "nmf"},
        M("samples", st.one_of(bad_array((40, 5)), st.sampled_from([np.full((4, 3), 0.5), np.ones((1, 0))])),
          "samples", "spin"),
        M("method", bad_str), M("l1", bad_finite(extra=(-1.0,))), M("l2", bad_finite(extra=(-1.0,))),
        M("max_iter", bad_count()), M("tol", bad_positive()))
    bad_temps = st.sampled_from([[], [0.0], [-1.0], [NAN], [INF], ["a"], None, [[0.5]], 1j])
    add("meanfield.tap_census", mf.tap_census,
        lambda: {"model": _model(), "temperatures": [0.5], "n_random": 2, "n_annealed": 1, "rng": 0},
        M("model", bad_model), M("temperatures", bad_temps, "temperature"),
        M("n_random", bad_count(minimum=0)), M("n_annealed", bad_count(minimum=0)),
        M("t_start", bad_positive(extra=(0.1,))), M("descent_iter", bad_count(minimum=0)),
        M("newton_iter", bad_count(minimum=0)), M("tol", bad_positive()), M("accept", bad_positive()),
        M("same_threshold", bad_fraction(extra=(0.0,))), M("q_zero", bad_finite(extra=(-1.0,))),
        M("newton_only", bad_fraction()), M("glass_min_minima", bad_count(minimum=2)),
        M("glass_min_spread", bad_finite(extra=(-1.0,))))
    add("meanfield.melting_temperature", mf.melting_temperature,
        lambda: {"model": _model(), "t_low": 0.3, "n_starts": 2, "step": 0.5, "resolution": 0.2, "rng": 0},
        M("model", bad_model), M("t_low", bad_positive()), M("t_max", bad_positive(extra=(0.2,))),
        M("step", bad_positive()), M("resolution", bad_positive()), M("n_starts", bad_count()),
        M("descent_iter", bad_count(minimum=0)), M("newton_iter", bad_count(minimum=0)),
        M("tol", bad_positive()), M("accept", bad_positive()), M("q_zero", bad_finite(extra=(-1.0,))))

    # --------------------------------------------------------------------------------- expfam
    p4, q4 = np.array([0.1, 0.2, 0.3, 0.4]), np.full(4, 0.25)
    add("expfam.entropy", ef.entropy, lambda: {"p": p4}, M("p", bad_prob(4)))
    add("expfam.kl_divergence", ef.kl_divergence, lambda: {"p": p4, "q": q4}, M("p", bad_prob(4)), M("q", bad_prob(4)))
    add("expfam.cross_entropy", ef.cross_entropy, lambda: {"p": p4, "q": q4}, M("p", bad_prob(4)), M("q", bad_prob(4)))
    add("expfam.sanov_log_prob", ef.sanov_log_prob, lambda: {"counts": np.array([1, 2, 3, 4]), "q": q4},
        # (all-zero counts are valid: the empty sample has probability 1, ln P = 0 exactly)
        M("counts", st.one_of(bad_array((4,)), st.sampled_from([np.array([1, -2, 3, 4]), np.array([1.5, 2, 3, 4])]))),
        M("q", bad_prob(4)))
    add("expfam.gibbs_conditioning", ef.gibbs_conditioning,
        lambda: {"values": np.array([0.0, 1.0, 2.0, 3.0]), "q": q4, "a": 2.0},
        M("values", bad_array((4,))), M("q", bad_prob(4)), M("a", bad_finite(extra=(5.0, -1.0))))
    add("expfam.cramer_rate", ef.cramer_rate,
        lambda: {"a": 0.7, "values": np.array([0.0, 1.0]), "probs": np.array([0.5, 0.5])},
        M("a", st.sampled_from([NAN, INF, True, "abc", None, 1j, [NAN], np.array(["0.5"], dtype=object)])),
        M("values", bad_array((2,))), M("probs", bad_prob(2)), M("theta_max", bad_positive()))

    def chernoff_call(a: Any, n: Any, values: Any = None, probs: Any = None) -> Any:
        return ef.chernoff_bound(a, n, values=values, probs=probs)

    add("expfam.chernoff_bound", chernoff_call,
        lambda: {"a": 0.7, "n": 10, "values": np.array([0.0, 1.0]), "probs": np.array([0.5, 0.5])},
        M("a", bad_finite()), M("n", bad_count()), M("values", bad_array((2,))), M("probs", bad_prob(2)))
    add("expfam.gibbs_lower_bound", ef.gibbs_lower_bound, lambda: {"model": _model(), "beta": 0.5},
        M("model", bad_model), M("beta", bad_positive()), M("m", bad_array((4,), extra=(np.full(4, 2.0),))))
    add("expfam.ising_family", ef.ising_family, lambda: {"n_spins": 3},
        M("n_spins", bad_count(extra=(None, 40))))
    add("expfam.ising_from_theta", ef.ising_from_theta, lambda: {"theta": np.zeros(6), "n_spins": 3},
        M("theta", bad_array((6,))), M("n_spins", bad_count()), M("beta", bad_positive()))
    add("expfam.ising_theta", ef.ising_theta, lambda: {"model": _model()},
        M("model", bad_model), M("beta", bad_positive()))

    def family_call(stats: Any, theta: Any, base_measure: Any = None) -> Any:
        return ef.DiscreteExpFamily(stats, base_measure).log_partition(theta)

    add("expfam.DiscreteExpFamily", family_call, lambda: {"stats": np.eye(3), "theta": np.zeros(3)},
        M("stats", st.sampled_from([np.full((3, 3), NAN), np.full((3, 3), 1j), np.full((3, 3), "a"), np.zeros((0, 3)),
                                    "abc", None])), M("theta", bad_array((3,))),
        M("base_measure", bad_array((3,), extra=(np.array([1.0, -1.0, 1.0]),))))

    # --------------------------------------------------------------------------------- memory
    P = _patterns
    def bad_patterns(n: int) -> st.SearchStrategy[Any]:
        """Not -1/+1 patterns of any length >= 2 (a single 1-D pattern of another length is valid here)."""
        return bad_spins(n).filter(lambda a: not (isinstance(a, np.ndarray) and a.dtype.kind in "if"
                                                   and a.ndim in (1, 2) and a.shape[-1] >= 2
                                                   and np.all(np.abs(a) == 1))) | \
            st.sampled_from([np.zeros((0, 16)), np.ones((2, 2, 16)), np.ones((3, 1))])

    add("memory.validate_patterns", me.validate_patterns, lambda: {"patterns": P()},
        M("patterns", bad_patterns(16), "pattern"))
    add("memory.hopfield", me.hopfield, lambda: {"patterns": P()},
        M("patterns", bad_patterns(16), "pattern"),
        M("rule", bad_str), M("h", bad_array((16,), scalar_ok=True)))
    add("memory.HopfieldNetwork", me.HopfieldNetwork, lambda: {"J": me.hopfield(P()).J, "patterns": P()},
        M("J", bad_matrix(16)), M("patterns", bad_spins(16, none_ok=True), "pattern"), M("rule", bad_str))
    add("memory.overlaps", me.overlaps, lambda: {"states": P(), "patterns": P()},
        M("states", bad_spins(16), "state", "spins"), M("patterns", bad_spins(16), "pattern"))
    add("memory.classify_states", me.classify_states, lambda: {"states": P(), "patterns": P()},
        M("states", bad_spins(16), "state", "spins"), M("patterns", bad_spins(16), "pattern"),
        M("retrieval_threshold", bad_fraction(extra=(0.0,))),
        M("mixture_threshold", bad_fraction().filter(lambda v: v is not None)))
    add("memory.corrupt", me.corrupt, lambda: {"patterns": P(), "fraction": 0.1, "rng": 0},
        M("patterns", bad_patterns(16), "pattern"), M("fraction", bad_fraction()))
    add("memory.retrieve", me.retrieve, lambda: {"model": me.hopfield(P()), "state": P()[0], "max_sweeps": 5, "rng": 0},
        M("model", bad_model), M("state", bad_spins(16), "state", "spins"),
        M("patterns", bad_spins(16, none_ok=True), "pattern"),
        M("T", bad_finite(extra=(-1.0,))), M("mode", bad_str), M("max_sweeps", bad_count()), M("sampler", bad_str))
    add("memory.basins", me.basins,
        lambda: {"model": me.hopfield(P()), "corruption": [0.1], "n_trials": 2, "max_sweeps": 5, "rng": 0},
        M("model", bad_model), M("patterns", bad_spins(16, none_ok=True), "pattern"),
        M("corruption", st.sampled_from([[], [-0.1], [1.5], [NAN], ["a"], [[0.1]]])), M("n_trials", bad_count()),
        M("T", bad_finite(extra=(-1.0,))), M("mode", bad_str), M("threshold", bad_fraction(extra=(0.0,))),
        M("max_sweeps", bad_count()))
    add("memory.spurious_states", me.spurious_states,
        lambda: {"model": me.hopfield(P()), "n_starts": 2, "max_sweeps": 5, "rng": 0},
        M("model", bad_model), M("patterns", bad_spins(16, none_ok=True), "pattern"), M("n_starts", bad_count()),
        M("max_sweeps", bad_count()), M("retrieval_threshold", bad_fraction(extra=(0.0,))))

    def dam_call(patterns: Any, s: Any, n: Any = 3, energy: Any = "poly") -> Any:
        return me.DenseAssociativeMemory(patterns, n=n, energy=energy).update(s)

    add("memory.DenseAssociativeMemory", dam_call, lambda: {"patterns": P(), "s": P()[0]},
        M("patterns", bad_patterns(16), "pattern"), M("s", bad_spins(16), "state", "spins"),
        M("n", bad_count(minimum=2)), M("energy", bad_str))

    def modern_call(patterns: Any, xi: Any, beta: Any = 1.0) -> Any:
        return me.ModernHopfield(patterns, beta=beta).update(xi)

    add("memory.ModernHopfield", modern_call, lambda: {"patterns": P().astype(float), "xi": P()[0].astype(float)},
        M("patterns", bad_array((3, 16)), "pattern"), M("xi", bad_array((16,)), "xi", "state", "query"),
        M("beta", bad_positive()))
    add("memory.dense_capacity", me.dense_capacity, lambda: {"orders": [2], "n_spins": 8, "n_trials": 1, "rng": 0},
        M("orders", st.sampled_from([[], [1], [0], [-2], [2.5], ["a"], None, [[2]]]), "order"),
        M("n_spins", bad_count(minimum=2)), M("n_trials", bad_count()))
    add("memory.predicted_capacity", me.predicted_capacity, lambda: {"n": 3, "n_spins": 30},
        M("n", bad_count(minimum=2)), M("n_spins", bad_count()))
    add("memory.ags_lines", me.ags_lines, lambda: {"n": 3},
        M("n", bad_count(minimum=2)), M("alpha_max", bad_positive()))
    add("memory.ags_zero_t", me.ags_zero_t, lambda: {"alpha": 0.05}, M("alpha", bad_finite(extra=(-0.1,))))
    add("memory.solve_ags", me.solve_ags, lambda: {"alpha": 0.05, "T": 0.2, "max_iter": 50},
        # vectorised: arrays of valid loads/temperatures are valid input
        M("alpha", st.sampled_from([NAN, INF, -0.1, [], "abc", None, 1j, np.full(2, NAN),
                                    np.array(["1.0"], dtype=object)])),
        M("T", st.sampled_from([NAN, INF, -0.1, [], "abc", None, 1j, np.full(2, NAN),
                                np.array(["1.0"], dtype=object)])),
        M("max_iter", bad_count()), M("tol", bad_positive()), M("damping", bad_fraction(extra=(1.0,))))
    for nm, fn in [("memory.spin_glass_line", me.spin_glass_line), ("memory.retrieval_line", me.retrieval_line),
                   ("memory.thermodynamic_line", me.thermodynamic_line)]:
        add(nm, fn, lambda: {"alphas": np.array([0.02, 0.05])},
            M("alphas", st.sampled_from([[], [-0.1], [NAN], [INF], ["a"], None, [[0.05]], 1j]), "alpha"))
    add("memory.fit_alpha_c", me.fit_alpha_c,
        lambda: {"alphas": np.linspace(0.1, 0.2, 5), "p": np.array([1.0, 0.9, 0.5, 0.1, 0.0]), "n": 100},
        M("alphas", bad_array((5,))), M("p", bad_array((5,), extra=(np.array([1.0, 2.0, 0.5, 0.1, -1.0]),))),
        M("n", bad_count()))
    add("memory.extrapolate_alpha_c", me.extrapolate_alpha_c,
        lambda: {"n_spins": np.array([100, 200, 400]), "alpha_c_n": np.array([0.15, 0.145, 0.142]),
                 "errors": np.array([0.01, 0.01, 0.01])},
        M("n_spins", bad_array((3,), extra=(np.array([100, -200, 400]),))), M("alpha_c_n", bad_array((3,))),
        M("errors", bad_array((3,), extra=(np.array([0.01, -0.01, 0.01]),))), M("exponent", bad_positive()))
    add("memory.capacity_experiment", me.capacity_experiment,
        lambda: {"n_spins": [10, 12, 14], "alphas": [0.1, 0.14, 0.18], "n_tested": 2, "per_set": 1, "max_sweeps": 5,
                 "rng": 0,
                 "sweep": {"executor": "serial"}},
        M("n_spins", st.sampled_from([[], [1], [0], [-4], [4.5], ["a"], None, [[20]]]), "n_spins", "size"),
        M("alphas", st.sampled_from([[], [-0.1], [0.0], [NAN], ["a"], [[0.05]]]), "alpha"),
        M("n_tested", bad_count()), M("per_set", bad_count()), M("rule", bad_str),
        M("threshold", bad_fraction(extra=(0.0,))), M("max_sweeps", bad_count()))
    add("memory.phase_diagram", me.phase_diagram,
        lambda: {"alphas": [0.05], "temperatures": [0.2], "n_spins": 20, "n_trials": 1, "n_sweeps": 2, "n_lines": 3,
                 "rng": 0, "sweep": {"executor": "serial"}},
        M("alphas", st.sampled_from([[], [-0.1], [NAN], ["a"], [[0.05]]]), "alpha"),
        M("temperatures", st.sampled_from([[], [-0.1], [NAN], ["a"], [[0.2]]]), "temperature"),
        M("n_spins", bad_count(minimum=2)), M("n_trials", bad_count()), M("n_sweeps", bad_count()),
        M("n_lines", bad_count(minimum=2)))
    add("memory.capacity_figure", me.capacity_figure, lambda: {"result": None},
        M("result", st.sampled_from([None, 3, "r", np.zeros(3)])))
    add("memory.phase_diagram_figure", me.phase_diagram_figure, lambda: {"result": None},
        M("result", st.sampled_from([None, 3, "r", np.zeros(3)])))

    # ------------------------------------------------------------------------ memory: perceptrons (issue 19)
    def perceptron_call(patterns: Any, labels: Any, **kw: Any) -> Any:
        return me.Perceptron(**kw).fit(patterns, labels)

    Xp, yp = P()[:, :6], np.array([1.0, -1.0, 1.0])
    bad_labels = st.one_of(bad_array((3,)), st.sampled_from([np.array([0.0, 1.0, 1.0]), np.array([1.0, 2.0, -1.0])]))
    bad_flag = st.sampled_from(["yes", 1, None, 0.5])
    add("memory.mcculloch_pitts", me.mcculloch_pitts,
        lambda: {"inputs": np.array([[0.0, 1.0], [1.0, 1.0]]), "weights": np.ones(2), "threshold": 1.0},
        M("inputs", st.sampled_from([np.array([0.5, 1.0]), np.array([[0.0, 2.0], [1.0, 1.0]]), np.zeros(3),
                                     np.zeros((2, 2, 2)), np.zeros((0, 2)), "abc", None, np.full(2, NAN),
                                     np.full(2, 1j), np.ones(2, dtype=bool)]), "inputs"),
        M("weights", bad_array((2,))), M("threshold", bad_finite()),
        M("inhibitory", st.sampled_from([np.array([1, 0]), np.array([True]), "x", np.ones(3, dtype=bool), 3])))
    add("memory.Perceptron", perceptron_call, lambda: {"patterns": Xp, "labels": yp, "max_epochs": 5, "rng": 0},
        M("patterns", bad_data((3, 6)), "patterns"), M("labels", bad_labels, "labels"),
        M("learning_rate", bad_positive()), M("max_epochs", bad_count()), M("bias", bad_flag, "bias"),
        M("shuffle", bad_flag, "shuffle"))
    for nm, fn in [("memory.separating_weights", me.separating_weights),
                   ("memory.is_linearly_separable", me.is_linearly_separable)]:
        add(nm, fn, lambda: {"patterns": Xp, "labels": yp},
            M("patterns", bad_data((3, 6)), "patterns"), M("labels", bad_labels, "labels"), M("bias", bad_flag))
    add("memory.cover_count", me.cover_count, lambda: {"n_patterns": 7, "n_inputs": 3},
        M("n_patterns", bad_count()), M("n_inputs", bad_count()))
    add("memory.cover_fraction", me.cover_fraction, lambda: {"n_patterns": np.array([7, 9]), "n_inputs": 3},
        M("n_patterns", st.sampled_from([0, -3, 2.5, NAN, INF, "3", True, 1j, [0], [2.5], [], None, [[2]]])),
        M("n_inputs", bad_count()))
    add("memory.gardner_capacity", me.gardner_capacity, lambda: {"kappa": 0.5}, M("kappa", bad_finite()))
    add("memory.cover_chi2_pvalue", me.cover_chi2_pvalue, lambda: {"p_star": np.array([8, 9, 12, 10]), "n_inputs": 4},
        M("p_star", st.sampled_from([np.full(4, NAN), [], "abc", None, np.zeros((2, 2)), np.full(4, 1j),
                                     np.array([8.5, 9, 10, 11]), np.array([-8, 9, 10, 11])]), "p_star"),
        M("n_inputs", bad_count()))
    add("memory.critical_pattern_number", me.critical_pattern_number, lambda: {"n_inputs": 4, "rng": 0},
        M("n_inputs", bad_count()), M("patterns", bad_str))
    add("memory.separable_fraction", me.separable_fraction,
        lambda: {"n_patterns": 8, "n_inputs": 4, "n_trials": 2, "rng": 0},
        M("n_patterns", bad_count()), M("n_inputs", bad_count()), M("n_trials", bad_count()), M("patterns", bad_str))
    add("memory.perceptron_capacity", me.perceptron_capacity, lambda: {"n_inputs": [6, 8, 10], "n_trials": 2, "rng": 0},
        M("n_inputs", st.sampled_from([[], [1, 2, 3], [0], [-4, 6, 8], [4.5, 6, 8], ["a"], None, [[20]], [6, 8],
                                       [6, 6, 8], "6,8,10"]), "n_inputs"),
        M("n_trials", bad_count(minimum=2)), M("patterns", bad_str), M("exponent", bad_positive()),
        M("alphas", st.sampled_from([[], [-1.0], [NAN], ["a"], [[1.0]], "abc"])), M("block", bad_count()))
    add("memory.perceptron_capacity_figure", me.perceptron_capacity_figure,
        lambda: {"result": me.perceptron_capacity([6, 8, 10], n_trials=2, rng=0)},
        M("result", st.sampled_from([None, 3, "r", np.zeros(3)])))

    # ------------------------------------------------------------- expfam: continuous families (issue 19)
    def continuous_call(cls: Any) -> Callable[..., Any]:
        def call(theta: Any, x: Any, target_means: Any, a: Any, n_samples: Any = 3, beta: Any = 1.0) -> Any:
            f = cls()
            f.log_partition(theta)
            f.logpdf(x, theta)
            f.fit_maxent(target_means)
            f.cramer_rate(a, theta)
            f.sample(theta, n_samples, rng=0)
            return f.free_energy(theta, beta)

        return call

    bad_points = st.sampled_from([NAN, INF, "a", None, np.zeros((2, 2)), [], 1j, np.full(2, "x")])
    bad_a2 = st.sampled_from([NAN, "a", None, np.zeros((2, 3)), 1j, np.zeros((2, 2, 2)), np.zeros(3)])
    for nm, cls, th, t, extra_th, extra_t, extra_x in [
            ("expfam.Gaussian", ef.Gaussian, np.array([0.2, -0.5]), np.array([0.1, 1.5]),
             (np.array([0.0, 0.5]), np.array([1.0, 0.0])), (np.array([1.0, 0.5]), np.array([0.0, 0.0])), ()),
            ("expfam.VonMises", ef.VonMises, np.array([0.2, -0.5]), np.array([0.1, 0.5]), (),
             (np.array([1.0, 0.5]), np.array([0.0, 1.0])), ()),
            ("expfam.Exponential", ef.Exponential, np.array([-2.0]), np.array([0.5]),
             (np.array([1.0]), 0.0, 2.0), (np.array([0.0]), -1.0, np.zeros(2)), (-1.0, np.array([0.5, -0.1])))]:
        k = th.size
        add(nm, continuous_call(cls), lambda th=th, t=t: {"theta": th, "x": np.array([0.3, 1.0]), "target_means": t,
                                                          "a": t},
            M("theta", bad_array((k,), scalar_ok=k == 1, extra=extra_th), "theta"),
            M("x", st.one_of(bad_points, st.sampled_from(list(extra_x) or [NAN])), "x"),
            M("target_means", bad_array((k,), scalar_ok=k == 1, extra=extra_t), "target_means"),
            M("a", bad_a2 if k == 2 else st.sampled_from([NAN, "a", None, np.zeros((2, 3)), 1j]), "a"),
            M("n_samples", bad_count()), M("beta", bad_positive()))
    die = ef.DiscreteExpFamily(np.arange(1, 7.0))
    add("expfam.maxent_equivalence", ef.maxent_equivalence, lambda: {"family": die, "data": np.full(6, 1 / 6)},
        M("family", st.sampled_from([None, "die", np.eye(3), 3]), "family"), M("data", bad_prob(6), "data"),
        M("target_means", st.sampled_from([[4.5], [7.0], [NAN], "abc"]), "target_means", "data"),
        M("tol", bad_positive()))

    # ------------------------------------------------- boltzmann: machines with hidden units (issue 19)
    def hidden_bm_call(samples: Any, X: Any = None, method: Any = "auto", **kw: Any) -> Any:
        bm = bz.BoltzmannMachine(**kw).fit(samples)
        return bm.log_likelihood(samples if X is None else X, method=method)

    add("boltzmann.BoltzmannMachine", hidden_bm_call,
        lambda: {"samples": _binary(), "n_hidden": 2, "max_iter": 2, "rng": 0},
        M("samples", st.one_of(bad_array((40, 5)), st.sampled_from([np.full((4, 3), 0.5), np.ones((1, 0))])),
          "samples", "spin"),
        M("n_hidden", bad_count(minimum=0)), M("visible_visible", st.sampled_from(["yes", 1, None, 0.5])),
        M("hidden_hidden", st.sampled_from(["yes", 1, None, 0.5])), M("init_scale", bad_positive()),
        M("X", st.sampled_from([np.zeros((3, 4)), np.full((3, 5), 0.5), np.full((3, 5), NAN), "abc", np.zeros(0)]),
          "X"),
        M("method", bad_str), M("max_iter", bad_count()), M("l2", bad_finite(extra=(-1.0,))))

    # --------------------------------------------- criticality: the dynamic-neuron ensemble (issue 19)
    def dyn_args() -> dict[str, Any]:
        g = np.random.default_rng(0)
        return {"weights": [g.normal(size=(3, 3)) * 0.5, g.normal(size=(2, 3)) * 0.5],
                "biases": [np.zeros(3), np.zeros(2)], "activation": "tanh"}

    bad_weights = st.sampled_from([[], None, [np.ones((3, 4))], [np.full((3, 3), NAN), np.ones((2, 3))], "W"])
    XY = {"X": np.zeros((2, 3)), "Y": np.zeros((2, 2))}
    add("criticality.forward_pass", cr.forward_pass, lambda: {**dyn_args(), "X": XY["X"]},
        M("X", bad_array((2, 3), extra=(np.zeros((2, 4)),)).filter(lambda a: not (  # other P, or one point: valid
            isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size > 0 and np.all(np.isfinite(a))
            and ((a.ndim == 2 and a.shape[1] == 3) or a.shape == (3,)))), "X"),
        M("weights", bad_weights, "weight"), M("activation", _bad_activation(), "activation"))
    add("criticality.dynamic_neuron_terms", cr.dynamic_neuron_terms,
        lambda: {**dyn_args(), "h": [np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2))], "Y": XY["Y"],
                 "lam": 1.0, "beta": 0.5},
        M("h", st.sampled_from([[], None, [np.zeros((2, 3))],
                                [np.full((2, 3), NAN), np.zeros((2, 3)), np.zeros((2, 2))],
                                [np.zeros((2, 3)), np.zeros((1, 3)), np.zeros((2, 2))]]), "h"),
        M("Y", st.sampled_from([np.zeros((2, 3)), np.full((2, 2), NAN), "y", None]), "Y"),
        M("weights", bad_weights, "weight"), M("lam", bad_positive()), M("beta", bad_finite(extra=(-1.0,))))
    add("criticality.sample_dynamic_ensemble", cr.sample_dynamic_ensemble,
        lambda: {**dyn_args(), **XY, "lam": 4.0, "beta": 1.0, "n_samples": 3, "n_burn": 2, "n_leapfrog": 2, "rng": 0},
        M("X", st.sampled_from([np.zeros((2, 4)), np.full((2, 3), NAN), "x", None, np.zeros((0, 3))]), "X"),
        M("Y", st.sampled_from([np.zeros((3, 2)), np.zeros((2, 3)), np.full((2, 2), INF), "y"]), "Y"),
        M("weights", bad_weights, "weight"), M("activation", _bad_activation(), "activation"),
        M("lam", bad_positive()), M("beta", bad_finite(extra=(-1.0,))), M("sigma_w2", bad_positive()),
        M("sigma_b2", bad_positive()), M("n_samples", bad_count(minimum=2)), M("n_burn", bad_count(minimum=0)),
        M("n_leapfrog", bad_count()), M("target_accept", bad_fraction(extra=(0.0, 1.0))),
        M("learn_params", st.sampled_from(["yes", 1, None])), M("keep_trace", st.sampled_from(["no", 0, None])))

    # ------------------------------------------------------------------------------ boltzmann
    def rbm_call(X: Any, **kw: Any) -> Any:
        return bz.RBM(**kw).fit(X)

    add("boltzmann.RBM", rbm_call, lambda: {"X": _binary(20, 6), "n_hidden": 3, "n_epochs": 1, "batch_size": 10,
                                            "rng": 0},
        M("X", st.one_of(bad_data((20, 6)), st.sampled_from([np.full((20, 6), 2.0), np.zeros((0, 6))])), "X", "data"),
        M("n_hidden", bad_count()), M("n_epochs", bad_count()), M("learning_rate", bad_positive()),
        M("batch_size", bad_count()), M("k", bad_count()), M("momentum", bad_fraction(extra=(1.0,))),
        M("weight_decay", bad_finite(extra=(-1.0,))), M("visible", bad_str), M("init_scale", bad_positive()))
    add("boltzmann.BoltzmannMachine", lambda samples, **kw: bz.BoltzmannMachine(**kw).fit(samples),
        lambda: {"samples": _binary(), "max_iter": 2, "n_chains": 8, "n_sweeps": 1, "rng": 0},
        M("samples", st.one_of(bad_array((40, 5)), st.sampled_from([np.full((4, 3), 0.5), np.ones((1, 0))])),
          "samples", "spin"),
        M("max_iter", bad_count()), M("n_chains", bad_count()), M("learning_rate", bad_positive()))
    add("boltzmann.exact_log_partition", bz.exact_log_partition, _rbm_params,
        M("W", bad_array((4, 3)), "W"), M("b", bad_array((4,))), M("c", bad_array((3,))), M("visible", bad_str),
        M("chunk", bad_count()))
    add("boltzmann.ais_log_partition", bz.ais_log_partition,
        lambda: {**_rbm_params(), "n_chains": 4, "n_betas": 10, "rng": 0},
        M("W", bad_array((4, 3)), "W"), M("b", bad_array((4,))), M("c", bad_array((3,))),
        M("base_bias", bad_array((4,))), M("visible", bad_str), M("n_chains", bad_count(minimum=2)),
        M("n_betas", bad_count(minimum=2)))
    add("boltzmann.filters_figure", bz.filters_figure, lambda: {"rbm": _fitted_rbm(), "image_shape": (2, 2)},
        M("rbm", st.sampled_from([None, 3, "rbm", np.zeros(3)])),
        M("image_shape", st.sampled_from([(3, 3), (0, 4), (-2, -2), (2,), "2x2", None, (2.5, 1.6)]), "image_shape"),
        M("n_filters", bad_count()), M("ncols", bad_count()))
    add("boltzmann.image_grid_figure", bz.image_grid_figure, lambda: {"images": _binary(4, 4), "image_shape": (2, 2)},
        M("images", st.one_of(bad_array((4, 4)), st.sampled_from([np.zeros((0, 4))]))),
        M("image_shape", st.sampled_from([(3, 3), (0, 4), (-2, -2), (2,), "2x2", None, (2.5, 1.6)]), "image_shape"),
        M("ncols", bad_count()), M("cell", bad_positive()))

    # ------------------------------------------------------------------------------- networks
    add("networks.mlp", nw.mlp, lambda: {"widths": [3, 2], "rng": 0},
        M("widths", st.sampled_from([[], [3], [3, 0], [3, -1], [3, 2.5], "3,2", None, 3, [[3, 2]]]), "widths"),
        M("activation", _bad_activation()))
    add("networks.checkpoint_steps", nw.checkpoint_steps, lambda: {"steps": 100, "n": 5},
        M("steps", bad_count()), M("n", bad_count(minimum=2)))
    # a str is read as a checkpoint path: a missing one is a FileNotFoundError naming it
    add("networks.extract_weights", nw.extract_weights, lambda: {"net": _net()}, M("net", _bad_nn(),
                                                                                   missing_file_ok=True))
    add("networks.to_spins", nw.to_spins, lambda: {"net": _net()}, M("net", _bad_nn(), missing_file_ok=True))
    add("networks.train", lambda model, data, steps, **kw: nw.train(model, data, steps, **kw),
        lambda: {"model": nw.mlp([3, 2], rng=0), "data": _np_data(), "steps": 2, "batch_size": 8, "checkpoints": 2,
                 "rng": 0},
        M("model", _bad_nn()),
        M("data", st.sampled_from([None, 3, "d", (np.zeros((0, 3)), np.zeros(0)), (np.full((4, 3), NAN), np.zeros(4)),
                                   (np.zeros((4, 3)), np.zeros(5))])),
        M("steps", bad_count()), M("lr", bad_positive()), M("batch_size", bad_count()), M("optimizer", bad_str))
    add("networks.map_network", nw.map_network,
        lambda: {"net": _net(), "example_input": __import__("torch").zeros(1, 3, dtype=__import__("torch").float64)},
        M("net", _bad_nn()), M("example_input", st.sampled_from([None, "x", 3.0, np.zeros((1, 0))]), "example_input",
                                "input"))
    add("networks.cnn", nw.cnn, lambda: {"in_shape": (1, 8, 8), "channels": (2, 3), "n_classes": 4, "rng": 0},
        M("in_shape", st.sampled_from([(), (0, 8, 8), (1, -8, 8), (1, 8), "1x8x8", None, (1, 2.5, 8)]), "in_shape"),
        M("channels", st.sampled_from([(), (2,), (0, 3), (2, -1), (2.5, 3), "2,3", None]), "channels"),
        M("n_classes", bad_count()), M("activation", _bad_activation()))
    add("networks.resnet", nw.resnet, lambda: {"in_shape": (1, 8, 8), "width": 2, "n_blocks": 1, "n_classes": 4,
                                               "rng": 0},
        M("in_shape", st.sampled_from([(), (0, 8, 8), (1, -8, 8), (1, 8), "1x8x8", None]), "in_shape"),
        M("width", bad_count()), M("n_blocks", st.sampled_from([-1, 2.5, "2", None, [1]])), M("n_classes", bad_count()),
        M("activation", _bad_activation()))
    add("networks.spin_graph", nw.spin_graph, lambda: {"net": _net()},
        M("net", _bad_nn(), missing_file_ok=True),
        M("example_input", st.sampled_from(["x", 3.0, np.zeros((1, 0))]), "example_input", "input"))
    add("networks.init_theory", nw.init_theory, lambda: {"graph": None},
        M("graph", st.sampled_from([None, 3, "graph", np.zeros((3, 3))]), "graph", "blocks"))
    add("networks.checkpoint_step", nw.checkpoint_step, lambda: {"name": "step_00010.pt"},
        M("name", st.sampled_from([None, 3, 2.5, ["step_1.pt"]]), "name"))
    add("networks.list_checkpoints", nw.list_checkpoints, lambda: {"path": bad_files()["directory"]},
        M("path", bad_path(), "path", "checkpoint", missing_file_ok=True))
    add("networks.fourier_prediction", nw.fourier_prediction, lambda: {"graph": None},
        M("graph", st.sampled_from([None, 3, "graph", np.zeros((3, 3))]), "graph"))
    add("networks.variance_profile_tc", nw.variance_profile_tc, lambda: {"graph_or_blocks": None},
        M("graph_or_blocks", st.sampled_from([None, 3, "graph", np.zeros((3, 3))]), "graph", "blocks"))
    add("networks.load_checkpoint", nw.load_checkpoint, lambda: {"path": None},
        M("path", bad_path(), "path", "checkpoint", missing_file_ok=True))
    add("networks.read_checkpoint_index", nw.read_checkpoint_index, lambda: {"directory": None},
        M("directory", st.sampled_from(["text", "empty", "pickle"]).map(lambda k: bad_files()[k]), "directory"))

    # ------------------------------------------------------------------------------ landscape
    L3 = lambda: {"model": _net(), "loss_fn": _loss(), "data": _data()}  # noqa: E731
    torch_muts = (M("model", _bad_nn()), M("data", st.sampled_from([None, 3, "d", (np.zeros((0, 3)), np.zeros(0))])))
    add("landscape.HessianOperator", ls.HessianOperator, L3, *torch_muts)
    add("landscape.hessian_eigs", ls.hessian_eigs, lambda: {**L3(), "k": 1}, *torch_muts,
        M("k", bad_count(extra=(10**6,))), M("which", bad_str))
    add("landscape.hessian_trace", ls.hessian_trace, lambda: {**L3(), "n_matvec": 6}, *torch_muts,
        M("method", bad_str), M("n_matvec", bad_count()))
    add("landscape.spectral_density", ls.spectral_density, lambda: {**L3(), "n_steps": 4, "n_vectors": 1}, *torch_muts,
        M("n_steps", bad_count()), M("n_vectors", bad_count()),
        M("sigma", bad_positive().filter(lambda v: v is not None)))  # None: the documented default
    add("landscape.curvature_fd", ls.curvature_fd, lambda: {**L3(), "n_directions": 2}, *torch_muts,
        M("n_directions", bad_count()), M("eps", bad_positive()))
    add("landscape.projected_hessian", ls.projected_hessian, lambda: {**L3(), "directions": np.eye(26)[:2]},
        *torch_muts, M("directions", bad_array((2, 26)), "direction"))
    add("landscape.projection_curvature", ls.projection_curvature, lambda: {**L3(), "directions": np.eye(26)[:2]},
        *torch_muts, M("directions", bad_array((2, 26)), "direction"))
    add("landscape.random_plane_statistics", ls.random_plane_statistics,
        lambda: {**L3(), "n_planes": 4, "mean_eig": 0.0, "std_eig": 1.0}, *torch_muts,
        M("n_planes", bad_count()), M("std_eig", bad_positive().filter(lambda v: v is not None)))  # None: estimated
    add("landscape.hessian_directions", ls.hessian_directions, L3, *torch_muts)
    add("landscape.surface_1d", ls.surface_1d, lambda: {**L3(), "n_points": 3, "rng": 0}, *torch_muts,
        M("n_points", bad_count(minimum=2)), M("span", st.sampled_from([(1.0, -1.0), (0.0, 0.0), (NAN, 1.0), (1.0,),
                                                                          "wide", None])))
    add("landscape.surface_2d", ls.surface_2d, lambda: {**L3(), "n_points": 3, "rng": 0}, *torch_muts,
        M("n_points", bad_count(minimum=2)), M("span", st.sampled_from([(1.0, -1.0), (0.0, 0.0), (NAN, 1.0), (1.0,),
                                                                          "wide", None])))
    add("landscape.interpolate", ls.interpolate,
        lambda: {"model_a": _net(), "model_b": _net(), "loss_fn": _loss(), "data": _data(), "n_points": 3},
        M("model_a", _bad_nn()), M("model_b", _bad_nn()), M("n_points", bad_count(minimum=2)))
    add("landscape.weight_matching", ls.weight_matching, lambda: {"model_a": _net(), "model_b": _net()},
        M("model_a", _bad_nn()), M("model_b", _bad_nn()), M("max_iter", bad_count()))
    add("landscape.evaluate_losses", lambda prob, coords, directions: ls.evaluate_losses(prob, coords, directions),
        lambda: {"prob": None, "coords": __import__("torch").zeros(1, 2, dtype=__import__("torch").float64),
                 "directions": __import__("torch").zeros(2, 26, dtype=__import__("torch").float64)},
        M("prob", _bad_nn(), "prob", "problem"))
    add("landscape.sharpness", ls.sharpness, lambda: {**L3(), "rho": 0.05, "n_directions": 2, "rng": 0}, *torch_muts,
        M("rho", bad_positive()), M("kind", bad_str), M("n_steps", bad_count()))
    add("landscape.sharpness_vs_error", ls.sharpness_vs_error,
        lambda: {"models": [_net(), _net()], "loss_fn": _loss(), "train_data": _data(), "test_data": _data()},
        M("models", st.sampled_from([[], None, 3, [None, None]])), M("rho", bad_positive()))
    add("landscape.random_walk", ls.random_walk, lambda: {**L3(), "n_steps": 2, "n_walkers": 1, "rng": 0}, *torch_muts,
        M("n_steps", bad_count()), M("step_size", bad_positive()), M("n_walkers", bad_count()))
    add("landscape.edge_of_stability", ls.edge_of_stability, lambda: {**L3(), "lr": 0.1, "n_steps": 2, "eig_every": 1},
        *torch_muts, M("lr", bad_positive()), M("n_steps", bad_count()), M("eig_every", bad_count()))
    add("landscape.cluster_solutions", ls.cluster_solutions,
        lambda: {"solutions": np.random.default_rng(0).normal(size=(4, 3))},
        # any (K >= 3, N) array of distinct finite points is valid: only those that are not are drawn
        M("solutions", st.one_of(_with_nonfinite((4, 3)), _bad_dtype((4, 3)),
                                 st.sampled_from([np.zeros((1, 3)), np.ones((4, 3)), np.zeros(3), [], "abc",
                                                  np.zeros((0, 3))])), "solution"),
        M("method", bad_str))
    add("landscape.pca_directions", ls.pca_directions,
        lambda: {"trajectory": np.random.default_rng(0).normal(size=(5, 4))},
        M("trajectory", st.one_of(bad_array((5, 4)), st.sampled_from([np.zeros((1, 4)), []]))),
        M("n_components", bad_count(extra=(10,))))
    add("landscape.orthonormalize", ls.orthonormalize, lambda: {"directions": [np.ones(3), np.array([1.0, 0, 0])]},
        M("directions", st.sampled_from([[], [np.zeros(3)], [np.ones(3), np.ones(3)], [np.full(3, NAN)],
                                         [np.ones(3), np.ones(4)], "d", None]), "direction"))
    add("landscape.flat_parameters", ls.flat_parameters, lambda: {"model": _net()}, M("model", _bad_nn()),
        M("params", st.sampled_from(["no_such_param", 3, ["nope"]]), "param"))
    add("landscape.random_direction", ls.random_direction, lambda: {"model": _net(), "rng": 0},
        M("model", _bad_nn()), M("normalization", bad_str), M("bias", bad_str))
    add("landscape.user_direction", ls.user_direction, lambda: {"model": _net(), "direction": np.ones(26)},
        M("model", _bad_nn()), M("direction", bad_array((26,))))
    add("landscape.filter_normalize", ls.filter_normalize, lambda: {"direction": np.ones(26), "model": _net()},
        M("model", _bad_nn()), M("direction", bad_array((26,))), M("bias", bad_str))
    add("landscape.goe2_probabilities", ls.goe2_probabilities, lambda: {"mu": 0.5},
        M("mu", bad_finite(extra=([], np.full(3, NAN)))))

    def lanczos_call(v0: Any, n_steps: Any) -> Any:
        import torch

        A = torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64))
        return ls.lanczos(lambda v: A @ v, v0, n_steps)

    add("landscape.lanczos", lanczos_call,
        lambda: {"v0": __import__("torch").ones(5, dtype=__import__("torch").float64), "n_steps": 3},
        M("v0", st.sampled_from([None, "v", 3.0, np.zeros(0)]).map(lambda v: v), "v0"), M("n_steps", bad_count()))

    # ---------------------------------------------------------------------------- criticality
    act = M("activation", _bad_activation())
    sw, sb = M("sigma_w2", bad_positive()), M("sigma_b2", bad_finite(extra=(-1.0,)))
    # the vectorised maps take arrays of valid values (documented and used by the phase diagram)
    sw_arr = M("sigma_w2", bad_positive(arrays_ok=True))
    sb_arr = M("sigma_b2", st.sampled_from([NAN, INF, -1.0, True, "abc", None, 1j, [0.1, -1.0], [0.1, NAN], []]))
    q_nonneg = st.sampled_from([-1.0, NAN, INF, True, "abc", None, []])  # q = 0 (zero input) is a valid limit
    add("criticality.get_activation", cr.get_activation, lambda: {"activation": "tanh"}, act)
    add("criticality.chi_1", cr.chi_1, lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05},
        act, sw, sb, M("q0", bad_positive()))
    add("criticality.fixed_point", cr.fixed_point, lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05},
        act, sw, sb, M("q0", bad_positive()), M("n_quad", bad_count(minimum=2)))
    add("criticality.critical_sigma_w2", cr.critical_sigma_w2, lambda: {"activation": "tanh", "sigma_b2": 0.05},
        act, sb, M("q0", bad_positive()))
    add("criticality.critical_line", cr.critical_line, lambda: {"activation": "tanh", "sigma_b2": [0.0, 0.05]},
        act, M("sigma_b2", st.sampled_from([[], [-1.0], [NAN], ["a"], None, [[0.1]]])), M("q0", bad_positive()))
    add("criticality.length_map", cr.length_map,
        lambda: {"activation": "tanh", "q": 1.0, "sigma_w2": 1.5, "sigma_b2": 0.05},
        act, M("q", q_nonneg), sw, sb)
    add("criticality.correlation_map", cr.correlation_map,
        lambda: {"activation": "tanh", "q": 1.0, "c": 0.5, "sigma_w2": 1.5, "sigma_b2": 0.05},
        act, M("q", bad_positive(arrays_ok=True)), M("c", st.sampled_from([NAN, 2.0, -1.5, "a", None])), sw_arr,
        sb_arr)
    add("criticality.iterate_maps", cr.iterate_maps,
        lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05, "q0": 1.0, "c0": 0.5, "depth": 3},
        act, sw, sb, M("q0", bad_positive()), M("c0", st.sampled_from([NAN, 2.0, -1.5, "a", None])),
        M("depth", bad_count()))
    for nm, fn in [("criticality.erf_maps", cr.erf_maps), ("criticality.relu_maps", cr.relu_maps)]:
        add(nm, fn, lambda: {"q": 1.0, "c": 0.5, "sigma_w2": 1.5, "sigma_b2": 0.05},
            M("q", bad_positive(arrays_ok=True)), M("c", st.sampled_from([NAN, 2.0, -1.5, "a", None])), sw_arr,
            sb_arr)
    add("criticality.phase_diagram", cr.phase_diagram,
        lambda: {"activation": "tanh", "sigma_w2_grid": [1.0, 2.0], "sigma_b2_grid": [0.0, 0.1], "n_mehler": 8},
        act, M("sigma_w2_grid", st.sampled_from([[], [-1.0], [NAN], ["a"], None]), "sigma_w2"),
        M("sigma_b2_grid", st.sampled_from([[], [-1.0], [NAN], ["a"], None]), "sigma_b2"))
    add("criticality.depth_scale_cut", cr.depth_scale_cut,
        lambda: {"activation": "tanh", "sigma_w2": [1.0, 2.0], "sigma_b2": 0.05, "n_mehler": 8},
        act, M("sigma_w2", st.sampled_from([[], [-1.0], [NAN], ["a"], None])), sb)
    add("criticality.rg_step", cr.rg_step, lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05},
        act, sw_arr, sb_arr)
    add("criticality.rg_flow", cr.rg_flow, lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05,
                                                    "n_steps": 2},
        act, sw, sb, M("n_steps", bad_count()))
    add("criticality.rg_eigenvalues", cr.rg_eigenvalues, lambda: {"activation": "tanh", "sigma_b2": 0.05},
        act, sb, M("h", bad_positive()))
    add("criticality.decimate", cr.decimate, lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05,
                                                      "n_quad_2d": 16},
        act, sw, sb, M("n_quad_2d", bad_count(minimum=2)))
    add("criticality.correlation_length_exponent", cr.correlation_length_exponent,
        lambda: {"activation": "tanh", "sigma_b2": (0.01, 0.05)},
        act, M("sigma_b2", st.sampled_from([(), (-1.0,), (NAN,), ("a",), None])))
    add("criticality.critical_init", cr.critical_init, lambda: {"activation": "tanh"}, act,
        M("n_quad", bad_count(minimum=2)))
    add("criticality.universality_class", cr.universality_class, lambda: {"activation": "tanh"}, act)
    add("criticality.chi_parallel_perp", cr.chi_parallel_perp, lambda: {"activation": "tanh", "K": 0.5, "C_W": 1.0},
        act, M("K", q_nonneg), M("C_W", bad_positive()))  # K = 0: the fixed point of the K* = 0 class
    add("criticality.kernel_recursion", cr.kernel_recursion,
        lambda: {"activation": "tanh", "C_b": 0.0, "C_W": 1.0, "K1": 1.0, "depth": 3},
        act, M("C_b", bad_finite(extra=(-1.0,))), M("C_W", bad_positive()), M("K1", bad_positive()),
        M("depth", bad_count()))

    def dn_args() -> dict[str, Any]:
        g = np.random.default_rng(0)
        W = [g.normal(size=(3, 3)) * 0.5, g.normal(size=(2, 3)) * 0.5]
        return {"weights": W, "biases": [np.zeros(3), np.zeros(2)], "activation": "tanh", "lam": 1.0}

    add("criticality.dynamic_neuron_energy", cr.dynamic_neuron_energy,
        lambda: {**dn_args(), "h": [np.zeros(3), np.zeros(3), np.zeros(2)]},
        act, M("lam", bad_positive()),
        M("h", st.sampled_from([[], None, [np.zeros(3)], [np.full(3, NAN), np.zeros(3), np.zeros(2)]])),
        M("weights", st.sampled_from([[], None, [np.ones((3, 3))], [np.full((3, 3), NAN), np.ones((2, 3))]]), "weight"))
    add("criticality.sample_dynamic_neurons", cr.sample_dynamic_neurons,
        lambda: {**dn_args(), "x": np.zeros(3), "rng": 0},
        act, M("lam", bad_positive()), M("x", bad_array((3,))),
        M("weights", st.sampled_from([[], None, [np.ones((3, 4))], [np.full((3, 3), NAN), np.ones((2, 3))]]), "weight"))
    add("criticality.simulate_signal", cr.simulate_signal,
        lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05, "width": 8, "depth": 2, "n_networks": 2,
                 "rng": 0, "device": "cpu"},
        act, sw, sb, M("width", bad_count()), M("depth", bad_count()), M("n_networks", bad_count()))
    add("criticality.gradient_norms", cr.gradient_norms,
        lambda: {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05, "width": 8, "depth": 2, "n_networks": 2,
                 "rng": 0, "device": "cpu"},
        act, sw, sb, M("width", bad_count()), M("depth", bad_count()), M("n_networks", bad_count()))
    add("criticality.trainability", cr.trainability, lambda: {"sigma_w2": (1.0,), "depths": (2,), "width": 8,
                                                              "steps": 2, "n_train": 32, "rng": 0, "device": "cpu"}
        if "steps" in inspect.signature(cr.trainability).parameters else {"sigma_w2": (1.0,), "depths": (2,)},
        act, M("sigma_w2", st.sampled_from([(), (-1.0,), (NAN,), ("a",), None])),
        M("depths", st.sampled_from([(), (0,), (-2,), (2.5,), ("a",), None])), M("width", bad_count()))

    # ----------------------------------------------------------------------------------- data
    add("data.teacher_student", da.teacher_student, lambda: {"n_samples": 10, "n_features": 3, "rng": 0},
        M("n_samples", bad_count()), M("n_features", bad_count()), M("n_classes", bad_count(minimum=2)),
        M("hidden", bad_count()))
    add("data.load_digits", da.load_digits, lambda: {"n_samples": 10},
        M("n_samples", bad_count(extra=(10**7,))))
    add("data.load_mnist5000", da.load_mnist5000, lambda: {"n_samples": 10},
        M("n_samples", bad_count(extra=(10**7,))))
    add("data.load_dataset", da.load_dataset, lambda: {"name": "digits", "n_samples": 10},
        M("name", st.sampled_from(["no-such-dataset", "", 3, None]).map(
            lambda v: v), "name", "dataset"), M("n_samples", bad_count(extra=(10**7,))))
    add("data.load_npz", da.load_npz, lambda: {"path": None},
        M("path", bad_path(), "path", "npz", missing_file_ok=True))
    add("data.load_idx", da.load_idx, lambda: {"images": None, "labels": None},
        M("images", bad_path(), "images", "idx", missing_file_ok=True))

    def split_call(test_fraction: Any) -> Any:
        return da.teacher_student(10, 3, rng=0).split(test_fraction)

    add("data.Dataset", split_call, lambda: {"test_fraction": 0.2},
        M("test_fraction", bad_fraction(extra=(0.0, 1.0))))

    # -------------------------------------------------------------------------------- results
    add("results.Estimate", rs.Estimate, lambda: {"mean": 1.0, "error": 0.1},
        M("mean", st.sampled_from(["a", None, [1.0], 1j])), M("error", st.sampled_from([-1.0, "a", None, [1.0], 1j])))
    add("results.load_result", rs.load_result, lambda: {"cls": rs.Result, "directory": None},
        M("directory", bad_path(), "directory", "results", missing_file_ok=True))
    add("results.save_result", rs.save_result,
        lambda: {"result": None, "directory": bad_files()["directory"] / "out"},
        M("result", st.sampled_from([None, 3, "r", {"a": 1}])))
    add("results.to_jsonable", rs.to_jsonable, lambda: {"obj": {"a": 1}},
        M("obj", st.sampled_from([object(), {"a": object()}, lambda: 0])))
    add("results.RunDir", rs.RunDir, lambda: {"path": None},
        M("path", st.sampled_from(["text", "empty", "pickle"]).map(lambda k: bad_files()[k]), "path", "directory"))
    add("results.atomic_write_text", rs.atomic_write_text, lambda: {"path": None, "text": "x"},
        M("path", st.sampled_from(["directory"]).map(lambda k: bad_files()[k]), "path"))
    add("results.atomic_write_bytes", rs.atomic_write_bytes,
        lambda: {"path": bad_files()["directory"] / "out" / "out.bin", "data": b"x"},
        M("data", st.sampled_from(["text", None, 3, [1]]), "data"))

    # --------------------------------------------------------------------------------- report
    x3 = np.arange(3.0)
    add("report.line_plot", rp.line_plot, lambda: {"x": x3, "ys": {"a": x3}},
        M("x", bad_array((3,))), M("ys", st.sampled_from([{}, {"a": np.ones(4)}, {"a": "abc"}, None, 3]), "ys"))
    add("report.errorbar_plot", rp.errorbar_plot, lambda: {"series": {"a": (x3, x3, x3)}},
        M("series", st.sampled_from([{}, {"a": (x3, x3)}, {"a": (x3, np.ones(4), x3)}, {"a": "abc"}, None, 3]),
          "series"))
    add("report.new_figure", rp.new_figure, lambda: {},
        M("nrows", bad_count()), M("ncols", bad_count()),
        M("size", st.sampled_from([(0.0, 1.0), (-1.0, 2.0), (NAN, 2.0), (1.0,), "big"])))
    add("report.figure_png", rp.figure_png, lambda: {"fig": rp.new_figure()[0] if isinstance(rp.new_figure(), tuple)
                                                     else rp.new_figure()},
        M("fig", st.sampled_from([None, 3, "fig", np.zeros(3)])), M("dpi", bad_count()))
    add("report.Section", rp.Section, lambda: {"title": "t"},
        M("title", st.sampled_from([None, 3, ["t"]])),
        M("tables", st.sampled_from([3, "t", [("name", 3)], [("name", ["row"])]]), "table"))
    add("report.render_report", rp.render_report, lambda: {"title": "t", "sections": []},
        M("sections", st.sampled_from([None, 3, "s", [3], [None]]), "section"))
    add("report.write_report", rp.write_report,
        lambda: {"path": bad_files()["directory"] / "out" / "report.html", "title": "t", "sections": []},
        M("path", st.sampled_from([3.5, None, ["report.html"]]), "path"),
        M("sections", st.sampled_from([None, 3, "s", [3], [None]]), "section"))
    add("report.rerender", rp.rerender, lambda: {"run_dir": None},
        M("run_dir", bad_path(), "run_dir", "report", "run directory", missing_file_ok=True))
    return T


# Known gaps (each runs as a strict xfail in test_known_gaps, so a fix is noticed). Empty: every case passes.
# Key "entry:argument"; the reason quotes the failure. Fix the code, then delete the line.
KNOWN_GAPS_BY_KEY: dict[str, str] = {}


# Callables in an ``__all__`` that are deliberately not in the table, with the reason.
SKIP: dict[str, str] = {
    "memory.alpha_c": "takes no arguments (a number from the AGS theory).",
    "results.package_versions": "takes no arguments.",
    "results.Result": "abstract base class of the result dataclasses; holds no fields of its own.",
    "networks.Sign": "a torch nn.Module with no constructor arguments (elementwise sign activation).",
    "networks.MappedNetwork": "a NamedTuple returned by to_spins, not built from user input.",
    "networks.CheckpointError": "an exception type (a ValueError subclass), raised, not called.",
    "networks.NeuronLayer": "a record of the SpinGraph that map_network (covered) returns.",
    "networks.CouplingBlock": "a record of the SpinGraph that map_network (covered) returns.",
    "networks.SpinGraph": "the result of map_network (covered), not built from user input.",
    "networks.FourierPrediction": "the result of fourier_prediction (covered), not built from user input.",
    "networks.InitTheory": "the result of init_theory (covered), not built from user input.",
    "criticality.Activation": "a record built by get_activation (covered) from a name or callable.",
}
# Result containers: frozen dataclasses the library returns. They are outputs, not input paths;
# round-tripping them is covered by tests/core/test_core_results.py.
RESULT_SUFFIXES = ("Result", "Solution", "Samples", "Eigs", "Trace", "Density", "FD", "Stability", "Interpolation",
                   "Directions", "Curvature", "Statistics", "Walk", "Study", "1D", "2D", "Ultrametricity", "Fit",
                   "Point", "Norms", "Cut", "Flow", "Diagram", "Simulation", "Trainability", "Decimation", "Init")


def public_callables() -> list[str]:
    """Every callable in the ``__all__`` of spinlens and its subpackages ("sub.name"), modules excluded."""
    names: list[str] = []
    import spinlens

    for n in spinlens.__all__:
        obj = getattr(spinlens, n)
        if callable(obj) and not inspect.ismodule(obj) and not inspect.isclass(obj):
            names.append(f"spinlens.{n}")
    for sub in SUBPACKAGES:
        mod = importlib.import_module(f"spinlens.{sub}")
        for n in mod.__all__:
            obj = getattr(mod, n)
            if callable(obj) and not inspect.ismodule(obj):
                names.append(f"{sub}.{n}")
    return names


def _is_result_container(qual: str) -> bool:
    sub, n = qual.split(".", 1)
    obj = getattr(importlib.import_module(f"spinlens.{sub}" if sub != "spinlens" else "spinlens"), n)
    return inspect.isclass(obj) and hasattr(obj, "__dataclass_fields__") and n.endswith(RESULT_SUFFIXES) \
        and qual not in {"landscape.HessianOperator"}


TABLE: list[Entry] = _entries()
BY_NAME = {e.name: e for e in TABLE}
for _e in TABLE:
    for _m in _e.mutations:
        _m.xfail = KNOWN_GAPS_BY_KEY.get(f"{_e.name}:{_m.arg}", _m.xfail)


# ================================================================================= the checks
def _call(entry: Entry, mut: Mutation, bad: Any) -> None:
    kwargs = entry.valid()
    kwargs[mut.arg] = bad
    allowed: tuple[type[BaseException], ...] = (ValueError, TypeError)
    if mut.missing_file_ok:
        allowed = (*allowed, FileNotFoundError)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = entry.call(**kwargs)
    except allowed as exc:
        msg = str(exc).lower()
        assert any(n.lower() in msg for n in mut.accepted_names()), (
            f"{entry.name}({mut.arg}={bad!r}): {type(exc).__name__} does not name the argument "
            f"(expected one of {mut.accepted_names()}): {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - the point of the test
        raise AssertionError(f"{entry.name}({mut.arg}={bad!r}) raised {type(exc).__name__}, not ValueError/TypeError: "
                             f"{exc}") from exc
    raise AssertionError(f"{entry.name}({mut.arg}={bad!r}) returned silently: {type(out).__name__}")


def _run(entry: Entry, muts: list[Mutation], n: int) -> None:
    # no shrinking: the failure message already shows the bad value, and shrinking re-runs slow calls
    @settings(max_examples=n, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        mut = data.draw(st.sampled_from(muts), label="mutation")
        bad = data.draw(mut.values, label=mut.arg)
        _call(entry, mut, bad)

    check()


def _live(entry: Entry) -> list[Mutation]:
    return [m for m in entry.mutations if m.xfail is None]


def test_table_covers_every_public_callable() -> None:
    names = public_callables()
    covered = set(BY_NAME)
    missing = [n for n in names if n not in covered and n not in SKIP and not _is_result_container(n)]
    assert not missing, f"public callables without a bad-input row (add one, or a justified SKIP entry): {missing}"
    stale = [n for n in list(SKIP) + list(covered) if n not in names]
    assert not stale, f"table/skip names that are no longer public: {stale}"
    assert all(e.mutations for e in TABLE)


@pytest.mark.parametrize("entry", TABLE, ids=lambda e: e.name)
def test_valid_arguments_run(entry: Entry) -> None:
    """The builder's arguments are valid, so a failure below is the mutation's doing."""
    if entry.name in VALID_NEEDS_FILES:
        pytest.skip("valid arguments are files; the happy path is tested with the module")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entry.call(**entry.valid())


VALID_NEEDS_FILES = {"networks.load_checkpoint", "networks.list_checkpoints", "networks.fourier_prediction",
                     "networks.variance_profile_tc", "networks.init_theory", "networks.read_checkpoint_index",
                     "data.load_npz", "data.load_idx",
                     "results.load_result", "results.save_result", "results.RunDir", "results.atomic_write_text",
                     "results.atomic_write_bytes", "report.write_report", "report.rerender",
                     "memory.capacity_figure", "memory.phase_diagram_figure", "landscape.evaluate_losses"}


@pytest.mark.parametrize("entry", [e for e in TABLE if _live(e)], ids=lambda e: e.name)
def test_bad_input_is_a_clear_error(entry: Entry) -> None:
    _run(entry, _live(entry), EXAMPLES)


KNOWN_GAPS = [(e, m) for e in TABLE for m in e.mutations if m.xfail is not None]


@pytest.mark.parametrize("entry,mut", [pytest.param(e, m, marks=pytest.mark.xfail(reason=m.xfail, strict=True),
                                                    id=f"{e.name}-{m.arg}") for e, m in KNOWN_GAPS])
def test_known_gaps(entry: Entry, mut: Mutation) -> None:
    _run(entry, [mut], EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("entry", [e for e in TABLE if _live(e)], ids=lambda e: e.name)
def test_bad_input_is_a_clear_error_large(entry: Entry) -> None:
    _run(entry, _live(entry), SLOW_EXAMPLES)
