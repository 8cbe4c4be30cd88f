"""Inverse Ising on samples drawn exactly from a known n = 10 model."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import spinlens.exact as ex
from spinlens.meanfield import InverseIsing, as_spin_samples
from spinlens.spins import sk

_IU = np.triu_indices(10, 1)


@pytest.fixture(scope="module")
def truth():
    g = np.random.default_rng(5)
    model = sk(10, J=1.0, rng=g).with_field(g.normal(0.0, 0.3, 10))
    states, p = ex.boltzmann_probabilities(model, 1.0)
    return model, states, p


def _draw(truth, M: int, seed: int) -> np.ndarray:
    _, states, p = truth
    return states[np.random.default_rng(seed).choice(p.size, size=M, p=p)].astype(np.float64)


def _err(est: InverseIsing, model) -> float:
    return float(np.sqrt(np.mean((est.J_[_IU] - model.J[_IU]) ** 2) + np.mean((est.h_ - model.h) ** 2)))


_MS = (1000, 4000, 16000)
_SEEDS = range(4)


def test_pseudolikelihood_and_boltzmann_reach_the_ml_floor_and_scale_as_inverse_sqrt_M(truth) -> None:
    model = truth[0]
    errs: dict[str, list[float]] = {"pseudolikelihood": [], "boltzmann": []}
    for M in _MS:
        e = {k: [] for k in errs}
        for seed in _SEEDS:
            S = _draw(truth, M, seed)
            ml = InverseIsing("boltzmann").fit(S)  # n = 10: exact gradients = exact maximum likelihood
            pl = InverseIsing("pseudolikelihood").fit(S)
            e["boltzmann"].append(_err(ml, model))
            e["pseudolikelihood"].append(_err(pl, model))
        for k in errs:
            errs[k].append(float(np.mean(e[k])))
    # pseudo-likelihood is consistent and nearly efficient: within 25 % of the ML floor
    for e_pl, e_ml in zip(errs["pseudolikelihood"], errs["boltzmann"], strict=True):
        assert e_pl <= 1.25 * e_ml
    # error ~ M^(-1/2)
    for k in errs:
        slope = np.polyfit(np.log(_MS), np.log(errs[k]), 1)[0]
        assert -0.7 < slope < -0.35, (k, slope, errs[k])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_exact_boltzmann_converges_to_moment_matching_at_any_blas_thread_count(truth, n_threads: int) -> None:
    # the smallest samples of the test above; M = 1000, seed 2 used to end converged_=False after 500 Newton
    # steps with one BLAS thread: the line search could not resolve the last decrease of the dual below its
    # rounding (~1e-15), so convergence hung on whether the rounding put the gradient above or below tol
    for M in _MS[:1]:
        for seed in _SEEDS:
            S = _draw(truth, M, seed)
            with threadpool_limits(limits=n_threads, user_api="blas"):
                ml = InverseIsing("boltzmann", n_jobs=-1).fit(S)
            assert ml.converged_, (M, seed, ml.convergence_message_)
            assert ml.n_iter_ < 30, (M, seed, ml.n_iter_)
            # at the ML optimum the model moments equal the data moments (moment matching)
            states, q = ex.boltzmann_probabilities(ml.to_model(), 1.0)
            np.testing.assert_allclose(q @ states, S.mean(0), atol=1e-8)
            np.testing.assert_allclose((states.T * q) @ states, S.T @ S / M, atol=1e-8)


def test_exact_boltzmann_below_the_noise_floor_stops_there_and_says_so(truth) -> None:
    S = _draw(truth, 1000, 2)
    ml = InverseIsing("boltzmann", tol=1e-300).fit(S)  # unreachable in float64
    assert ml.converged_ and ml.n_iter_ < 30
    assert "noise floor" in ml.convergence_message_
    states, q = ex.boltzmann_probabilities(ml.to_model(), 1.0)
    np.testing.assert_allclose((states.T * q) @ states, S.T @ S / 1000, atol=1e-12)


def test_monte_carlo_boltzmann_learning_reaches_the_floor(truth) -> None:
    model = truth[0]
    S = _draw(truth, 8000, 11)
    ml = InverseIsing("boltzmann").fit(S)
    mc = InverseIsing("boltzmann", exact_max=0, max_iter=400, n_chains=400, rng=0).fit(S)
    assert _err(mc, model) <= 1.5 * _err(ml, model)
    assert np.max(np.abs(mc.J_ - ml.J_)) < 0.1


def test_mean_field_inversions_in_weak_coupling() -> None:
    g = np.random.default_rng(2)
    model = sk(10, J=0.2, rng=g).with_field(g.normal(0.0, 0.2, 10))
    states, p = ex.boltzmann_probabilities(model, 1.0)
    # exact moments as "infinite data": weighted samples via a large draw
    S = states[g.choice(p.size, size=400_000, p=p)]
    e_nmf = _err(InverseIsing("nmf").fit(S), model)
    e_tap = _err(InverseIsing("tap").fit(S), model)
    assert e_tap < e_nmf < 0.05


def test_zero_one_input_is_converted_and_to_model(truth) -> None:
    S = _draw(truth, 2000, 3)
    a = InverseIsing("pseudolikelihood").fit(S)
    b = InverseIsing("pseudolikelihood").fit((S + 1) // 2)
    np.testing.assert_allclose(a.J_, b.J_, atol=1e-10)
    model = a.to_model()
    assert model.n_spins == 10 and np.allclose(model.J, model.J.T) and np.all(np.diag(model.J) == 0)


def test_l1_and_l2_shrink_couplings(truth) -> None:
    S = _draw(truth, 2000, 4)
    base = InverseIsing("pseudolikelihood").fit(S)
    l2 = InverseIsing("pseudolikelihood", l2=0.05).fit(S)
    l1 = InverseIsing("pseudolikelihood", l1=0.05).fit(S)
    assert np.sum(l2.J_**2) < np.sum(base.J_**2)
    assert np.sum(np.abs(l1.J_)) < np.sum(np.abs(base.J_))
    assert np.sum(np.abs(l1.W_) < 1e-8) > np.sum(np.abs(base.W_) < 1e-8)


def test_bad_input() -> None:
    S = np.where(np.random.default_rng(0).random((100, 5)) < 0.5, 1, -1)
    with pytest.raises(ValueError, match="-1, \\+1"):
        InverseIsing().fit(S * 2)
    mixed = S.copy()
    mixed[0, 0] = 0  # a mix of -1, 0 and +1
    with pytest.raises(ValueError, match="-1, \\+1"):
        InverseIsing().fit(mixed)
    with pytest.raises(ValueError, match="2-D"):
        InverseIsing().fit(S[0])
    const = S.copy()
    const[:, 2] = 1
    with pytest.raises(ValueError, match="constant"):
        InverseIsing().fit(const)
    with pytest.warns(UserWarning, match="constant"):
        est = InverseIsing(l2=0.1).fit(const)
    assert np.all(np.isfinite(est.h_)) and est.h_[2] > 0
    with pytest.raises(ValueError, match="method"):
        InverseIsing("magic").fit(S)
    with pytest.raises(ValueError, match="not fitted"):
        InverseIsing().to_model()
    with pytest.raises(ValueError, match="l1"):
        InverseIsing("nmf", l1=0.1).fit(S)
    with pytest.raises(ValueError, match="at least 2"):
        InverseIsing().fit(S[:, :1])
    with pytest.raises(ValueError, match="real numbers"):
        InverseIsing().fit(S.astype(str))
    with pytest.raises(ValueError, match="n_jobs"):
        InverseIsing(n_jobs=0).fit(S)
    # a pair configuration that never occurs: the exact ML couplings are infinite
    never = S[~((S[:, 0] == 1) & (S[:, 1] == 1))]
    with pytest.raises(ValueError, match="l2 > 0"):
        InverseIsing("boltzmann").fit(never)
    assert InverseIsing("boltzmann", l2=1e-3).fit(never).converged_


@pytest.mark.parametrize("kw, name", [
    ({"l1": [1.0, 2.0]}, "l1"), ({"l2": True}, "l2"), ({"l2": -1.0}, "l2"), ({"l1": float("nan")}, "l1"),
    ({"max_iter": [2]}, "max_iter"), ({"max_iter": 0}, "max_iter"), ({"max_iter": 2.5}, "max_iter"),
    ({"tol": [1.0, 2.0]}, "tol"), ({"tol": 0.0}, "tol"), ({"n_sweeps": 0}, "n_sweeps"),
    ({"n_chains": 0}, "n_chains"), ({"learning_rate": 0.0}, "learning_rate"), ({"exact_max": "16"}, "exact_max"),
    ({"n_jobs": 1.5}, "n_jobs"), ({"method": None}, "method"),
])
def test_bad_parameters_name_the_parameter(kw, name) -> None:
    """Issue #17: every constructor parameter is checked at fit(), the error naming it (was: TypeError from
    float()/int() naming nothing, or l2=True / n_chains=0 / learning_rate=0 fitting silently)."""
    S = np.where(np.random.default_rng(0).random((40, 5)) < 0.5, -1, 1)
    with pytest.raises(ValueError, match=name):
        InverseIsing(**{"method": "nmf", **kw}).fit(S)


@pytest.mark.parametrize("bad", [np.full((4, 3), 1 + 1j), np.full((4, 3), 1j), np.full((4, 3), "1.0", dtype=object),
                                 np.full((4, 3), None, dtype=object), "abc", None])
def test_as_spin_samples_refuses_non_real_input(bad) -> None:
    """Complex (was accepted: 1+1j == 1 is False but the real part passed through) and object input."""
    with pytest.raises(ValueError, match="samples"):
        as_spin_samples(bad)


def test_estimator_protocol_and_thread_setting(truth) -> None:
    S = _draw(truth, 2000, 6)
    est = InverseIsing("pseudolikelihood", l2=0.01)
    assert est.get_params()["l2"] == 0.01 and "l2=0.01" in repr(est)
    assert est.set_params(l2=0.0, n_jobs=-1) is est and est.l2 == 0.0
    with pytest.raises(ValueError, match="unknown parameter"):
        est.set_params(alpha=1.0)
    a = est.fit(S)
    b = InverseIsing("pseudolikelihood", n_jobs=2).fit(S)
    np.testing.assert_allclose(a.J_, b.J_, atol=1e-8)  # thread count changes speed, not results
    c = InverseIsing("boltzmann").fit(S)
    d = InverseIsing("boltzmann", n_jobs=2).fit(S)
    assert c.converged_ and d.converged_
    np.testing.assert_allclose(c.J_, d.J_, atol=1e-9)
