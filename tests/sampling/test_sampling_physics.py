"""Physics checks against exact results: Onsager/Kaufman, Yang, cluster vs local moves, SK paramagnet."""
from __future__ import annotations

import numpy as np
import pytest

import spinlens.sampling as smp
from spinlens.exact import kaufman, onsager
from spinlens.spins.lattice import cubic_lattice, square_lattice
from spinlens.spins.sk import sk

YANG_05 = 0.9113194


def kaufman_energy(L: int, beta: float, h: float = 1e-5) -> float:
    """Exact energy per spin of the periodic L x L lattice: -(1/N) d ln Z / d beta."""
    return -(kaufman(L, beta + h) - kaufman(L, beta - h)) / (2 * h) / L**2


@pytest.mark.parametrize("L", [32, pytest.param(64, marks=pytest.mark.slow)])
@pytest.mark.parametrize("beta", [0.3, 0.5])
def test_energy_matches_onsager(L, beta):
    """Energy per spin within 3 sigma of Onsager's infinite-lattice value.

    Finite-size allowance: |u_L - u_inf| from Kaufman's exact finite-lattice partition function
    (< 1e-6 for L >= 32), and we also check the exact finite-L value directly.
    """
    res = smp.sample(square_lattice(L), beta, 6000 if L == 32 else 8000, method="multispin", n_chains=4,
                     n_burn=1000, rng=11)
    exact_L = kaufman_energy(L, beta)
    u_inf = float(onsager(beta).energy)
    allowance = abs(exact_L - u_inf)
    assert res.method == "multispin"
    assert res.energy.within(u_inf, 3.0, allowance), (res.energy, u_inf, allowance)
    assert res.energy.within(exact_L, 3.0), (res.energy, exact_L)
    assert 0 < res.energy.error < 2e-3
    assert res.r_hat < 1.05
    if beta == 0.5:
        # Yang's spontaneous magnetisation; finite-size allowance 0.002 (|m| of L >= 32 exceeds m_inf slightly)
        assert res.abs_magnetization.within(YANG_05, 3.0, 0.002), res.abs_magnetization


@pytest.mark.parametrize("method", ["wolff", "swendsen-wang", "multispin", "checkerboard", "heatbath"])
def test_methods_agree_with_metropolis(method):
    """Every observable of cluster/multispin/checkerboard runs agrees with single-spin Metropolis (L=16)."""
    model = square_lattice(16)
    beta = 0.42
    ref = smp.sample(model, beta, 20000, method="metropolis", n_chains=4, rng=1)
    res = smp.sample(model, beta, 20000 if method != "swendsen-wang" else 8000, method=method, n_chains=4, rng=2)
    for name in ("energy", "abs_magnetization", "susceptibility", "heat_capacity", "binder"):
        a, b = getattr(ref, name), getattr(res, name)
        sigma = np.hypot(a.error, b.error)
        assert abs(a.mean - b.mean) < 4.5 * sigma, (name, a, b)


@pytest.mark.parametrize("beta", [0.15, 0.3])
def test_multispin_3d_agrees_with_metropolis(beta):
    """3D (z = 6, all five bond classes): multi-spin coding in both packings agrees with Metropolis on 4x4x4.

    Metropolis itself is checked against exact Boltzmann frequencies; the 2D multi-spin kernels against exact
    enumeration of the 4x4 torus. Shared-randomness replicas are correlated, so only one of them is used.
    """
    model = cubic_lattice(4)
    ref = smp.sample(model, beta, 20000, method="metropolis", n_chains=4, rng=21, warn=False)
    runs = {
        "multispin": smp.sample(model, beta, 20000, method="multispin", n_chains=4, rng=22, warn=False),
        "independent": smp.sample(model, beta, 5000, method="multispin-replicas", n_chains=16,
                                  random="independent", rng=23, warn=False),
        "shared": smp.sample(model, beta, 40000, method="multispin-replicas", n_chains=1, random="shared",
                             rng=24, warn=False),
    }
    for method, res in runs.items():
        for name in ("energy", "abs_magnetization", "heat_capacity"):
            a, b = getattr(ref, name), getattr(res, name)
            assert abs(a.mean - b.mean) < 4.5 * np.hypot(a.error, b.error), (method, name, a, b)


def test_wolff_decorrelates_faster_at_tc():
    model = square_lattice(32)
    beta_c = 0.5 * np.log(1 + np.sqrt(2))
    met = smp.sample(model, beta_c, 6000, method="metropolis", n_chains=2, rng=3, warn=False)
    wol = smp.sample(model, beta_c, 3000, method="wolff", n_chains=2, rng=4, warn=False)
    assert wol.abs_magnetization.tau_int * 10 < met.abs_magnetization.tau_int
    assert wol.energy.within(met.energy.mean, 4.0, 3 * met.energy.error)


def test_sk_paramagnet_energy():
    """SK at T = 1.5: e -> -beta/2 as N grows (finite N: -beta/2 (1 - 1/N) on average over disorder)."""
    beta = 1 / 1.5
    devs = []
    for N in (50, 400):
        es = [smp.sample(sk(N, rng=100 + k), beta, 1500, n_chains=2, rng=k, warn=False).energy.mean
              for k in range(4)]
        devs.append(abs(np.mean(es) + beta / 2))
    assert devs[1] < 0.006, devs
    assert devs[1] < devs[0] + 0.003


def test_tempering_adapts_ladder_and_samples_sk():
    model = sk(48, rng=5)
    res = smp.sample(model, 2.0, 3000, method="tempering", n_chains=2, n_burn=1500, rng=6, n_temps=8,
                     beta_min=0.4, target_acceptance=0.3, record_all=True, warn=False)
    betas = res.extra["betas"]
    acc = res.extra["swap_acceptance"]
    assert betas[-1] == pytest.approx(2.0) and np.all(np.diff(betas) > 0)
    assert np.all(acc > 0.05), acc
    assert res.extra["overlaps"].shape == (1, 3000, 8)
    # the low-temperature energy is far below the paramagnet's and above the Parisi ground state bound
    assert -0.80 < res.energy.mean < -0.6


def test_anneal_finds_exact_ground_state():
    from spinlens.exact import boltzmann_probabilities
    from spinlens.spins import IsingModel

    g = np.random.default_rng(3)
    A = np.triu(g.normal(size=(14, 14)), 1)
    model = IsingModel(A + A.T, g.normal(0, 0.3, 14))
    states, _ = boltzmann_probabilities(model, 1.0)
    e0 = float(np.min(model.energy(states)))
    res = smp.anneal(model, n_steps=100, n_restarts=8, rng=1)
    assert res.energy == pytest.approx(e0)
    assert model.energy(res.state) == pytest.approx(e0)


@pytest.mark.slow
def test_sk_annealed_ground_states_extrapolate():
    """Annealed SK ground-state energies fitted by e(N) = e_inf + a N^(-2/3) extrapolate near -0.7632."""
    Ns = np.array([64, 128, 256])
    e = []
    for N in Ns:
        vals = [smp.anneal(sk(int(N), rng=10 * N + k), n_steps=300, sweeps_per_step=2, n_restarts=6,
                           rng=k).energy_per_spin for k in range(6)]
        e.append(np.mean(vals))
    A = np.stack([np.ones(len(Ns)), Ns ** (-2.0 / 3.0)], axis=1)
    coef = np.linalg.lstsq(A, np.array(e), rcond=None)[0]
    assert abs(coef[0] - (-0.7632)) < 0.04, (coef, e)
