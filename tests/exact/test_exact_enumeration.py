"""Exact enumeration against itertools brute force, and its input checks."""
from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp

from spinlens import IsingModel
from spinlens.exact import MAX_SPINS, boltzmann_probabilities, enumerate
from spinlens.spins import chain, sk
from tests.conftest import random_model


def brute_force(model: IsingModel, beta: float) -> dict[str, object]:
    n = model.n_spins
    S = np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.float64)
    J = model.dense_J()
    E = -0.5 * np.einsum("ki,ij,kj->k", S, J, S) - S @ model.h
    a = -beta * E
    amax = a.max()
    w = np.exp(a - amax)
    Z = w.sum()
    p = w / Z
    U = p @ E
    return {
        "log_z": np.log(Z) + amax,
        "energy": U,
        "heat_capacity": beta**2 * (p @ (E - U) ** 2),
        "m": p @ S,
        "corr": np.einsum("k,ki,kj->ij", p, S, S),
        "ground": E.min(),
    }


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 10])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("field", [False, True])
def test_enumeration_equals_brute_force(n: int, sparse: bool, field: bool) -> None:
    if n == 1:
        model = IsingModel(np.zeros((1, 1)), [0.7] if field else None)
    else:
        model = random_model(n, rng=100 + n, sparse=sparse, field=field)
    assert model.is_sparse == (sparse and n > 1)
    for beta in (0.2, 1.0, 3.0):
        r = enumerate(model, beta)
        ref = brute_force(model, beta)
        assert r.log_z == pytest.approx(ref["log_z"], abs=1e-11)
        assert r.energy == pytest.approx(ref["energy"], abs=1e-11)
        assert r.heat_capacity == pytest.approx(ref["heat_capacity"], abs=1e-9)
        np.testing.assert_allclose(r.m, ref["m"], atol=1e-12)
        np.testing.assert_allclose(r.corr, ref["corr"], atol=1e-12)
        assert r.ground_energy == pytest.approx(ref["ground"], abs=1e-12)
        assert r.free_energy == pytest.approx(-r.log_z / beta)
        assert r.entropy == pytest.approx(r.log_z + beta * r.energy)
        assert r.n_spins == n


@pytest.mark.parametrize(("n", "sparse", "field"), [(12, False, False), (13, True, True), (14, False, True)])
def test_enumeration_with_several_gray_blocks_equals_brute_force(n: int, sparse: bool, field: bool) -> None:
    # n above LOW_BITS: low-high and high-high pairs are accumulated per block
    model = random_model(n, rng=200 + n, sparse=sparse, field=field, density=0.4)
    betas = np.array([0.3, 1.5])
    r = enumerate(model, betas)
    for i, beta in zip(range(2), betas.tolist(), strict=True):
        ref = brute_force(model, beta)
        assert r.log_z[i] == pytest.approx(ref["log_z"], abs=1e-10)
        assert r.heat_capacity[i] == pytest.approx(ref["heat_capacity"], abs=1e-8)
        np.testing.assert_allclose(r.m[i], ref["m"], atol=1e-11)
        np.testing.assert_allclose(r.corr[i], ref["corr"], atol=1e-11)


def test_array_of_betas_matches_scalar_calls() -> None:
    model = random_model(9, rng=7, field=True)
    betas = np.array([0.05, 0.5, 1.3, 4.0])
    r = enumerate(model, betas)
    assert r.log_z.shape == (4,) and r.m.shape == (4, 9) and r.corr.shape == (4, 9, 9)
    for i, b in zip(range(4), betas, strict=True):
        one = enumerate(model, float(b))
        assert r.log_z[i] == pytest.approx(one.log_z, abs=1e-12)
        assert r.heat_capacity[i] == pytest.approx(one.heat_capacity, abs=1e-10)
        np.testing.assert_allclose(r.corr[i], one.corr, atol=1e-13)
        np.testing.assert_allclose(r.m[i], one.m, atol=1e-13)


def test_thermodynamic_identities_by_finite_differences() -> None:
    # U = -d lnZ / d beta,  C = beta^2 dU^2 ... = -beta^2 dU/dbeta
    model = random_model(8, rng=3, sparse=True)
    b, d = 0.7, 1e-5
    r = enumerate(model, np.array([b - d, b, b + d]))
    assert r.energy[1] == pytest.approx(-(r.log_z[2] - r.log_z[0]) / (2 * d), rel=1e-7)
    assert r.heat_capacity[1] == pytest.approx(-(b**2) * (r.energy[2] - r.energy[0]) / (2 * d), rel=1e-6)


def test_no_overflow_at_very_low_temperature() -> None:
    model = sk(12, rng=5)
    r = enumerate(model, 500.0)
    assert np.isfinite(r.log_z)
    # at T -> 0 the two ground states dominate: ln Z ~ -beta E0 + ln 2
    assert r.log_z == pytest.approx(-500.0 * r.ground_energy + np.log(2.0), abs=1e-6)
    assert r.heat_capacity == pytest.approx(0.0, abs=1e-6)


def test_zero_field_symmetry_path_equals_general_path() -> None:
    # a tiny field breaks the flip symmetry; results must be continuous in h
    model = random_model(10, rng=11, field=False)
    eps = 1e-9
    r0 = enumerate(model, 0.8)
    r1 = enumerate(model.with_field(np.full(10, eps)), 0.8)
    assert r0.log_z == pytest.approx(r1.log_z, abs=1e-7)
    np.testing.assert_allclose(r0.corr, r1.corr, atol=1e-7)
    np.testing.assert_array_equal(r0.m, 0.0)


def test_result_round_trip_and_derived_quantities() -> None:
    model = chain(6, h=0.2)
    r = enumerate(model, 0.9)
    d = r.to_dict()
    assert d["log_z"] == pytest.approx(r.log_z)
    assert set(r.arrays()) == {"m", "corr"}
    assert r.minus_beta_f == pytest.approx(r.log_z / 6)
    np.testing.assert_allclose(np.diag(r.corr), 1.0)
    assert r.magnetization_rms == pytest.approx(np.sqrt(r.corr.sum()) / 6)
    assert r.susceptibility == pytest.approx(0.9 * r.connected_corr.sum() / 6)


def test_boltzmann_probabilities() -> None:
    model = random_model(7, rng=2, sparse=True)
    states, probs = boltzmann_probabilities(model, 1.1)
    assert states.shape == (128, 7) and states.dtype == np.int8
    assert len({s.tobytes() for s in states}) == 128
    assert probs.sum() == pytest.approx(1.0)
    E = model.energy(states)
    r = enumerate(model, 1.1)
    np.testing.assert_allclose(probs, np.exp(-1.1 * E - r.log_z), rtol=1e-10)
    np.testing.assert_allclose(probs @ states, r.m, atol=1e-12)


def test_progress_callback_reaches_total() -> None:
    calls: list[tuple[int, int]] = []
    enumerate(random_model(16, rng=1), 0.5, progress=lambda d, t: calls.append((d, t)))
    assert calls[0][0] == 0
    assert calls[-1][0] == calls[-1][1] == 2**16
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))


def test_n20_is_fast() -> None:
    model = sk(20, h=0.1, rng=0)
    enumerate(sk(4, h=0.1, rng=0), 1.0)  # compiled already (cache), but warm anyway
    t0 = time.perf_counter()
    r = enumerate(model, 1.0)
    elapsed = time.perf_counter() - t0
    assert np.isfinite(r.log_z)
    assert elapsed < 5.0, f"n=20 enumeration took {elapsed:.1f} s"


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), float("inf"), [0.5, -0.1], "hot"])
def test_bad_beta(beta: object) -> None:
    with pytest.raises(ValueError, match="beta"):
        enumerate(chain(4), beta)
    with pytest.raises(ValueError, match="beta"):
        boltzmann_probabilities(chain(4), beta)  # type: ignore[arg-type]


def test_too_many_spins_names_approximate_solvers() -> None:
    big = IsingModel(sp.csr_matrix((MAX_SPINS + 1, MAX_SPINS + 1)))
    with pytest.raises(ValueError, match=r"spinlens\.sampling\.sample.*spinlens\.meanfield\.tap"):
        enumerate(big, 1.0)
    with pytest.raises(ValueError, match="limit of 5 spins"):
        enumerate(chain(6), 1.0, max_spins=5)
    with pytest.raises(ValueError, match="too large"):
        boltzmann_probabilities(IsingModel(np.zeros((21, 21))), 1.0)


def test_not_a_model() -> None:
    with pytest.raises(ValueError, match="IsingModel"):
        enumerate(np.zeros((3, 3)), 1.0)  # type: ignore[arg-type]
