"""Simulated random networks against the mean-field length map."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.criticality.empirical import simulate_signal


@pytest.mark.parametrize("weights", ["marginal", pytest.param("explicit", marks=pytest.mark.slow)])
def test_simulated_q_matches_length_map_at_width_1000_for_20_layers(weights: str) -> None:
    sim = simulate_signal("tanh", 1.5, 0.05, width=1000, depth=20, n_networks=6, q_in=1.0, c_in=0.6, rng=3,
                          weights=weights)
    assert sim.q_mean.shape == (20,)
    z = (sim.q_mean - sim.q_theory) / sim.q_err
    assert np.all(np.abs(z) < 4.0), z
    # the theory is not trivially matched: q moves from q^1 = 1.55 to q* = 0.418
    assert sim.q_theory[0] - sim.q_theory[-1] > 1.0
    # same seed, same numbers
    again = simulate_signal("tanh", 1.5, 0.05, width=1000, depth=2, n_networks=6, q_in=1.0, c_in=0.6, rng=3,
                            weights=weights)
    np.testing.assert_array_equal(again.q_mean, sim.q_mean[:2])


def test_finite_width_fluctuations_match_ryh_four_point_vertex() -> None:
    # connected 4th cumulant of one pre-activation = 3 V^l / n (RYH ch. 4) and Var(q-hat) = (V + 2K^2)/n
    for name, sw2, sb2 in (("relu", 2.0, 0.0), ("tanh", 1.5, 0.05)):
        sim = simulate_signal(name, sw2, sb2, width=100, depth=6, n_networks=64, rng=0)
        assert sim.V_theory[0] == 0.0 and np.all(sim.V_theory[1:] > 0.1)
        z = (sim.V_hat[1:] - sim.V_theory[1:]) / sim.V_err[1:]
        assert np.all(np.abs(z) < 4.0), (name, z)
        # the std of q-hat over 64 networks is known to ~9%: allow 4 sigma
        np.testing.assert_allclose(sim.q_std, sim.q_std_theory, rtol=0.35)
    relu = simulate_signal("relu", 2.0, 0.0, width=100, depth=6, n_networks=64, rng=0)
    np.testing.assert_allclose(relu.V_theory / relu.q_theory**2, 5.0 * (relu.layers - 1), rtol=1e-12)


def test_marginal_weights_sample_the_same_ensemble_as_explicit_matrices() -> None:
    kw = dict(width=150, depth=6, n_networks=48, q_in=1.0, c_in=0.3)
    a = simulate_signal("tanh", 2.5, 0.1, weights="explicit", rng=1, **kw)
    b = simulate_signal("tanh", 2.5, 0.1, weights="marginal", rng=2, **kw)
    for m1, e1, m2, e2 in ((a.q_mean, a.q_err, b.q_mean, b.q_err), (a.c_mean, a.c_err, b.c_mean, b.c_err),
                           (a.V_hat, a.V_err, b.V_hat, b.V_err)):
        z = (m1 - m2)[1:] / np.hypot(e1, e2)[1:]
        assert np.all(np.abs(z) < 4.0), z
    np.testing.assert_allclose(b.q_std, a.q_std, rtol=0.5)
    with pytest.raises(ValueError, match="weights"):
        simulate_signal("tanh", 1.0, 0.0, weights="dense", width=10, depth=2, n_networks=2)


@pytest.mark.slow
def test_trainability_follows_the_six_xi_c_depth_bound() -> None:
    # ~4 min on a loaded 2-core machine; measured: acc = [[0.939, 0.966], [0.105, 0.225]], 6 xi_c = [4.5, 3e4]
    from spinlens.criticality import trainability

    tr = trainability("tanh", sigma_w2=(0.3, 1.76), depths=(4, 40), sigma_b2=0.05, width=100, n_samples=2000,
                      epochs=3, rng=0)
    assert tr.six_xi_c[0] < 40 < tr.six_xi_c[1]  # depth 40 is beyond the ordered network's bound only
    assert np.all(tr.accuracy[0] > 0.8)  # shallow: both train
    assert tr.accuracy[1, 0] < 0.2  # deep and ordered: chance level (10 classes)
    assert tr.accuracy[1, 1] > tr.accuracy[1, 0] + 0.05  # deep and critical: learns
