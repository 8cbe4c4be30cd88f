"""Boltzmann machines with hidden units (issue 19, item 2): exact gradients, the RBM limit, Monte Carlo learning,
AIS, and n_hidden = 0 as today's fully visible machine."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens import exact
from spinlens.boltzmann import RBM, BoltzmannMachine
from spinlens.boltzmann.bm import _states
from spinlens.meanfield import InverseIsing
from spinlens.spins import IsingModel


def _mixture(n_samples: int = 300, seed: int = 0) -> np.ndarray:
    """Two noisy prototypes: higher-order correlations that hidden units explain."""
    g = np.random.default_rng(seed)
    protos = np.array([[1, 1, 1, -1, -1, -1], [-1, -1, 1, 1, 1, -1]])
    return protos[g.integers(0, 2, n_samples)] * np.where(g.random((n_samples, 6)) < 0.1, -1, 1)


def _random_machine(nv: int, nh: int, seed: int, vv: bool = True, hh: bool = True, scale: float = 0.4) -> object:
    g = np.random.default_rng(seed)
    n = nv + nh
    A = np.triu(g.normal(0.0, scale, (n, n)), 1)
    if not vv:
        A[:nv, :nv] = 0.0
    if not hh:
        A[nv:, nv:] = 0.0
    return BoltzmannMachine.from_params(A + A.T, g.normal(0.0, 0.3, n), nv, visible_visible=vv, hidden_hidden=hh)


def _brute_log_likelihood(bm: object, V: np.ndarray) -> float:
    """ln P(v) by summing every joint state (independent of the package's hidden sums)."""
    J, b, nv = bm.J_, bm.h_, bm.n_visible_  # type: ignore[attr-defined]
    S = _states(b.size)
    w = 0.5 * np.einsum("ki,ij,kj->k", S, J, S) + S @ b
    lz = np.logaddexp.reduce(w)
    out = []
    for v in V:
        sel = np.all(S[:, :nv] == v, axis=1)
        out.append(np.logaddexp.reduce(w[sel]) - lz)
    return float(np.mean(out))


def test_n_hidden_zero_is_todays_machine() -> None:
    X = _mixture()
    for kw in ({"max_iter": 100}, {"max_iter": 30, "exact_max": 0, "n_chains": 32, "rng": 3}):
        a = BoltzmannMachine(n_hidden=0, **kw).fit(X)
        b = InverseIsing("boltzmann", **kw).fit(X)
        assert np.array_equal(a.J_, b.J_) and np.array_equal(a.h_, b.h_)
        assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_
    assert BoltzmannMachine().n_hidden == 0


@pytest.mark.parametrize("nv,nh,vv,hh", [(5, 4, True, True), (6, 6, True, False), (4, 3, False, True)])
def test_exact_gradient_equals_finite_differences(nv: int, nh: int, vv: bool, hh: bool) -> None:
    bm = _random_machine(nv, nh, seed=nv + nh, vv=vv, hh=hh)
    g = np.random.default_rng(1)
    V = np.where(g.random((40, nv)) < 0.5, 1.0, -1.0)
    dJ, db = bm.exact_gradient(V)  # type: ignore[attr-defined]
    J0, b0 = bm.J_.copy(), bm.h_.copy()  # type: ignore[attr-defined]
    n = nv + nh
    eps = 1e-5

    def ll(J: np.ndarray, b: np.ndarray) -> float:
        return float(BoltzmannMachine.from_params(J, b, nv).log_likelihood(V).mean)

    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        fd = (ll(J0, b0 + e) - ll(J0, b0 - e)) / (2 * eps)
        assert db[i] == pytest.approx(fd, abs=1e-7)
    rng = np.random.default_rng(2)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for k in rng.choice(len(pairs), size=min(15, len(pairs)), replace=False):
        i, j = pairs[k]
        E = np.zeros((n, n))
        E[i, j] = E[j, i] = eps
        fd = (ll(J0 + E, b0) - ll(J0 - E, b0)) / (2 * eps)
        assert dJ[i, j] == pytest.approx(fd, abs=1e-7)
    # the log-likelihood itself against a sum over every joint state
    assert ll(J0, b0) == pytest.approx(_brute_log_likelihood(bm, V), abs=1e-11)


def test_rbm_limit_reproduces_the_rbm_log_likelihood() -> None:
    g = np.random.default_rng(0)
    rbm = RBM.from_params(g.normal(0, 0.7, (6, 4)), g.normal(0, 0.5, 6), g.normal(0, 0.5, 4))
    X01 = (_mixture(200) + 1) // 2
    exact_rbm = rbm.score(X01, log_z=rbm.log_partition(method="exact"))
    bm = BoltzmannMachine.from_rbm(rbm)
    assert not np.any(bm.J_[:6, :6]) and not np.any(bm.J_[6:, 6:])
    assert bm.log_likelihood(X01).mean == pytest.approx(exact_rbm, abs=1e-10)
    assert bm.log_likelihood(2 * X01 - 1).mean == pytest.approx(exact_rbm, abs=1e-10)  # the same data in +-1 form
    # a machine trained with visible-visible and hidden-hidden couplings off keeps them at zero
    fit = BoltzmannMachine(n_hidden=2, visible_visible=False, hidden_hidden=False, max_iter=50, rng=0).fit(X01)
    assert not np.any(fit.J_[:6, :6]) and not np.any(fit.J_[6:, 6:]) and np.any(fit.W_)


def test_exact_learning_with_hidden_units() -> None:
    X = _mixture()
    visible = BoltzmannMachine(max_iter=200).fit(X)
    hidden = BoltzmannMachine(n_hidden=2, max_iter=2000, tol=1e-7, rng=0).fit(X)
    ll_v = visible.log_likelihood(X).mean
    ll_h = hidden.log_likelihood(X).mean
    assert hidden.method_ == "exact" and hidden.J_.shape == (8, 8) and hidden.W_.shape == (6, 2)
    assert ll_h > ll_v + 0.01  # hidden units capture the mixture's higher-order correlations
    assert hidden.objective_ == pytest.approx(-ll_h, abs=1e-9)
    dJ, db = hidden.exact_gradient(X)
    assert np.max(np.abs(dJ)) < 1e-4 and np.max(np.abs(db)) < 1e-4  # a stationary point of the likelihood
    model = hidden.to_model()
    assert isinstance(model, IsingModel) and model.n_spins == 8
    assert exact.enumerate(model, 1.0).log_z == pytest.approx(hidden.log_partition().mean, abs=1e-10)


def test_monte_carlo_learning_approaches_the_exact_fit() -> None:
    X = _mixture()
    ex = BoltzmannMachine(n_hidden=2, max_iter=2000, tol=1e-7, rng=0).fit(X)
    for hh in (True, False):
        mc = BoltzmannMachine(n_hidden=2, exact_max=0, max_iter=400, n_chains=200, learning_rate=0.05,
                              hidden_hidden=hh, rng=0).fit(X)
        assert mc.method_ == "monte-carlo"
        assert mc.log_likelihood(X).mean > ex.log_likelihood(X).mean - 0.06, hh


def test_ais_log_partition_matches_enumeration() -> None:
    bm = _random_machine(8, 4, seed=5)
    ex = bm.log_partition(method="exact")  # type: ignore[attr-defined]
    ais = bm.log_partition(method="ais", n_chains=200, n_betas=2000, rng=1)  # type: ignore[attr-defined]
    assert ais.error > 0 and ais.within(ex.mean, n_sigma=3.0, allowance=0.01), (ais, ex)
    V = np.where(np.random.default_rng(0).random((20, 8)) < 0.5, 1, -1)
    est = bm.log_likelihood(V, method="ais", n_chains=200, n_betas=2000, rng=1)  # type: ignore[attr-defined]
    assert est.error == ais.error and est.within(bm.log_likelihood(V).mean, 3.0, 0.01)  # type: ignore[attr-defined]


def test_bad_input() -> None:
    X = _mixture()
    with pytest.raises(ValueError, match="n_hidden"):
        BoltzmannMachine(n_hidden=-1).fit(X)
    with pytest.raises(ValueError, match="hidden_hidden"):
        BoltzmannMachine(n_hidden=2, hidden_hidden="no").fit(X)
    with pytest.raises(ValueError, match="init_scale"):
        BoltzmannMachine(n_hidden=2, init_scale=0.0).fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        BoltzmannMachine(n_hidden=2).log_likelihood(X)
    fit = BoltzmannMachine(n_hidden=1, max_iter=5, rng=0).fit(X)
    with pytest.raises(ValueError, match="visible units"):
        fit.log_likelihood(X[:, :4])
    with pytest.raises(ValueError, match="method"):
        fit.log_partition(method="bogus")
    with pytest.raises(TypeError):
        BoltzmannMachine.from_rbm("rbm")
