"""Universality classes, kernel decay at criticality, dynamic-neuron energy, RG flow and the exponent nu,
and every named activation through the whole pipeline."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import ndtr

import spinlens.criticality as cr
from spinlens.criticality import (
    ACTIVATIONS,
    chi_parallel_perp,
    correlation_length_exponent,
    critical_init,
    critical_sigma_w2,
    dynamic_neuron_energy,
    fixed_point,
    kernel_recursion,
    length_map,
    phase_diagram,
    rg_eigenvalues,
    rg_flow,
    rg_step,
    sample_dynamic_neurons,
    universality_class,
)

# ------------------------------------------------------------------------------ universality classes


@pytest.mark.parametrize(
    ("name", "cls", "C_W", "nu"),
    [
        ("tanh", "K*=0", 1.0, 2 / 3),
        ("sin", "K*=0", 1.0, 2 / 3),
        ("erf", "K*=0", math.pi / 4, 2 / 3),  # sigma_1 = 2/sqrt(pi)
        ("relu", "scale-invariant", 2.0, 5.0),
        ("linear", "scale-invariant", 1.0, 2.0),
    ],
)
def test_ryh_universality_classes(name: str, cls: str, C_W: float, nu: float) -> None:
    ci = critical_init(name)
    assert ci.universality_class == cls
    assert ci.C_b == 0.0
    assert ci.C_W == pytest.approx(C_W, rel=1e-12)
    assert ci.nu == pytest.approx(nu, rel=1e-12)


def test_tanh_and_sin_a1_and_classes_without_critical_point() -> None:
    # a1 = sigma_3/sigma_1 + 3/4 (sigma_2/sigma_1)^2: tanh -2, sin -1 (third derivative by finite differences)
    assert critical_init("tanh").a1 == pytest.approx(-2.0, abs=1e-6)
    assert critical_init("sin").a1 == pytest.approx(-1.0, abs=1e-6)
    for name in ("sigmoid", "hard-tanh", "sign"):
        assert universality_class(name) == "none"
        with pytest.raises(ValueError):
            critical_init(name)


@pytest.mark.parametrize(("name", "tol"), [("gelu", 1e-9), ("swish", 2e-6)])  # swish: K* = 14.3, see docstring
def test_half_stable_class_is_a_critical_fixed_point(name: str, tol: float) -> None:
    ci = critical_init(name)
    assert ci.universality_class == "half-stable" and ci.C_b > 0
    # K* is a fixed point of the kernel map and both susceptibilities are 1 there (chi_par computed by a
    # different formula, Stein's lemma, than the <sigma sigma''> = 0 condition the solver used)
    assert float(length_map(name, ci.K_star, ci.C_W, ci.C_b, n_quad=200)) == pytest.approx(ci.K_star, rel=1e-10)
    cpar, cperp = chi_parallel_perp(name, ci.K_star, ci.C_W, n_quad=200)
    assert float(cpar) == pytest.approx(1.0, abs=tol)
    assert float(cperp) == pytest.approx(1.0, abs=1e-12)
    if name == "swish":  # RYH (2021) section 5.3.3: C_b ~ 0.555, C_W ~ 1.988, K* ~ 14.3
        assert (ci.C_b, ci.C_W, ci.K_star) == pytest.approx((0.5551, 1.9880, 14.320), abs=2e-3)


def test_relu_susceptibilities_are_one_at_criticality_for_every_kernel() -> None:
    cpar, cperp = chi_parallel_perp("relu", np.array([0.01, 1.0, 50.0]), 2.0)
    np.testing.assert_allclose(cpar, 1.0, rtol=1e-13)
    np.testing.assert_allclose(cperp, 1.0, rtol=1e-13)


# ----------------------------------------------------------------------- kernel decay at criticality


def test_tanh_kernel_decays_as_one_over_2l_and_vertex_as_two_thirds_l() -> None:
    flow = kernel_recursion("tanh", 0.0, 1.0, K1=1.0, depth=2000)
    l = flow.layers
    dev = np.abs(2 * l * flow.K - 1.0)[[9, 99, 999, 1999]]
    assert np.all(np.diff(dev) < 0)  # approaches 1/(2l) (log(l)/l corrections)
    assert dev[-1] < 2e-3
    r = (flow.V_over_K2 / l)[[99, 999, 1999]]
    assert np.all(np.diff(np.abs(r - 2 / 3)) < 0) and abs(r[-1] - 2 / 3) < 3e-3


def test_sin_kernel_decays_as_one_over_l() -> None:  # a1 = -1
    flow = kernel_recursion("sin", 0.0, 1.0, K1=1.0, depth=1000)
    assert flow.K[-1] * flow.layers[-1] == pytest.approx(1.0, abs=5e-3)


def test_off_critical_tanh_kernel_goes_to_the_fixed_point() -> None:
    flow = kernel_recursion("tanh", 0.05, 1.5, K1=1.55, depth=200)
    assert flow.K[-1] == pytest.approx(fixed_point("tanh", 1.5, 0.05).q_star, rel=1e-10)


# --------------------------------------------------------------------------- dynamic-neuron energy


def _random_net(n: int, depth: int, sw2: float, sb2: float, seed: int) -> tuple[list, list, np.ndarray]:
    g = np.random.default_rng(seed)
    Ws = [g.standard_normal((n, n)) * math.sqrt(sw2 / n) for _ in range(depth)]
    bs = [g.standard_normal(n) * math.sqrt(sb2) for _ in range(depth)]
    return Ws, bs, g.standard_normal(n)


def _forward(x: np.ndarray, Ws: list, bs: list) -> list[np.ndarray]:
    h = [x]
    for W, b in zip(Ws, bs, strict=True):
        h.append(np.tanh(W @ h[-1] + b))
    return h


def test_dynamic_neuron_energy_vanishes_on_the_forward_pass_and_scales_with_lambda() -> None:
    Ws, bs, x = _random_net(20, 4, 1.5, 0.05, 0)
    h = _forward(x, Ws, bs)
    assert dynamic_neuron_energy(h, Ws, bs, "tanh", lam=10.0) == pytest.approx(0.0, abs=1e-20)
    delta = np.random.default_rng(1).standard_normal(20) * 0.1
    pert = h[:-1] + [h[-1] + delta]  # only the last layer moves: one residual term
    for lam in (0.5, 3.0, 1e4):
        assert dynamic_neuron_energy(pert, Ws, bs, "tanh", lam=lam) == pytest.approx(0.5 * lam * delta @ delta,
                                                                                    rel=1e-12)
    y = np.ones(20)
    assert dynamic_neuron_energy(h, Ws, bs, "tanh", lam=1.0, beta=2.0, y=y) == pytest.approx(
        2.0 * float((y - h[-1]) @ (y - h[-1])), rel=1e-12)
    with pytest.raises(ValueError, match="lam"):
        dynamic_neuron_energy(h, Ws, bs, "tanh", lam=-1.0)
    with pytest.raises(ValueError, match="lam"):
        sample_dynamic_neurons(x, Ws, bs, "tanh", lam=0.0)


def test_dynamic_neuron_gibbs_samples_equipartition_and_network_limit() -> None:
    n, M = 30, 4
    Ws, bs, x = _random_net(n, M, 1.5, 0.05, 2)
    fwd = _forward(x, Ws, bs)
    g = np.random.default_rng(5)
    for lam in (0.3, 5.0, 1e3):
        E = [dynamic_neuron_energy(sample_dynamic_neurons(x, Ws, bs, "tanh", lam, rng=g), Ws, bs, "tanh", lam)
             for _ in range(200)]
        # <H> = (number of neuron variables)/2 = M n / 2 exactly; sd of one sample sqrt(M n / 2)
        assert abs(np.mean(E) - M * n / 2) < 4 * math.sqrt(M * n / 2) / math.sqrt(200)
    # lambda -> infinity recovers the network: deviation at the output ~ lambda^(-1/2)
    dev = []
    for lam in (1e4, 1e6, 1e8):
        hs = [sample_dynamic_neurons(x, Ws, bs, "tanh", lam, rng=g)[-1] for _ in range(50)]
        dev.append(math.sqrt(np.mean([(hh - fwd[-1]) @ (hh - fwd[-1]) for hh in hs])))
    assert dev[0] / dev[1] == pytest.approx(10.0, rel=0.15) and dev[1] / dev[2] == pytest.approx(10.0, rel=0.15)
    assert dev[-1] < 5 * math.sqrt(n / 1e8)


def test_finite_lambda_shifts_the_bias_variance_in_the_length_map() -> None:
    # pre-activation length at large width: sigma_b^2 -> sigma_b^2 + sigma_w^2 / lambda
    n, M, sw2, sb2, lam = 1500, 5, 1.5, 0.05, 4.0
    Ws, bs, _ = _random_net(n, M, sw2, sb2, 3)
    x = np.random.default_rng(4).standard_normal(n)  # q_in ~ 1
    h = sample_dynamic_neurons(x, Ws, bs, "tanh", lam, rng=6)
    q_meas = np.array([np.mean((W @ hh + b) ** 2) for W, b, hh in zip(Ws, bs, h[:-1], strict=True)])
    q_th, q_net = [sw2 * float(x @ x) / n + sb2], [sw2 * float(x @ x) / n + sb2]
    for _ in range(M - 1):
        q_th.append(float(length_map("tanh", q_th[-1], sw2, sb2 + sw2 / lam)))
        q_net.append(float(length_map("tanh", q_net[-1], sw2, sb2)))
    # first layer sees the clamped input (no noise); deeper ones carry the shift (0.375 here)
    rel = np.abs(q_meas[1:] / np.array(q_th[1:]) - 1)
    assert np.all(rel < 4 * math.sqrt(2 / n) * 1.5), (q_meas, q_th)
    assert np.all(np.array(q_th[1:]) - np.array(q_net[1:]) > 0.3)  # the shift is resolved, not noise


# ---------------------------------------------------------------------------------------- RG flow


def test_rg_step_keeps_q_star_and_squares_chi_1() -> None:
    for sw2 in (1.3, 1.7, 1.9):
        fp = fixed_point("tanh", sw2, 0.1)
        a, b = rg_step("tanh", sw2, 0.1)
        new = fixed_point("tanh", float(a[0]), float(b[0]))
        assert new.q_star == pytest.approx(fp.q_star, rel=1e-9)
        assert new.chi_1 == pytest.approx(fp.chi_1**2, rel=1e-9)


def test_critical_line_is_fixed_under_the_flow_and_eigenvalues_are_1_and_2() -> None:
    for sb2 in (0.05, 0.3):
        swc = critical_sigma_w2("tanh", sb2)
        a, b = rg_step("tanh", swc, sb2)
        assert float(a[0]) == pytest.approx(swc, rel=1e-9) and float(b[0]) == pytest.approx(sb2, rel=1e-8)
    ev, lam_r, nu = rg_eigenvalues("tanh", 0.05)
    np.testing.assert_allclose(ev, [1.0, 2.0], atol=1e-5)
    assert nu == pytest.approx(1.0, abs=1e-5)


def test_rg_flow_halves_xi_each_step_and_flows_away_from_criticality() -> None:
    fl = rg_flow("tanh", 1.6, 0.05, n_steps=5)  # ordered side
    assert len(fl.xi_c) == 6
    np.testing.assert_allclose(fl.xi_c[1:] / fl.xi_c[:-1], 0.5, rtol=1e-8)
    np.testing.assert_allclose(fl.chi_1[1:], fl.chi_1[:-1] ** 2, rtol=1e-8)
    assert np.all(np.diff(fl.sigma_w2) < 0) and np.all(np.diff(fl.sigma_b2) > 0)  # towards the trivial point
    ch = rg_flow("tanh", 1.9, 0.05, n_steps=3)  # chaotic side: chi_1 grows, flow leaves the line
    assert ch.chi_1[1] == pytest.approx(ch.chi_1[0] ** 2, rel=1e-8) and ch.chi_1[1] > ch.chi_1[0] > 1


def test_nu_from_data_collapse_is_one() -> None:
    fit = correlation_length_exponent("tanh", sigma_b2=(0.05, 0.2))
    assert fit.nu == pytest.approx(1.0, abs=2e-3)
    assert fit.nu_rg == pytest.approx(1.0, abs=1e-5)
    small = np.abs(fit.x) < 1e-4  # collapse: xi_c |chi_1 - 1| -> 1 on every branch and both sides
    assert small.sum() >= 4 and np.all(np.abs(fit.y[small] - 1) < 5e-3)
    assert np.any(fit.x[small] < 0) and np.any(fit.x[small] > 0)


# ------------------------------------------------------------------------ every named activation


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_named_activation_runs_the_pipeline(name: str) -> None:
    ordered = fixed_point(name, 0.5, 0.05)
    assert ordered.phase == ("chaotic" if name == "sign" else "ordered")
    assert np.isfinite(ordered.q_star) and np.isfinite(ordered.xi_c) and ordered.xi_c > 0
    pd = phase_diagram(name, np.linspace(0.2, 4.0, 7), [0.0, 0.05, 0.3])
    assert pd.xi_c.shape == (3, 7)
    assert pd.q_star[1, 0] == pytest.approx(fixed_point(name, 0.2, 0.05).q_star, rel=1e-9)
    sim = cr.simulate_signal(name, 0.5, 0.05, width=40, depth=3, n_networks=2, rng=0)
    assert np.all(np.isfinite(sim.q_mean))


def test_sign_correlation_map_is_sheppards_arcsine() -> None:
    for sw2 in (0.7, 3.0):
        c_ex = brentq(lambda c, s=sw2: (s * 2 / math.pi * math.asin(c) + 0.05) / (s + 0.05) - c, 0.0, 1 - 1e-12)
        slope = sw2 * 2 / math.pi / math.sqrt(1 - c_ex**2) / (sw2 + 0.05)
        fp = fixed_point("sign", sw2, 0.05)
        pd = phase_diagram("sign", [sw2], [0.05])
        assert fp.chi_1 == math.inf and fp.phase == "chaotic"
        assert fp.c_star == pytest.approx(c_ex, abs=1e-12) and pd.c_star[0, 0] == pytest.approx(c_ex, abs=1e-12)
        assert fp.chi_c == pytest.approx(slope, rel=1e-7) and pd.chi_c[0, 0] == pytest.approx(slope, rel=1e-7)


def test_smooth_activations_against_closed_forms() -> None:
    # erf chi_1 = (4 sigma_w^2/pi)/sqrt(1 + 4 q*) at q* of the closed-form length map
    q = brentq(lambda q: 2.0 * (2 / math.pi) * math.asin(2 * q / (1 + 2 * q)) + 0.1 - q, 1e-6, 10.0)
    fp = fixed_point("erf", 2.0, 0.1)
    assert fp.q_star == pytest.approx(q, rel=1e-8)
    assert fp.chi_1 == pytest.approx(4 * 2.0 / math.pi / math.sqrt(1 + 4 * q), rel=1e-8)
    # linear: q* = sigma_b^2/(1 - sigma_w^2), chi_1 = sigma_w^2; sin: E[sin^2(sqrt(q) z)] = (1 - e^{-2q})/2
    assert fixed_point("linear", 0.6, 0.2).q_star == pytest.approx(0.5, rel=1e-12)
    assert fixed_point("linear", 0.6, 0.2).chi_1 == pytest.approx(0.6, rel=1e-12)
    q = brentq(lambda q: 0.8 * (1 - math.exp(-2 * q)) / 2 + 0.1 - q, 1e-6, 10.0)
    assert fixed_point("sin", 0.8, 0.1).q_star == pytest.approx(q, rel=1e-10)
    # relu in the ordered phase: q* = sigma_b^2/(1 - sigma_w^2/2)
    assert fixed_point("relu", 1.2, 0.1).q_star == pytest.approx(0.25, rel=1e-12)
    # gelu / swish / sigmoid: chi_1 against dense trapezoid quadrature of phi'^2
    z = np.linspace(-40, 40, 400001)
    w = np.exp(-z * z / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    for name, d1 in (("gelu", lambda x: ndtr(x) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
                     ("sigmoid", lambda x: 0.25 / np.cosh(x / 2) ** 2),
                     ("erf", lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x))):
        fp = fixed_point(name, 1.7, 0.2)
        assert fp.chi_1 == pytest.approx(1.7 * float(np.sum(w * d1(math.sqrt(fp.q_star) * z) ** 2)), rel=1e-9)


def test_hard_tanh_against_closed_form_moments() -> None:
    # E[clip(sqrt(q) z)^2] = P(|z| > a) + q (P(|z|<a) - 2 a pdf(a)), a = 1/sqrt(q); chi_1 = sigma_w^2 P(|z| < a)
    from scipy.stats import norm

    def m2(q: float) -> float:
        a = 1 / math.sqrt(q)
        inside = 2 * ndtr(a) - 1
        return (1 - inside) + q * (inside - 2 * a * math.exp(-a * a / 2) / math.sqrt(2 * math.pi))

    def e_clip(m: np.ndarray, s: float) -> np.ndarray:  # E[clip(m + s Z)] in closed form
        lo, hi = (-1 - m) / s, (1 - m) / s
        return -norm.cdf(lo) + norm.sf(hi) + m * (norm.cdf(hi) - norm.cdf(lo)) + s * (norm.pdf(lo) - norm.pdf(hi))

    z = np.linspace(-12, 12, 200001)
    w = norm.pdf(z) * (z[1] - z[0])
    for sw2 in (0.8, 1.5, 3.0):
        q = brentq(lambda q, s=sw2: s * m2(q) + 0.05 - q, 1e-6, 50.0)
        fp = fixed_point("hard-tanh", sw2, 0.05)
        assert fp.q_star == pytest.approx(q, rel=1e-12)
        assert fp.chi_1 == pytest.approx(sw2 * (2 * ndtr(1 / math.sqrt(q)) - 1), rel=1e-12)
        if fp.phase != "chaotic":
            continue
        # c*: E[phi(u1) phi(u2)] with the inner Gaussian integral in closed form, outer by dense trapezoid
        u1 = math.sqrt(q) * z

        def cmap(c: float, q: float = q, u1: np.ndarray = u1, s: float = sw2) -> float:
            pair = float(np.sum(w * np.clip(u1, -1, 1) * e_clip(c * u1, math.sqrt(q * (1 - c * c)))))
            return (s * pair + 0.05) / q

        c_ex = brentq(lambda c: cmap(c) - c, 0.0, 0.99)
        assert fp.c_star == pytest.approx(c_ex, abs=2e-5)
        assert phase_diagram("hard-tanh", [sw2], [0.05]).c_star[0, 0] == pytest.approx(c_ex, abs=2e-5)
        slope = (cmap(c_ex + 1e-4) - cmap(c_ex - 1e-4)) / 2e-4
        assert fp.chi_c == pytest.approx(slope, rel=2e-5)


def test_callables_numpy_and_torch() -> None:
    torch = pytest.importorskip("torch")
    ref = fixed_point("tanh", 1.5, 0.05)
    for f in (lambda x: np.tanh(x), torch.tanh):  # np.tanh also accepts tensors, but has no autograd
        fp = fixed_point(f, 1.5, 0.05)
        assert fp.q_star == pytest.approx(ref.q_star, rel=1e-9) and fp.chi_1 == pytest.approx(ref.chi_1, rel=1e-7)
    silu = fixed_point(torch.nn.functional.silu, 3.0, 0.05)
    assert silu.chi_1 == pytest.approx(fixed_point("swish", 3.0, 0.05).chi_1, rel=1e-9)


# ----------------------------------------------------------------------------- gradients along depth


def test_gradient_norms_follow_chi_1_per_layer() -> None:
    rates = []
    for sw2 in (1.2, 2.5):  # ordered (gradients vanish towards the input) and chaotic (they explode)
        g = cr.gradient_norms("tanh", sw2, 0.05, width=200, depth=20, n_networks=4, rng=1)
        assert g.rate_fit == pytest.approx(g.chi_1, abs=0.04)
        rates.append(g.rate_fit)
    assert rates[0] < 1 < rates[1]


def test_rg_without_a_finite_fixed_point_on_the_critical_line() -> None:
    # relu: q* diverges for sigma_w2 >= 2 (sigma_b2 > 0), so the critical line carries no RG fixed point
    a, b = rg_step("relu", np.array([1.5, 2.5]), 0.1)
    assert np.isfinite(a[0]) and np.isfinite(b[0]) and np.isnan(a[1]) and np.isnan(b[1])
    assert a[0] == pytest.approx(2 * (1.5 / 2) ** 2, rel=1e-12)  # chi_1' = chi_1^2 with chi_1 = sigma_w2 / 2
    with pytest.raises(ValueError, match="diverges"):
        rg_eigenvalues("relu", 0.1)
    fit = correlation_length_exponent("relu", sigma_b2=(0.05,))
    assert np.isnan(fit.nu_rg) and fit.nu == pytest.approx(1.0, abs=2e-3)
    # at sigma_b2 = 0 the ordered relu network has q* = 0; chi_1 is its q -> 0+ limit sigma_w2 / 2
    assert fixed_point("relu", 1.2, 0.0).chi_1 == pytest.approx(0.6, rel=1e-13)
