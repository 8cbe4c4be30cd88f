"""AGS replica-symmetric theory of the Hebbian Hopfield network: known limits and values of the lines."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.memory import ags_zero_t, alpha_c, retrieval_line, solve_ags, spin_glass_line, thermodynamic_line


def test_zero_temperature_capacity_and_overlap() -> None:
    # AGS (1985): alpha_c = 0.138 with m = 0.967 at the transition; no retrieval state above it
    assert alpha_c() == pytest.approx(0.1379, abs=2e-4)
    assert ags_zero_t(alpha_c() - 1e-6) == pytest.approx(0.967, abs=2e-3)
    assert ags_zero_t(alpha_c() + 1e-3) == 0.0
    assert ags_zero_t(0.05) > ags_zero_t(0.1) > ags_zero_t(0.13) > 0.967


def test_small_load_limits() -> None:
    # alpha -> 0: the Curie-Weiss equation m = tanh(m / T)
    m = float(solve_ags(1e-8, 0.5).m)
    assert m == pytest.approx(np.tanh(m / 0.5), abs=1e-8) and m == pytest.approx(0.95750, abs=1e-4)
    # T_M(alpha) = 1 - 1.95 sqrt(alpha) + ... (Amit, Gutfreund & Sompolinsky 1987)
    a = np.array([0.001, 0.004])
    assert np.allclose(retrieval_line(a), 1 - 1.95 * np.sqrt(a), atol=5e-3)
    # the finite-T solution at low T approaches the T = 0 one
    assert float(solve_ags(0.1, 0.05).m) == pytest.approx(ags_zero_t(0.1), abs=2e-3)


def test_lines_order_and_endpoints() -> None:
    a = np.array([0.02, 0.045, 0.06, 0.136, 0.14])
    TM = retrieval_line(a)
    Tc = thermodynamic_line(a, T_M=TM)
    Tg = spin_glass_line(a)
    assert np.all(np.diff(TM) <= 0) and TM[-1] == 0.0 and 0 < TM[-2] < 0.12  # T_M -> 0 at alpha_c
    assert np.all(TM < Tg)
    assert np.all(Tc[:2] < TM[:2])  # retrieval states are global minima only below T_c < T_M ...
    assert np.all(np.isnan(Tc[2:]))  # ... and never for alpha above ~0.051


@pytest.mark.parametrize(("alphas", "temperatures", "match"), [
    ([0.05, -0.1], None, "alphas must be"),
    (None, [0.5, 0.5], "temperatures must be distinct"),
    (None, [], "temperatures must be"),
    ([0.05, np.nan], None, "alphas must be"),
])
def test_phase_diagram_grid_refuses_bad_loads_and_temperatures(alphas, temperatures, match) -> None:
    from spinlens.memory import phase_diagram
    from spinlens.memory.ags import phase_diagram_grid

    with pytest.raises(ValueError, match=match):
        phase_diagram_grid(alphas, temperatures)
    with pytest.raises(ValueError, match=match):
        phase_diagram(alphas, temperatures, n_spins=20, n_trials=1, n_sweeps=2, n_lines=2)
    A, T = phase_diagram_grid([0.1, 0.05], [1.0, 0.2])  # sorted for the heat map
    assert A.tolist() == [0.05, 0.1] and T.tolist() == [0.2, 1.0]
