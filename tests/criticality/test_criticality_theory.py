"""The issue's oracles for mean-field signal propagation, RYH criticality and RG along depth."""
from __future__ import annotations

import math

import numpy as np
import pytest

from spinlens.criticality import (
    correlation_map,
    critical_init,
    critical_sigma_w2,
    erf_maps,
    fixed_point,
    kernel_recursion,
    length_map,
    phase_diagram,
)
from spinlens.criticality.rg import decimate


@pytest.mark.parametrize("sw", [0.5, 1.3, 1.9])
def test_relu_chi1_is_half_sigma_w2(sw: float) -> None:
    assert fixed_point("relu", sw, 0.1).chi_1 == pytest.approx(sw / 2, rel=1e-13)


def test_relu_critical_at_two_and_vertex_grows_as_5_l_minus_1() -> None:
    assert critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, rel=1e-10)
    assert critical_sigma_w2("relu", 0.3) == pytest.approx(2.0, rel=1e-10)
    init = critical_init("relu")
    assert (init.C_b, init.C_W, init.universality_class) == (0.0, 2.0, "scale-invariant")
    flow = kernel_recursion("relu", init.C_b, init.C_W, K1=0.7, depth=12)
    np.testing.assert_allclose(flow.V_over_K2, 5.0 * (flow.layers - 1), atol=1e-10)
    np.testing.assert_allclose(flow.K, 0.7, rtol=1e-13)


def test_erf_closed_form_equals_quadrature_and_critical_pi_over_4() -> None:
    q = np.array([0.01, 0.3, 1.0, 4.0])
    for sw, sb in [(1.0, 0.0), (2.5, 0.1)]:
        qn, cn = erf_maps(q, 0.4, sw, sb)
        np.testing.assert_allclose(length_map("erf", q, sw, sb), qn, rtol=1e-6)  # 100 nodes
        np.testing.assert_allclose(correlation_map("erf", q, 0.4, sw, sb), cn, rtol=1e-6)
    assert critical_sigma_w2("erf", 0.0) == pytest.approx(math.pi / 4, rel=1e-8)


def test_tanh_critical_line_and_fixed_point_values() -> None:
    assert critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, rel=1e-9)
    swc = critical_sigma_w2("tanh", 0.05)
    assert swc == pytest.approx(1.76095, abs=5e-6)
    assert fixed_point("tanh", swc, 0.05).q_star == pytest.approx(0.57005, abs=5e-6)
    fp = fixed_point("tanh", 1.5, 0.05)
    assert fp.q_star == pytest.approx(0.41804, abs=5e-6)
    assert fp.chi_1 == pytest.approx(0.93864, abs=5e-6)
    # the vectorised phase diagram gives the same numbers (ordered and chaotic points)
    pd = phase_diagram("tanh", [1.5, 3.0], [0.05])
    assert pd.q_star[0, 0] == pytest.approx(fp.q_star, rel=1e-10)
    assert pd.chi_1[0, 0] == pytest.approx(fp.chi_1, rel=1e-10)
    chaotic = fixed_point("tanh", 3.0, 0.05)
    assert pd.c_star[0, 1] == pytest.approx(chaotic.c_star, abs=1e-6)
    assert pd.xi_c[0, 1] == pytest.approx(chaotic.xi_c, rel=1e-5)
    assert pd.critical[0] == pytest.approx(swc, rel=1e-9)


@pytest.mark.parametrize("side", [-1, 1])
def test_xi_c_times_distance_to_criticality_tends_to_one(side: int) -> None:
    swc = critical_sigma_w2("tanh", 0.05)
    devs = []
    for eps in (1e-2, 1e-3, 1e-4):
        fp = fixed_point("tanh", swc * (1 + side * eps), 0.05)
        assert fp.phase == ("chaotic" if side > 0 else "ordered")
        devs.append(abs(fp.xi_c * abs(fp.chi_1 - 1) - 1))
    assert devs[-1] < 2e-3
    assert devs[0] > devs[1] > devs[2]  # approaches 1 as |chi_1 - 1| -> 0


def test_gelu_critical_initialisation() -> None:
    init = critical_init("gelu")
    assert init.universality_class == "half-stable"
    assert init.C_b == pytest.approx(0.17292239, abs=1e-7)
    assert init.C_W == pytest.approx(1.98305826, abs=1e-7)


@pytest.mark.parametrize("sw", [1.3, 2.5])  # ordered and chaotic
def test_decimation_keeps_fixed_points_and_halves_xi(sw: float) -> None:
    d = decimate("tanh", sw, 0.05)
    assert d.q_star_decimated == pytest.approx(d.q_star, rel=1e-10)
    assert d.c_star_decimated == pytest.approx(d.c_star, abs=1e-8)
    assert d.xi_q_decimated == pytest.approx(d.xi_q / 2, rel=1e-5)
    assert d.xi_c_decimated == pytest.approx(d.xi_c / 2, rel=1e-4)


def test_bad_input_gives_clear_errors() -> None:
    def blows_up(x: np.ndarray) -> np.ndarray:
        return np.exp(x**2)  # overflows to inf on the quadrature grid

    def nan_for_negatives(x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)

    for bad in (blows_up, nan_for_negatives):
        with pytest.raises(ValueError, match="NaN or inf"):
            fixed_point(bad, 1.5, 0.05)
        with pytest.raises(ValueError, match="NaN or inf"):
            phase_diagram(bad, [1.0, 2.0], [0.1])
    for sw in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="sigma_w2"):
            fixed_point("tanh", sw, 0.05)
    with pytest.raises(ValueError, match="sigma_w2"):
        phase_diagram("tanh", [1.0, 0.0], [0.1])
    with pytest.raises(ValueError, match="unknown activation"):
        fixed_point("tanhh", 1.0, 0.0)


def test_depth_scale_cut_is_evaluated_at_the_given_sigma_b2_relu_closed_forms() -> None:
    from spinlens.criticality import depth_scale_cut

    sw = np.array([0.4, 1.0, 1.7, 1.99])
    sb = 0.0537  # on no grid
    cut = depth_scale_cut("relu", sw, sb)
    assert cut.sigma_b2 == sb and cut.critical == pytest.approx(2.0, rel=1e-10)
    # ReLU: q' = sigma_w^2 q / 2 + sigma_b^2, so q* = sigma_b^2 / (1 - sigma_w^2/2), chi_1 = chi_par = sigma_w^2/2
    np.testing.assert_allclose(cut.q_star, sb / (1 - sw / 2), rtol=1e-12)
    np.testing.assert_allclose(cut.chi_1, sw / 2, rtol=1e-13)
    np.testing.assert_allclose(cut.chi_parallel, sw / 2, rtol=1e-12)
    np.testing.assert_allclose(cut.xi_q, -1 / np.log(sw / 2), rtol=1e-10)
    np.testing.assert_allclose(cut.xi_c, -1 / np.log(sw / 2), rtol=1e-10)  # ordered: chi_c = chi_1


def test_depth_scale_cut_matches_erf_closed_forms_and_a_phase_diagram_row() -> None:
    from scipy.optimize import brentq

    from spinlens.criticality import depth_scale_cut

    sb = 0.0813
    sw = np.array([0.6, 1.2, 2.5])
    cut = depth_scale_cut("erf", sw, sb)
    qn, _ = erf_maps(cut.q_star, 1.0, sw, sb)
    np.testing.assert_allclose(qn, cut.q_star, rtol=1e-7)
    np.testing.assert_allclose(cut.chi_1, 4 * sw / np.pi / np.sqrt(1 + 4 * cut.q_star), rtol=1e-7)
    q_c = brentq(lambda q: q - 0.5 * np.sqrt(1 + 4 * q) * np.arcsin(2 * q / (1 + 2 * q)) - sb, 1e-6, 1e3,
                 xtol=1e-15, rtol=1e-15)
    assert cut.critical == pytest.approx(np.pi / 4 * np.sqrt(1 + 4 * q_c), rel=1e-9)
    pd = phase_diagram("erf", sw, [0.0, sb])
    np.testing.assert_allclose(cut.xi_c, pd.xi_c[1], rtol=1e-12)
    assert cut.critical == pd.critical[1]
    with pytest.raises(ValueError, match="sigma_b2"):
        depth_scale_cut("erf", sw, -0.1)
    with pytest.raises(ValueError, match="one sigma_b2"):
        depth_scale_cut("erf", sw, [0.1, 0.2])
