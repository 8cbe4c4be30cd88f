"""spinlens.sample API, bad input, statistics on known processes, and kernel invariants (hypothesis)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling_helpers import small_model

import spinlens.sampling as smp
from spinlens.results import Estimate
from spinlens.sampling import stats
from spinlens.sampling.samplers import pack_replicas, pack_sublattices, unpack_replicas, unpack_sublattices
from spinlens.spins.lattice import cubic_lattice, square_lattice
from spinlens.spins.sk import sk


# ------------------------------------------------------------------------------------------- API
def test_sample_result_fields_and_resume():
    model = square_lattice(8)
    calls = []
    res = smp.sample(model, 0.4, 400, method="metropolis", n_chains=3, rng=0, progress=lambda d, t: calls.append(d),
                     warn=False)
    for name in ("energy", "magnetization", "abs_magnetization", "susceptibility", "heat_capacity", "binder"):
        est = getattr(res, name)
        assert isinstance(est, Estimate) and np.isfinite(est.mean) and est.error >= 0
    assert res.energy_series.shape == (3, 400) and res.state.shape == (3, 64) and res.state.dtype == np.int8
    assert np.allclose(res.energy_series[:, -1], model.energy(res.state) / 64)
    assert calls and calls[-1] == 400 + 80
    again = smp.sample(model, 0.4, 400, method="metropolis", n_chains=3, rng=0, warn=False)
    assert np.array_equal(again.energy_series, res.energy_series)
    resumed = smp.sample(model, 0.4, 100, method="metropolis", n_chains=3, state=res.state, rng=1, warn=False)
    assert resumed.n_burn == 0
    assert res.to_dict()["energy"]["mean"] == pytest.approx(res.energy.mean)


def test_auto_method():
    assert smp.choose_method(square_lattice(64)) == "multispin"
    assert smp.choose_method(square_lattice(8)) == "metropolis"
    assert smp.choose_method(sk(20, rng=0)) == "metropolis"
    assert smp.choose_method(square_lattice(64, h=0.1)) == "metropolis"


def test_replica_modes_and_3d():
    m3 = cubic_lattice(4)
    for method, opts in (("multispin", {}), ("multispin-replicas", {"random": "shared"}),
                         ("multispin-replicas", {"random": "independent"})):
        r = smp.sample(m3, 0.2, 200, method=method, n_chains=4, rng=0, warn=False, **opts)
        assert np.allclose(r.energy_series[:, -1] * 64, m3.energy(r.state))
        assert -1.2 < r.energy.mean < -0.5


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), float("inf"), "hot"])
def test_bad_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        smp.sample(square_lattice(4), beta, 10)


@pytest.mark.parametrize("n_sweeps", [0, -5, 2.5])
def test_bad_n_sweeps(n_sweeps):
    with pytest.raises(ValueError, match="n_sweeps"):
        smp.sample(square_lattice(4), 0.4, n_sweeps)


@pytest.mark.parametrize("method", ["wolff", "swendsen-wang"])
def test_cluster_moves_refuse_frustrated_models(method):
    with pytest.raises(ValueError, match="ferromagnetic"):
        smp.sample(small_model("frustrated"), 0.5, 100, method=method)
    with pytest.raises(ValueError, match="ferromagnetic"):
        smp.WolffSampler().sample(square_lattice(4, J=-1.0), 0.5, 10)


def test_other_bad_input():
    with pytest.raises(ValueError, match="unknown method"):
        smp.sample(square_lattice(4), 0.4, 100, method="magic")
    with pytest.raises(ValueError, match="multispin"):
        smp.sample(sk(16, rng=0), 0.4, 100, method="multispin")
    with pytest.raises(ValueError, match="do not apply"):
        smp.sample(square_lattice(4), 0.4, 100, method="wolff", random="shared")
    with pytest.raises(ValueError, match="chains"):
        smp.sample(square_lattice(4), 0.4, 100, state=np.ones((2, 16)), n_chains=3)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        smp.sample(square_lattice(4), 0.4, 100, state=np.zeros(16))
    with pytest.raises(TypeError):
        smp.sample(np.eye(3), 0.4, 100)
    with pytest.raises(ValueError, match="n_chains"):
        smp.MultiSpinReplicaSampler(n_chains=100)


@pytest.mark.parametrize("rule", ["metropolis", "heatbath"])
@pytest.mark.parametrize("storage", ["float32", "int32", "int16"])
def test_reduced_precision_couplings(storage, rule):
    """Stored couplings are symmetric, within the stated error of J; tracked energies are the stored model's."""
    from spinlens.sampling.samplers import coupling_error, dense_couplings, local_fields
    from spinlens.spins import IsingModel

    model = sk(300, h=0.1, rng=3)
    D, scale = dense_couplings(model, storage)
    assert np.array_equal(D, D.T) and D.dtype == np.dtype(storage)
    stored = IsingModel(scale * D.astype(float), model.h)
    max_dev, energy_bound = coupling_error(model, storage)
    top = {"float32": 6e-8 * np.abs(model.J).max(), "int32": scale / 2, "int16": scale / 2}[storage]
    assert 0 < max_dev <= top * (1 + 1e-9)
    S = (2 * np.random.default_rng(0).integers(0, 2, (20, 300)) - 1).astype(np.int8)
    assert np.all(np.abs(stored.energy(S) - model.energy(S)) <= energy_bound)
    out, St = smp.MetropolisSampler(n_chains=2, rule=rule, coupling_dtype=storage).sample(model, 0.7, 30, rng=1)
    tol = 1e-9 if storage != "float32" else 1e-6
    assert np.allclose(out.energy[:, -1], stored.energy(St), atol=tol)
    assert np.allclose(out.magnetization[:, -1], St.sum(axis=1))
    # a field cache made for another storage (int32 vs int16 too) is refused, not silently misread
    from spinlens.sampling.samplers import run_single_spin

    for other in {"float64", "float32", "int32", "int16"} - {storage}:
        cache = local_fields(model, St, other)
        with pytest.raises(ValueError, match="field cache"):
            run_single_spin(model, St, np.full(2, 0.7), 1, 0, 1, False, False, np.random.default_rng(0),
                            cache=cache, coupling_dtype=storage)
    cache = local_fields(model, St, storage)  # the matching cache runs and stays consistent
    run_single_spin(model, St, np.full(2, 0.7), 3, 0, 1, rule == "heatbath", False, np.random.default_rng(0),
                    cache=cache, coupling_dtype=storage)
    assert np.allclose(cache.energies, stored.energy(St), atol=tol)


def test_reduced_precision_sk_energy_agrees_with_exact_couplings():
    """SK n = 1200 at T = 1.5: int16, int32 and float64 storage give the same mean energy within errors."""
    model = sk(1200, rng=11)
    est = {c: smp.sample(model, 1 / 1.5, 800, n_chains=2, rng=5, warn=False, coupling_dtype=c).energy
           for c in ("float64", "int32", "int16")}
    for c in ("int32", "int16"):
        diff = est[c].mean - est["float64"].mean
        assert abs(diff) < 4 * np.hypot(est[c].error, est["float64"].error), (c, diff)


def test_per_model_cache_never_mixes_models():
    """A value built for model A is not stored under model B when B took the cache meanwhile (threads)."""
    from spinlens.sampling.samplers import _PerModel

    cache, A, B = _PerModel(), sk(10, rng=0), sk(10, rng=1)

    def build_for_a():
        assert cache.get(B, "x", lambda: "B") == "B"  # another caller switches the cache to B mid-build
        return "A"

    assert cache.get(A, "x", build_for_a) == "A"
    assert cache.get(B, "x", lambda: "rebuilt") == "B"


def test_coupling_dtype_choice():
    from spinlens.sampling.samplers import coupling_mode

    for method in ("metropolis", "heatbath", "tempering"):  # the methods built on the single-spin kernel
        r = smp.sample(sk(40, rng=2), 0.5, 40, method=method, n_chains=2, rng=0, warn=False, coupling_dtype="int16")
        assert np.isfinite(r.energy.mean)

    assert coupling_mode(sk(64, rng=0)) == "float64"
    assert coupling_mode(sk(1100, rng=0)) == "int32"
    assert coupling_mode(square_lattice(40)) is None  # sparse: CSR whatever is asked
    with pytest.raises(ValueError, match="coupling_dtype"):
        smp.MetropolisSampler(coupling_dtype="int8")


# ------------------------------------------------------------------------------------------- stats
def _ar1(phi, n, chains=4, seed=0):
    g = np.random.default_rng(seed)
    x = np.zeros((chains, n))
    e = g.normal(size=(chains, n))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def test_tau_int_and_error_of_ar1():
    phi = 0.9
    x = _ar1(phi, 40000)
    exact_tau = (1 + phi) / (2 * (1 - phi))  # 9.5
    est = stats.estimate(x)
    assert est.tau_int == pytest.approx(exact_tau, rel=0.1)
    # exact standard error of the mean of a stationary AR(1): sqrt(var * 2 tau / N)
    exact_err = np.sqrt(1 / (1 - phi**2) * 2 * exact_tau / x.size)
    assert est.error == pytest.approx(exact_err, rel=0.15)
    assert stats.binning_error(x) == pytest.approx(exact_err, rel=0.25)
    assert stats.tau_int(np.random.default_rng(1).normal(size=5000)) == pytest.approx(0.5, abs=0.1)


def test_short_run_warns():
    with pytest.warns(stats.ShortRunWarning):
        stats.estimate(_ar1(0.99, 500, chains=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats.estimate(np.random.default_rng(0).normal(size=(2, 1000)))


def test_split_r_hat():
    g = np.random.default_rng(0)
    assert stats.split_r_hat(g.normal(size=(4, 2000))) == pytest.approx(1.0, abs=0.01)
    assert stats.split_r_hat(g.normal(size=(4, 2000)) + np.arange(4)[:, None]) > 1.5


def test_binder_and_response_functions():
    g = np.random.default_rng(0)
    assert stats.binder_cumulant(g.normal(size=(2, 20000))).mean == pytest.approx(0.0, abs=0.03)
    assert stats.binder_cumulant(g.choice([-0.9, 0.9], size=(2, 1000))).mean == pytest.approx(2 / 3)
    e = g.normal(-1.0, 0.1, size=(2, 20000))
    C = stats.heat_capacity(e, 0.5, 100)
    assert C.mean == pytest.approx(0.25 * 100 * 0.01, rel=0.05)
    m = g.normal(0.0, 0.2, size=(2, 20000))
    chi = stats.susceptibility(m, 0.5, 100, connected=True)
    assert chi.mean == pytest.approx(0.5 * 100 * 0.04, rel=0.05) and chi.error > 0


def test_overlaps():
    g = np.random.default_rng(0)
    a = g.choice([-1, 1], size=(500, 100))
    q = stats.overlap(a, a)
    assert np.allclose(q, 1.0)
    q = stats.overlap(a, g.choice([-1, 1], size=(500, 100)))
    assert abs(q.mean()) < 0.02
    assert stats.overlap_susceptibility(q, 100) == pytest.approx(1.0, rel=0.2)
    centres, dens = stats.overlap_distribution(q, bins=21)
    assert np.sum(dens) * (centres[1] - centres[0]) == pytest.approx(1.0)
    assert stats.edwards_anderson(np.tile(a[0], (50, 1))) == pytest.approx(1.0)


# -------------------------------------------------------------------------------- kernel invariants
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.floats(0.05, 3.0),
       kind=st.sampled_from(["dense_field", "sparse", "sparse_field", "frustrated", "ferro_field"]),
       method=st.sampled_from(["metropolis", "heatbath", "checkerboard", "wolff", "swendsen-wang", "tempering"]))
def test_tracked_energy_equals_model_energy(seed, beta, kind, method):
    """Incrementally tracked energies/magnetisations equal H(s), sum(s) of the returned states (delta-E consistency)."""
    model = small_model(kind, 9, seed)
    if method in ("wolff", "swendsen-wang") and not model.is_ferromagnetic():
        return
    opts = {"n_temps": 3, "beta_min": beta / 3} if method == "tempering" else {}
    r = smp.sample(model, beta, 20, method=method, n_chains=2, rng=seed, warn=False, record_states=True, **opts)
    S = r.extra["states"] if "states" in r.extra else None
    if S is not None:
        E = model.energy(S.reshape(-1, 9)).reshape(S.shape[:2]) / 9
        assert np.allclose(E, r.energy_series, atol=1e-9)
        assert np.allclose(S.sum(axis=2) / 9, r.magnetization_series)
    assert np.allclose(model.energy(r.state) / 9, r.energy_series[:, -1], atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), shape=st.sampled_from([(4, 4), (4, 6), (6, 8), (8, 130), (4, 4, 4), (6, 4, 8)]))
def test_packing_roundtrip(seed, shape):
    g = np.random.default_rng(seed)
    n = int(np.prod(shape))
    s = (2 * g.integers(0, 2, n) - 1).astype(np.int8)
    B, W, nb = pack_sublattices(s, shape)
    assert np.array_equal(unpack_sublattices(B, W, shape, nb), s)
    R = (2 * g.integers(0, 2, (64, n)) - 1).astype(np.int8)
    assert np.array_equal(unpack_replicas(pack_replicas(R)), R)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.floats(0.05, 2.0), shape=st.sampled_from([(4, 4), (6, 8), (4, 4, 6)]))
def test_multispin_energy_bookkeeping(seed, beta, shape):
    from spinlens.spins.lattice import hypercubic_lattice

    model = hypercubic_lattice(shape, J=1.0 if seed % 3 else -0.7)
    for sampler in (smp.MultiSpinSampler(n_chains=2), smp.MultiSpinReplicaSampler(n_chains=3, random="shared")):
        out, S = sampler.sample(model, beta, 5, rng=seed)
        assert np.allclose(out.energy[:, -1], model.energy(S))
        assert np.allclose(out.magnetization[:, -1], S.sum(axis=1))


@settings(max_examples=12, deadline=None)
@given(h=st.floats(-2.0, 2.0), beta=st.floats(0.05, 3.0), rule=st.sampled_from(["metropolis", "heatbath"]),
       seed=st.integers(0, 1000))
def test_single_update_detailed_balance(h, beta, rule, seed):
    """One spin in a field: one sweep is one update; its flip rates obey pi(+) P(+->-) = pi(-) P(-->+)."""
    from spinlens.spins import IsingModel

    model = IsingModel(np.zeros((1, 1)), [h])
    n = 4000
    rates = {}
    for s0 in (1, -1):
        out, S = smp.MetropolisSampler(rule=rule, n_chains=n).sample(model, beta, 1, state=np.full((n, 1), s0),
                                                                     rng=seed)
        rates[s0] = float(np.mean(S[:, 0] != s0))
    dE = {s0: 2.0 * s0 * h for s0 in (1, -1)}  # energy change of flipping s0

    def rule_rate(d):
        if rule == "heatbath":
            return 1.0 / (1.0 + np.exp(beta * d))
        return 0.5 if d == 0 else min(1.0, float(np.exp(-beta * d)))

    for s0 in (1, -1):
        p = rule_rate(dE[s0])
        assert abs(rates[s0] - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12
    pi_up = 1.0 / (1.0 + np.exp(-2 * beta * h))
    assert pi_up * rule_rate(dE[1]) == pytest.approx((1 - pi_up) * rule_rate(dE[-1]), rel=1e-9, abs=1e-300)
