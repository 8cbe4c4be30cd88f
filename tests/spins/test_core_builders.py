"""Builders: lattices, Curie-Weiss, SK and layered SK produce the couplings they promise."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.spins import (
    chain,
    cubic_lattice,
    curie_weiss,
    layered_sk,
    layered_sk_from_weights,
    sk,
    square_lattice,
)


def test_square_lattice_ground_state_and_degree() -> None:
    m = square_lattice(5)
    assert m.n_spins == 25 and m.is_sparse
    deg = np.asarray((m.J != 0).sum(axis=1)).ravel()
    assert np.all(deg == 4)
    assert m.energy(np.ones(25)) == pytest.approx(-2 * 25)  # 2 bonds per spin
    assert m.geometry is not None and m.geometry.shape == (5, 5)


def test_open_lattice_bond_count() -> None:
    m = square_lattice(4, periodic=False)
    assert m.energy(np.ones(16)) == pytest.approx(-2 * 4 * 3)


def test_cubic_lattice_and_chain() -> None:
    m = cubic_lattice(3, J=0.5, h=0.1)
    assert m.n_spins == 27
    assert m.energy(np.ones(27)) == pytest.approx(-0.5 * 3 * 27 - 0.1 * 27)
    c = chain(6, periodic=False)
    assert c.energy(np.ones(6)) == pytest.approx(-5)
    assert chain(6).energy(np.array([1, -1, 1, -1, 1, -1])) == pytest.approx(6)


def test_two_site_periodic_ring_has_two_bonds() -> None:
    assert chain(2).energy(np.ones(2)) == pytest.approx(-2.0)


def test_integral_float_and_numpy_sizes_are_accepted() -> None:
    assert square_lattice(np.int64(3)).n_spins == 9
    assert chain(4.0).n_spins == 4
    assert layered_sk(np.array([3, 2]), rng=0).n_spins == 5


def test_curie_weiss_energy() -> None:
    n = 10
    m = curie_weiss(n, J=2.0)
    # H = -(J/n) sum_{i<j} s_i s_j = -(J/2n) (M^2 - n)
    s = np.array([1] * 7 + [-1] * 3)
    M = s.sum()
    assert m.energy(s) == pytest.approx(-(2.0 / (2 * n)) * (M**2 - n))


def test_sk_moments_and_reproducibility() -> None:
    n = 400
    a = sk(n, J=1.0, J0=2.0, rng=7)
    b = sk(n, J=1.0, J0=2.0, rng=7)
    assert np.array_equal(a.J, b.J)
    off = a.J[np.triu_indices(n, 1)]
    assert off.mean() == pytest.approx(2.0 / n, abs=4 / n**1.5 * 3 + 0.001)
    assert off.var() * n == pytest.approx(1.0, rel=0.02)


def test_layered_sk_block_structure_and_variance() -> None:
    widths = [300, 200, 100]
    m = layered_sk(widths, C=2.0, rng=0)
    assert m.layers == tuple(widths)
    J = m.dense_J()
    assert np.all(J[:300, :300] == 0) and np.all(J[:300, 500:] == 0)
    W0 = J[:300, 300:500]  # = W_0^T, W_0 has fan-in 300
    assert W0.var() * 300 == pytest.approx(2.0, rel=0.03)
    W1 = J[300:500, 500:]
    assert W1.var() * 200 == pytest.approx(2.0, rel=0.05)


def test_layered_from_weights_energy_is_network_formula() -> None:
    g = np.random.default_rng(1)
    Ws = [g.normal(size=(4, 3)), g.normal(size=(2, 4))]
    m = layered_sk_from_weights(Ws)
    s = g.choice([-1, 1], size=9)
    x0, x1, x2 = s[:3], s[3:7], s[7:]
    expected = -(x1 @ Ws[0] @ x0) - (x2 @ Ws[1] @ x1)
    assert m.energy(s) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: square_lattice(1), ">= 2"),
        (lambda: sk(1), ">= 2"),
        (lambda: layered_sk([5]), "at least two"),
        (lambda: layered_sk([5, 5], C=-1), "C must be > 0"),
        (lambda: layered_sk_from_weights([np.ones((3, 2)), np.ones((2, 4))]), "inputs"),
        (lambda: layered_sk_from_weights([np.full((2, 2), np.nan)]), "NaN"),
        (lambda: square_lattice(2.5), "integer"),
        (lambda: chain(True), "integer"),
        (lambda: sk("10"), "integer"),
        (lambda: layered_sk([4, 2.5]), "integer"),
    ],
)
def test_builder_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
