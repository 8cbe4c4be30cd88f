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
    (None, [], "temperatures is empty"),
    ([0.05, np.nan], None, "alphas contains NaN"),
    (["a"], None, "alphas must hold real numbers"),
    (None, [[0.2]], "temperatures must be 0-D or 1-D"),
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


@pytest.mark.parametrize(("kw", "name"), [
    ({"alpha": np.nan}, "alpha"), ({"T": np.array(np.nan)}, "T"),        # were: NaN order parameters, silently
    ({"alpha": "0.05"}, "alpha"), ({"T": 1j}, "T"), ({"alpha": -0.1}, "alpha"),
    ({"damping": -0.1}, "damping"), ({"damping": 1.0}, "damping"),    # damping 1 never moves: m0 returned
    ({"max_iter": 0}, "max_iter"), ({"tol": 0.0}, "tol"),              # were: the start returned unconverged
    ({"m0": 2.0}, "m0"), ({"q0": -0.5}, "q0"),
])
def test_solve_ags_refuses_bad_arguments_naming_them(kw, name) -> None:
    with pytest.raises(ValueError, match=name):
        solve_ags(**{"alpha": 0.05, "T": 0.2, "max_iter": 50, **kw})


def test_solve_ags_broadcasts_over_arrays_of_loads_and_temperatures() -> None:
    s = solve_ags(np.array([0.02, 0.05])[:, None], np.array([0.2, 0.4])[None, :], max_iter=200)
    assert s.m.shape == (2, 2) and np.all(s.m > 0.9)


@pytest.mark.parametrize("fn", [spin_glass_line, retrieval_line, thermodynamic_line])
@pytest.mark.parametrize("bad", [[], [-0.1], [np.nan], ["a"], None, [[0.05]], 1j])
def test_lines_refuse_bad_loads_naming_alphas(fn, bad) -> None:
    """Were: [] returned an empty array (T_g) or numpy's 'zero-size array to reduction' (T_M, T_c)."""
    with pytest.raises(ValueError, match="alphas"):
        fn(bad)


@pytest.mark.parametrize(("kw", "name"), [({"n": 1}, "n"), ({"n": 2.5}, "n"), ({"alpha_max": 0.0}, "alpha_max"),
                                          ({"alpha_max": np.nan}, "alpha_max")])
def test_ags_lines_refuse_bad_grids(kw, name) -> None:
    """Were: n=1 and alpha_max=0 returned lines on a degenerate grid, silently."""
    from spinlens.memory import ags_lines

    with pytest.raises(ValueError, match=name):
        ags_lines(**kw)


def test_ags_zero_t_domain() -> None:
    assert ags_zero_t(0.0) == 1.0  # no load: perfect retrieval (the alpha -> 0 limit of the theory)
    for bad in (-0.1, np.nan, "0.05", None, True):
        with pytest.raises(ValueError, match="alpha"):
            ags_zero_t(bad)


@pytest.mark.parametrize(("kw", "name"), [({"n_spins": [2]}, "n_spins"), ({"n_trials": [2]}, "n_trials"),
                                          ({"n_sweeps": 0}, "n_sweeps"), ({"n_lines": 1}, "n_lines"),
                                          ({"temperatures": ["a"]}, "temperatures")])
def test_phase_diagram_refuses_bad_counts_naming_them(kw, name) -> None:
    from spinlens.memory import phase_diagram

    with pytest.raises(ValueError, match=name):
        phase_diagram(**{"alphas": [0.05], "temperatures": [0.2], "n_spins": 20, "n_trials": 1, "n_sweeps": 2,
                         "n_lines": 2, "rng": 0, **kw})


@pytest.mark.parametrize("bad", [None, 3, "r", np.zeros(3)])
def test_phase_diagram_figure_refuses_a_non_result(bad) -> None:
    from spinlens.memory import phase_diagram_figure

    with pytest.raises(TypeError, match="result"):
        phase_diagram_figure(bad)
