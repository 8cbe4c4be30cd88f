"""IsingModel: the energy convention, validation and the delta-energy invariant."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from spinlens import IsingModel
from spinlens.spins import as_spins
from tests.conftest import random_model


def brute_energy(J: np.ndarray, h: np.ndarray, s: np.ndarray) -> float:
    n = len(s)
    return -sum(J[i, j] * s[i] * s[j] for i in range(n) for j in range(i + 1, n)) - float(h @ s)


@pytest.mark.parametrize("sparse", [False, True])
def test_energy_matches_pairwise_sum(sparse: bool) -> None:
    m = random_model(7, rng=3, sparse=sparse)
    J = m.dense_J()
    for s in itertools.product([-1, 1], repeat=7):
        s = np.array(s)
        assert m.energy(s) == pytest.approx(brute_energy(J, m.h, s), abs=1e-12)


def test_energy_is_batched() -> None:
    m = random_model(6, rng=1)
    S = np.array(list(itertools.product([-1, 1], repeat=6)), dtype=np.int8)
    batch = m.energy(S)
    assert batch.shape == (64,)
    assert np.allclose(batch, [m.energy(s) for s in S])


def test_local_field_definition() -> None:
    m = random_model(5, rng=2, sparse=True)
    s = np.array([1, -1, 1, 1, -1])
    assert np.allclose(m.local_field(s), m.dense_J() @ s + m.h)
    assert m.local_field(np.vstack([s, -s])).shape == (2, 5)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 10_000),
    sparse=st.booleans(),
    data=st.data(),
)
def test_delta_energy_equals_energy_difference(n: int, seed: int, sparse: bool, data: st.DataObject) -> None:
    m = random_model(n, rng=seed, sparse=sparse)
    s = np.array(data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)), dtype=np.int8)
    i = data.draw(st.integers(0, n - 1))
    flipped = s.copy()
    flipped[i] = -flipped[i]
    assert m.delta_energy(s, i) == pytest.approx(m.energy(flipped) - m.energy(s), abs=1e-10)


def test_delta_energy_batched() -> None:
    m = random_model(6, rng=4)
    S = np.array(list(itertools.product([-1, 1], repeat=6)), dtype=np.int8)
    F = S.copy()
    F[:, 2] *= -1
    assert np.allclose(m.delta_energy(S, 2), m.energy(F) - m.energy(S))


def test_dense_and_sparse_agree() -> None:
    d = random_model(9, rng=5)
    s_ = IsingModel(sp.csr_matrix(d.J), d.h)
    S = np.random.default_rng(0).choice([-1, 1], size=(20, 9))
    assert np.allclose(d.energy(S), s_.energy(S))
    assert np.allclose(d.coupling_square_sums(), s_.coupling_square_sums())
    assert s_.is_sparse and not d.is_sparse


@pytest.mark.parametrize(
    ("J", "h", "match"),
    [
        (np.array([[0.0, 1.0], [0.5, 0.0]]), None, "not symmetric"),
        (np.array([[0.0, np.nan], [np.nan, 0.0]]), None, "NaN"),
        (np.array([[1.0, 1.0], [1.0, 0.0]]), None, "diagonal"),
        (np.zeros((2, 3)), None, "square"),
        (np.zeros(4), None, "square"),
        (np.zeros((3, 3)), np.zeros(2), "shape"),
        (np.zeros((2, 2)), np.array([0.0, np.inf]), "NaN or inf"),
        (sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]])), None, "not symmetric"),
        (sp.csr_matrix(np.array([[2.0, 0.0], [0.0, 0.0]])), None, "diagonal"),
        (np.array([[0.0, 1j], [1j, 0.0]]), None, "complex"),
        (sp.csr_matrix(np.array([[0.0, 1j], [1j, 0.0]])), None, "complex"),
        (np.zeros((2, 2)), np.array([1j, 0.0]), "complex"),
        (np.zeros((2, 2)), ["a", "b"], "real numbers"),
        ([["0", "x"], ["x", "0"]], None, "real numbers"),
    ],
)
def test_bad_couplings_give_clear_errors(J: object, h: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IsingModel(J, h)


def test_bad_spins() -> None:
    m = random_model(3, rng=0)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        m.energy(np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="model has 3 spins"):
        m.energy(np.ones(4))
    with pytest.raises(IndexError):
        m.delta_energy(np.ones(3), 3)
    assert as_spins([1, -1]).dtype == np.int8


def test_model_is_frozen_and_read_only() -> None:
    m = random_model(3, rng=0)
    with pytest.raises(AttributeError):
        m.J = np.zeros((3, 3))  # type: ignore[misc]
    with pytest.raises(ValueError):
        m.J[0, 1] = 5.0  # type: ignore[index]
    with pytest.raises(ValueError):
        m.h[0] = 1.0


def test_layers_metadata() -> None:
    m = IsingModel(np.zeros((5, 5)), layers=(2, 3))
    assert [s.stop - s.start for s in m.layer_slices()] == [2, 3]
    with pytest.raises(ValueError, match="summing"):
        IsingModel(np.zeros((5, 5)), layers=(2, 2))
