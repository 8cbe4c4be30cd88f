"""Closed forms (transfer matrix, Kaufman, Onsager, Curie–Weiss, SK, layered SK) against enumeration
and against published numbers."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from spinlens.exact import (
    ONSAGER_BETA_C,
    ONSAGER_TC,
    chain_transfer_matrix,
    curie_weiss,
    enumerate,
    kaufman,
    layered_sk_tc,
    layered_sk_tc_equal,
    onsager,
    sk_paramagnet,
)
from spinlens.spins import chain, hypercubic_lattice
from spinlens.spins import curie_weiss as curie_weiss_model

BETAS = np.array([0.05, 0.3, 0.44, ONSAGER_BETA_C, 0.5, 1.0, 3.0])


# ------------------------------------------------------------------ 1D chain
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize(("n", "J", "h"), [(2, 1.0, 0.0), (3, 1.0, 0.4), (7, -0.8, 0.0), (10, 1.3, -0.7)])
def test_transfer_matrix_equals_enumeration(periodic: bool, n: int, J: float, h: float) -> None:
    r = enumerate(chain(n, J=J, h=h, periodic=periodic), BETAS)
    tm = chain_transfer_matrix(n, BETAS, J=J, h=h, periodic=periodic)
    np.testing.assert_allclose(tm, r.log_z, atol=1e-11, rtol=0)
    assert chain_transfer_matrix(n, 0.5, J=J, h=h, periodic=periodic) == pytest.approx(r.log_z[4], abs=1e-11)


def test_transfer_matrix_scalar_and_large_n() -> None:
    # scalar in, float out; h = 0 ring: Z = (2cosh K)^n + (2sinh K)^n
    b, n = 0.7, 1000
    exact = n * math.log(2 * math.cosh(b)) + math.log1p(math.tanh(b) ** n)
    val = chain_transfer_matrix(n, b)
    assert isinstance(val, float)
    assert val == pytest.approx(exact, rel=1e-13)
    # open chain at h = 0: Z = 2 (2cosh K)^(n-1)
    assert chain_transfer_matrix(n, b, periodic=False) == pytest.approx(
        math.log(2) + (n - 1) * math.log(2 * math.cosh(b)), rel=1e-13
    )
    assert np.isfinite(chain_transfer_matrix(50, 200.0, J=1.0, h=3.0))


# ------------------------------------------------------------------ Kaufman
@pytest.mark.parametrize("shape", [(4, 4), (5, 4), (4, 5), (3, 3), (3, 5), (2, 2), (2, 3)])
def test_kaufman_equals_enumeration(shape: tuple[int, int]) -> None:
    r = enumerate(hypercubic_lattice(shape), BETAS)
    L: object = shape[0] if shape[0] == shape[1] else shape
    np.testing.assert_allclose(kaufman(L, BETAS), r.log_z, atol=1e-10, rtol=0)  # type: ignore[arg-type]


def test_kaufman_coupling_and_large_lattice() -> None:
    r = enumerate(hypercubic_lattice((4, 4), J=0.6), 0.8)
    assert kaufman(4, 0.8, J=0.6) == pytest.approx(r.log_z, abs=1e-10)
    # a big torus approaches Onsager's free energy per spin (below T_c up to the ln 2 of the two
    # ordered sectors)
    assert kaufman(64, 0.3) / 64**2 == pytest.approx(onsager(0.3).minus_beta_f, abs=1e-8)
    assert (kaufman(64, 0.6) - math.log(2)) / 64**2 == pytest.approx(onsager(0.6).minus_beta_f, abs=1e-8)
    assert kaufman((40, 60), 0.3) == pytest.approx(kaufman((60, 40), 0.3), rel=1e-12)


# ------------------------------------------------------------------ Onsager
def test_onsager_published_numbers() -> None:
    assert ONSAGER_TC == pytest.approx(2.2691853, abs=1e-7)
    assert ONSAGER_BETA_C == pytest.approx(1 / ONSAGER_TC, rel=1e-14)
    for b, val in [(0.3, 0.7905591), (0.5, 1.0257928), (ONSAGER_BETA_C, 0.9296954)]:
        assert onsager(b).minus_beta_f == pytest.approx(val, abs=5e-8)
    assert onsager(ONSAGER_BETA_C).energy == pytest.approx(-math.sqrt(2.0), abs=1e-12)
    assert onsager(0.5).magnetization == pytest.approx(0.9113194, abs=5e-8)
    assert onsager(0.4).magnetization == 0.0
    assert onsager(ONSAGER_BETA_C).magnetization == 0.0
    assert math.isinf(onsager(ONSAGER_BETA_C).heat_capacity)


def test_onsager_is_consistent_with_its_derivatives() -> None:
    d = 1e-5
    for b in (0.2, 0.42, 0.46, 0.8):
        lo, mid, hi = onsager(b - d), onsager(b), onsager(b + d)
        assert mid.energy == pytest.approx(-(hi.minus_beta_f - lo.minus_beta_f) / (2 * d), abs=1e-7)
        assert mid.heat_capacity == pytest.approx(-(b**2) * (hi.energy - lo.energy) / (2 * d), rel=1e-6)
        assert mid.entropy == pytest.approx(mid.minus_beta_f + b * mid.energy)
    r = onsager(np.array([0.3, 0.5]))
    assert r.minus_beta_f.shape == (2,)


def test_onsager_limits() -> None:
    hot = onsager(1e-4)
    assert hot.minus_beta_f == pytest.approx(math.log(2), abs=1e-7)
    cold = onsager(5.0)
    assert cold.energy == pytest.approx(-2.0, abs=1e-7)
    assert cold.magnetization == pytest.approx(1.0, abs=1e-7)


# ------------------------------------------------------------------ Curie-Weiss
@pytest.mark.parametrize(("n", "J", "h"), [(1, 1.0, 0.3), (6, 1.0, 0.0), (11, 1.5, 0.2), (14, -0.5, -0.3)])
def test_curie_weiss_exact_equals_enumeration(n: int, J: float, h: float) -> None:
    if n == 1:
        from spinlens import IsingModel

        model = IsingModel(np.zeros((1, 1)), [h])
    else:
        model = curie_weiss_model(n, J=J, h=h)
    r = enumerate(model, BETAS)
    cw = curie_weiss(n, BETAS, J=J, h=h)
    np.testing.assert_allclose(cw.log_z, r.log_z, atol=1e-11, rtol=0)
    np.testing.assert_allclose(cw.energy, r.energy / n, atol=1e-11)
    np.testing.assert_allclose(cw.heat_capacity, r.heat_capacity / n, atol=1e-9)
    np.testing.assert_allclose(cw.m, r.m.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(cw.m2, r.corr.sum(axis=(1, 2)) / n**2, atol=1e-12)


def test_curie_weiss_mean_field_limit() -> None:
    # above T_c = J: m = 0 at h = 0; below: m = tanh(beta J m) > 0
    assert curie_weiss(None, 0.8).m == pytest.approx(0.0, abs=1e-6)
    r = curie_weiss(None, 2.0, J=1.0)
    assert r.m == pytest.approx(math.tanh(2.0 * r.m), abs=1e-14)
    assert r.m > 0.9
    assert r.energy == pytest.approx(-(r.m**2) / 2)
    # the finite-n exact solution converges to it
    for b in (0.5, 2.0):
        big = curie_weiss(4000, b)
        inf = curie_weiss(None, b)
        assert big.minus_beta_f == pytest.approx(inf.minus_beta_f, abs=2e-3)
        assert big.m_abs == pytest.approx(inf.m_abs, abs=0.03)
    # with a field the heat capacity matches -beta^2 du/dbeta
    d, b = 1e-6, 0.9
    lo, mid, hi = (curie_weiss(None, x, J=1.0, h=0.1) for x in (b - d, b, b + d))
    assert mid.heat_capacity == pytest.approx(-(b**2) * (hi.energy - lo.energy) / (2 * d), rel=1e-5)
    assert mid.energy == pytest.approx(-(hi.minus_beta_f - lo.minus_beta_f) / (2 * d), abs=1e-7)


# ------------------------------------------------------------------ SK paramagnet
def test_sk_paramagnet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = sk_paramagnet(0.5)
    assert r.minus_beta_f == pytest.approx(math.log(2) + 0.0625)
    assert r.energy == pytest.approx(-0.25)
    assert r.entropy == pytest.approx(r.minus_beta_f + 0.5 * r.energy)
    assert r.heat_capacity == pytest.approx(0.125)
    with pytest.warns(UserWarning, match="T > 1"):
        sk_paramagnet(1.5)
    with pytest.warns(UserWarning, match="T > 2"):
        sk_paramagnet(0.7, J0=2.0)


# ------------------------------------------------------------------ layered SK
def test_layered_sk_tc_numbers() -> None:
    # widths/C as spinlens.spins.layered_sk builds them (variance C / fan_in)
    assert layered_sk_tc([700, 700, 700], C=1.0) == pytest.approx(1.189, abs=5e-4)
    assert layered_sk_tc([500] * 4, C=2.0) == pytest.approx(1.799, abs=5e-4)
    assert layered_sk_tc([400] * 6, C=1.0) == pytest.approx(1.342, abs=5e-4)
    assert layered_sk_tc([700] * 3, variances=1.0 / 700) == pytest.approx(layered_sk_tc([700] * 3, C=1.0))
    assert layered_sk_tc([500] * 4, variances=[2 / 500] * 3) == pytest.approx(layered_sk_tc_equal(2.0, 3))
    for L in (1, 2, 5, 9):
        assert layered_sk_tc([50] * (L + 1), C=1.7) == pytest.approx(layered_sk_tc_equal(1.7, L), rel=1e-12)
    assert layered_sk_tc_equal(3.0, 1) == pytest.approx(math.sqrt(3.0))
    # unequal widths: two layers -> T_c^2 = sqrt(n_a n_b) sigma^2  (M = [[0, n_b s], [n_a s, 0]])
    assert layered_sk_tc([100, 400], variances=0.01) == pytest.approx(math.sqrt(math.sqrt(100 * 400) * 0.01))


# ------------------------------------------------------------------ bad input
def test_closed_forms_reject_bad_input() -> None:
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            onsager(bad)
        with pytest.raises(ValueError, match="beta"):
            kaufman(4, bad)
        with pytest.raises(ValueError, match="beta"):
            chain_transfer_matrix(4, bad)
        with pytest.raises(ValueError, match="beta"):
            curie_weiss(5, bad)
        with pytest.raises(ValueError, match="beta"):
            sk_paramagnet(bad)
    with pytest.raises(ValueError, match="sides"):
        kaufman(1, 0.5)
    with pytest.raises(ValueError, match="pair"):
        kaufman((3, 3, 3), 0.5)
    with pytest.raises(ValueError, match="J"):
        kaufman(4, 0.5, J=-1.0)
    with pytest.raises(ValueError, match="ring"):
        chain_transfer_matrix(1, 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        layered_sk_tc([3, 3])
    with pytest.raises(ValueError, match="per gap"):
        layered_sk_tc([3, 3, 3], variances=[1.0])
    with pytest.raises(ValueError, match="widths"):
        layered_sk_tc([3], C=1.0)
    with pytest.raises(ValueError, match=r"n \(number of spins"):
        curie_weiss(0, 1.0)
