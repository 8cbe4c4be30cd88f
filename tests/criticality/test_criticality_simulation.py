"""Simulated random networks against the mean-field length map."""
from __future__ import annotations

import numpy as np

from spinlens.criticality.empirical import simulate_signal


def test_simulated_q_matches_length_map_at_width_1000_for_20_layers() -> None:
    sim = simulate_signal("tanh", 1.5, 0.05, width=1000, depth=20, n_networks=6, q_in=1.0, c_in=0.6, rng=3)
    assert sim.q_mean.shape == (20,)
    z = (sim.q_mean - sim.q_theory) / sim.q_err
    assert np.all(np.abs(z) < 4.0), z
    # the theory is not trivially matched: q moves from q^1 = 1.55 to q* = 0.418
    assert sim.q_theory[0] - sim.q_theory[-1] > 1.0
    # same seed, same numbers
    again = simulate_signal("tanh", 1.5, 0.05, width=1000, depth=2, n_networks=6, q_in=1.0, c_in=0.6, rng=3)
    np.testing.assert_array_equal(again.q_mean, sim.q_mean[:2])
