"""Bad input to the criticality API is a ValueError naming the argument, never a silent number (issue #17).

Each row is one bad value that used to return a result (a NaN, a result for a bool or an empty grid, a
silently broadcast array) or fail with another exception or a message not naming the argument. The
second half checks that valid inputs near the edges (q = 0, K = 0, negative correlations, vectorised
closed forms and RG steps) are still accepted.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from spinlens import criticality as cr

NAN = float("nan")
TANH = {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05}
MAPS = {"q": 1.0, "c": 0.5, "sigma_w2": 1.5, "sigma_b2": 0.05}
_g = np.random.default_rng(0)
NET = {"weights": [_g.normal(size=(3, 3)) * 0.5, _g.normal(size=(2, 3)) * 0.5],
       "biases": [np.zeros(3), np.zeros(2)], "activation": "tanh", "lam": 1.0}
H = [np.zeros(3), np.zeros(3), np.zeros(2)]
SIM = {**TANH, "width": 8, "depth": 2, "n_networks": 2, "rng": 0, "device": "cpu"}

# (function, valid keyword arguments, argument, bad value, a word the message must contain)
CASES: list[tuple[Any, dict[str, Any], str, Any, str]] = [
    (cr.chi_1, TANH, "q0", 0.0, "q0"),
    (cr.chi_1, TANH, "sigma_b2", True, "sigma_b2"),
    (cr.chi_1, TANH, "sigma_w2", 1j, "sigma_w2"),
    (cr.fixed_point, TANH, "sigma_w2", [1.0, 2.0], "sigma_w2"),
    (cr.fixed_point, TANH, "n_quad", 1, "n_quad"),
    (cr.fixed_point, TANH, "q0", 0.0, "q0"),
    (cr.fixed_point, TANH, "sigma_b2", True, "sigma_b2"),
    (cr.critical_sigma_w2, {"activation": "tanh", "sigma_b2": 0.05}, "q0", 0.0, "q0"),
    (cr.critical_sigma_w2, {"activation": "tanh", "sigma_b2": 0.05}, "sigma_b2", True, "sigma_b2"),
    (cr.critical_line, {"activation": "tanh", "sigma_b2": [0.0, 0.05]}, "sigma_b2", [], "sigma_b2"),
    (cr.critical_line, {"activation": "tanh", "sigma_b2": [0.0, 0.05]}, "sigma_b2", [[0.1]], "sigma_b2"),
    (cr.critical_line, {"activation": "tanh", "sigma_b2": [0.0, 0.05]}, "q0", 0.0, "q0"),
    (cr.length_map, {**TANH, "q": 1.0}, "q", -1.0, "q"),
    (cr.length_map, {**TANH, "q": 1.0}, "sigma_b2", True, "sigma_b2"),
    (cr.length_map, {**TANH, "q": 1.0}, "sigma_w2", [1.0, 2.0], "sigma_w2"),
    (cr.correlation_map, {**TANH, "q": 1.0, "c": 0.5}, "q", 0.0, "q"),
    (cr.correlation_map, {**TANH, "q": 1.0, "c": 0.5}, "c", 1.5, "c"),
    (cr.correlation_map, {**TANH, "q": 1.0, "c": 0.5}, "c", NAN, "c"),
    (cr.correlation_map, {**TANH, "q": 1.0, "c": 0.5}, "sigma_b2", True, "sigma_b2"),
    (cr.correlation_map, {**TANH, "q": 1.0, "c": 0.5}, "sigma_w2", [1.0, 2.0], "sigma_w2"),
    (cr.iterate_maps, {**TANH, "q0": 1.0, "c0": 0.5, "depth": 3}, "c0", NAN, "c0"),
    (cr.iterate_maps, {**TANH, "q0": 1.0, "c0": 0.5, "depth": 3}, "depth", 0, "depth"),
    (cr.iterate_maps, {**TANH, "q0": 1.0, "c0": 0.5, "depth": 3}, "q0", 0.0, "q0"),
    (cr.iterate_maps, {**TANH, "q0": 1.0, "c0": 0.5, "depth": 3}, "sigma_b2", True, "sigma_b2"),
    (cr.iterate_maps, {**TANH, "q0": 1.0, "c0": 0.5, "depth": 3}, "sigma_w2", [1.0, 2.0], "sigma_w2"),
    (cr.phase_diagram, {"activation": "tanh", "sigma_w2_grid": [1.0, 2.0], "sigma_b2_grid": [0.0, 0.1],
                        "n_mehler": 8}, "sigma_w2_grid", [], "sigma_w2"),
    (cr.phase_diagram, {"activation": "tanh", "sigma_w2_grid": [1.0, 2.0], "sigma_b2_grid": [0.0, 0.1],
                        "n_mehler": 8}, "sigma_b2_grid", [], "sigma_b2"),
    (cr.depth_scale_cut, {"activation": "tanh", "sigma_w2": [1.0, 2.0], "sigma_b2": 0.05, "n_mehler": 8},
     "sigma_w2", [], "sigma_w2"),
    (cr.depth_scale_cut, {"activation": "tanh", "sigma_w2": [1.0, 2.0], "sigma_b2": 0.05, "n_mehler": 8},
     "sigma_b2", True, "sigma_b2"),
    (cr.rg_step, TANH, "sigma_b2", True, "sigma_b2"),
    (cr.rg_step, TANH, "sigma_w2", [1.0, 0.0], "sigma_w2"),
    (cr.rg_flow, {**TANH, "n_steps": 2}, "n_steps", 0, "n_steps"),
    (cr.rg_flow, {**TANH, "n_steps": 2}, "sigma_b2", True, "sigma_b2"),
    (cr.rg_flow, {**TANH, "n_steps": 2}, "sigma_w2", [1.0, 2.0], "sigma_w2"),
    (cr.rg_eigenvalues, {"activation": "tanh", "sigma_b2": 0.05}, "h", 0.0, "h"),
    (cr.rg_eigenvalues, {"activation": "tanh", "sigma_b2": 0.05}, "sigma_b2", True, "sigma_b2"),
    (cr.decimate, {**TANH, "n_quad_2d": 16}, "n_quad_2d", 1, "n_quad_2d"),
    (cr.decimate, {**TANH, "n_quad_2d": 16}, "sigma_b2", True, "sigma_b2"),
    (cr.decimate, {**TANH, "n_quad_2d": 16}, "sigma_w2", 1j, "sigma_w2"),
    (cr.correlation_length_exponent, {"activation": "tanh", "sigma_b2": (0.01, 0.05)}, "sigma_b2", (), "sigma_b2"),
    (cr.critical_init, {"activation": "tanh"}, "n_quad", 1, "n_quad"),
    (cr.universality_class, {"activation": "tanh"}, "activation", "no-such-activation", "activation"),
    (cr.chi_parallel_perp, {"activation": "tanh", "K": 0.5, "C_W": 1.0}, "C_W", 0.0, "C_W"),
    (cr.chi_parallel_perp, {"activation": "tanh", "K": 0.5, "C_W": 1.0}, "K", -1.0, "K"),
    (cr.kernel_recursion, {"activation": "tanh", "C_b": 0.0, "C_W": 1.0, "K1": 1.0, "depth": 3}, "C_W", [1.0, 2.0],
     "C_W"),
    (cr.kernel_recursion, {"activation": "tanh", "C_b": 0.0, "C_W": 1.0, "K1": 1.0, "depth": 3}, "C_b", True, "C_b"),
    (cr.kernel_recursion, {"activation": "tanh", "C_b": 0.0, "C_W": 1.0, "K1": 1.0, "depth": 3}, "K1", [1.0, 2.0],
     "K1"),
    (cr.kernel_recursion, {"activation": "tanh", "C_b": 0.0, "C_W": 1.0, "K1": 1.0, "depth": 3}, "depth", [2],
     "depth"),
    (cr.dynamic_neuron_energy, {**NET, "h": H}, "h", [np.full(3, NAN), np.zeros(3), np.zeros(2)], "h[0]"),
    (cr.dynamic_neuron_energy, {**NET, "h": H}, "h", [np.zeros(3)], "h"),
    (cr.dynamic_neuron_energy, {**NET, "h": H}, "lam", 0.0, "lam"),
    (cr.dynamic_neuron_energy, {**NET, "h": H}, "weights", None, "weights"),
    (cr.dynamic_neuron_energy, {**NET, "h": H}, "weights", [np.full((3, 3), NAN), np.ones((2, 3))], "weights[0]"),
    (cr.sample_dynamic_neurons, {**NET, "x": np.zeros(3), "rng": 0}, "lam", [1.0, 2.0], "lam"),
    (cr.sample_dynamic_neurons, {**NET, "x": np.zeros(3), "rng": 0}, "weights", None, "weights"),
    (cr.sample_dynamic_neurons, {**NET, "x": np.zeros(3), "rng": 0}, "weights", [np.ones((3, 3)), np.ones((2, 4))],
     "weights[1]"),
    (cr.sample_dynamic_neurons, {**NET, "x": np.zeros(3), "rng": 0}, "x", np.array(0.0), "x"),
    (cr.simulate_signal, SIM, "depth", [2], "depth"),
    (cr.simulate_signal, SIM, "n_networks", [2], "n_networks"),
    (cr.simulate_signal, SIM, "width", [2], "width"),
    (cr.simulate_signal, SIM, "sigma_b2", True, "sigma_b2"),
    (cr.simulate_signal, SIM, "sigma_w2", [1.0, 2.0], "sigma_w2"),
    (cr.gradient_norms, SIM, "depth", 0, "depth"),
    (cr.gradient_norms, SIM, "n_networks", 0, "n_networks"),
    (cr.gradient_norms, SIM, "n_networks", 1, "n_networks"),
    (cr.gradient_norms, SIM, "width", 0, "width"),
    (cr.gradient_norms, SIM, "sigma_b2", True, "sigma_b2"),
    (cr.gradient_norms, SIM, "sigma_w2", 1j, "sigma_w2"),
    (cr.erf_maps, MAPS, "c", NAN, "c"),
    (cr.erf_maps, MAPS, "q", 0.0, "q"),
    (cr.erf_maps, MAPS, "sigma_b2", NAN, "sigma_b2"),
    (cr.erf_maps, MAPS, "sigma_w2", 0.0, "sigma_w2"),
    (cr.erf_maps, {**MAPS, "q": np.ones(3)}, "c", np.ones(2) * 0.5, "broadcast"),
    (cr.relu_maps, MAPS, "c", NAN, "c"),
    (cr.relu_maps, MAPS, "q", 0.0, "q"),
    (cr.relu_maps, MAPS, "sigma_b2", NAN, "sigma_b2"),
    (cr.relu_maps, MAPS, "sigma_w2", 0.0, "sigma_w2"),
]

# trainability trains MLPs on MNIST-5000 when its arguments pass: the bad ones must stop it before any data
TRAIN = {"activation": "tanh", "sigma_w2": (1.0,), "depths": (2,), "width": 8, "n_samples": 32, "epochs": 1}
TRAIN_CASES = [("sigma_w2", (), "sigma_w2"), ("sigma_w2", (-1.0,), "sigma_w2"), ("depths", (), "depths"),
               ("depths", (2.5,), "depths"), ("depths", (0,), "depths"), ("width", 0, "width"),
               ("epochs", 0, "epochs"), ("lr", NAN, "lr"), ("sigma_b2", True, "sigma_b2")]


def _ids(case: tuple[Any, ...]) -> str:
    return f"{case[0].__name__}-{case[2]}={case[3]!r}"[:60]


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_bad_value_is_a_value_error_naming_the_argument(case: tuple[Any, ...]) -> None:
    fn, valid, arg, bad, word = case
    kwargs = {**valid, arg: bad}
    with pytest.raises(ValueError) as exc:
        fn(**kwargs)
    assert word.lower() in str(exc.value).lower(), str(exc.value)


@pytest.mark.parametrize("arg,bad,word", TRAIN_CASES)
def test_trainability_refuses_bad_arguments_before_loading_data(arg: str, bad: Any, word: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import spinlens.data

    def no_data(*a: Any, **k: Any) -> Any:
        raise AssertionError("trainability loaded data for a bad argument")

    monkeypatch.setattr(spinlens.data, "load_mnist5000", no_data)
    with pytest.raises(ValueError, match=word):
        cr.trainability(**{**TRAIN, arg: bad})


def test_valid_edge_inputs_are_still_accepted() -> None:
    # q = 0 (the zero input) maps to sigma_b2 + sigma_w2 phi(0)^2; K = 0 is the K* = 0 class's fixed point
    assert float(cr.length_map("tanh", 0.0, 1.5, 0.05)) == pytest.approx(0.05, abs=1e-15)
    np.testing.assert_allclose(cr.length_map("tanh", np.array([0.0, 1.0]), 1.5, 0.05)[0], 0.05, atol=1e-15)
    cpar, cperp = cr.chi_parallel_perp("tanh", 0.0, 1.0)
    assert float(cpar) == pytest.approx(1.0, abs=1e-12) and float(cperp) == pytest.approx(1.0, abs=1e-12)
    # anti-correlated inputs: an odd activation at sigma_b2 = 0 maps c -> -C(c)
    neg = float(cr.correlation_map("tanh", 1.0, -0.4, 1.5, 0.0))
    assert neg == pytest.approx(-float(cr.correlation_map("tanh", 1.0, 0.4, 1.5, 0.0)), rel=1e-10)
    # the closed forms broadcast elementwise; rg_step is vectorised over couplings
    qn, cn = cr.erf_maps(np.array([0.5, 1.0]), 0.3, np.array([1.0, 2.0]), 0.1)
    assert qn.shape == cn.shape == (2,)
    a, b = cr.rg_step("tanh", np.array([1.0, 1.5]), 0.05)
    assert a.shape == b.shape == (2,)
    # an activation with no critical initialisation is the class "none", not an error
    assert cr.universality_class("sigmoid") == "none"
    # numpy scalars and integral floats are numbers
    assert np.isfinite(cr.chi_1("tanh", np.float64(1.5), np.int64(0)))
    assert len(cr.iterate_maps("tanh", 1.5, 0.05, 1.0, -0.5, 3.0)[0]) == 3
