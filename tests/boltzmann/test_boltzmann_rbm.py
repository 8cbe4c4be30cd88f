"""RBM: AIS vs exact log Z, CD-k gradient vs exact gradient, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.boltzmann import RBM
from spinlens.data import load_digits


@pytest.fixture(scope="module")
def digits_rbm() -> tuple[RBM, np.ndarray]:
    d = load_digits(binarize=True)
    tr, te = d.split(0.2, rng=0)
    rbm = RBM(n_hidden=20, n_epochs=30, learning_rate=0.05, batch_size=20, persistent=True, rng=0, n_threads=1)
    return rbm.fit(tr.X), te.X


def test_ais_matches_exact_log_partition_on_digits(digits_rbm: tuple[RBM, np.ndarray]) -> None:
    rbm, test = digits_rbm
    exact = rbm.log_partition(method="exact")
    ais = rbm.log_partition(method="ais", n_chains=200, n_betas=4000, rng=1)
    assert exact.mean > 20  # a trained model, far from the base rate's log Z
    assert abs(ais.mean - exact.mean) < 0.5
    assert ais.error > 0
    assert ais.within(exact.mean, n_sigma=3.0)
    # held-out log-likelihood through either log Z agrees; it beats the untrained base-rate model
    ll = rbm.score(test, log_z=exact)
    assert rbm.score(test, log_z=ais) == pytest.approx(ll, abs=0.5)
    base = RBM.from_params(np.zeros((64, 20)), rbm.base_rate_bias_, np.zeros(20))
    assert ll > base.score(test) + 3.0


def test_cd_gradient_equals_exact_gradient_with_exact_sampling() -> None:
    g = np.random.default_rng(0)
    rbm = RBM.from_params(g.normal(0, 1, (5, 3)), g.normal(0, 0.5, 5), g.normal(0, 0.5, 3), n_threads=1)
    X = (g.random((8, 5)) < 0.5).astype(float)
    exact = rbm.exact_gradient(X)
    data = np.tile(X, (4000, 1))  # many chains per data point: Monte Carlo error ~ 0.005
    long = rbm.gradient(data, k=100, rng=1)  # k -> infinity: chains reach the model distribution
    short = rbm.gradient(data, k=1, rng=1)
    for e, lg in zip(exact, long, strict=False):
        assert np.max(np.abs(e - lg)) < 0.03
    # CD-1 is biased on this strongly coupled model
    assert max(np.max(np.abs(e - s)) for e, s in zip(exact, short, strict=False)) > 0.04


@pytest.mark.parametrize("bad", [np.array([[0.0, 1.5], [1.0, 0.0]]), np.array([[-0.1, 0.5], [1.0, 0.0]])])
def test_bernoulli_rbm_rejects_data_outside_unit_interval(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RBM(n_hidden=2, n_epochs=1).fit(bad)
    # Gaussian visible units accept real data
    RBM(n_hidden=2, n_epochs=1, visible="gaussian", rng=0).fit(bad)


def test_fully_visible_boltzmann_machine_recovers_couplings() -> None:
    import itertools

    from spinlens.boltzmann import BoltzmannMachine
    from spinlens.meanfield import InverseIsing

    g = np.random.default_rng(0)
    n = 4
    J = np.triu(g.normal(0, 0.5, (n, n)), 1)
    J = J + J.T
    h = g.normal(0, 0.3, n)
    S = np.array(list(itertools.product([-1, 1], repeat=n)))
    lp = 0.5 * np.einsum("si,ij,sj->s", S, J, S) + S @ h
    p = np.exp(lp - lp.max())
    X = S[g.choice(len(S), size=20000, p=p / p.sum())]  # exact samples of P(s) ~ exp(s.J.s/2 + h.s)
    bm = BoltzmannMachine(rng=0).fit(X)
    assert isinstance(bm, InverseIsing) and bm.method == "boltzmann"
    assert type(bm).__module__ == "spinlens.boltzmann" and type(bm).__qualname__ == "BoltzmannMachine"
    # maximum likelihood from 20,000 samples: statistical error ~ 1/sqrt(M) = 0.007
    assert np.abs(bm.J_ - J).max() < 0.05 and np.abs(bm.h_ - h).max() < 0.05
    with pytest.raises(ValueError, match="always uses method='boltzmann'"):
        BoltzmannMachine(method="nmf")


def test_exact_log_partition_both_layers_and_free_energy() -> None:
    import itertools

    from scipy.special import logsumexp

    g = np.random.default_rng(3)
    W, b, c = g.normal(0, 0.8, (6, 4)), g.normal(0, 0.5, 6), g.normal(0, 0.5, 4)
    V = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    rbm = RBM.from_params(W, b, c, n_threads=1)
    brute = logsumexp(-rbm.free_energy(V))  # Z = sum_v e^{-F(v)}
    assert rbm.log_partition(method="exact").mean == pytest.approx(brute, abs=1e-9)  # sums the 4 hidden units
    swapped = RBM.from_params(W.T, c, b, n_threads=1)  # same Z with the layers exchanged: sums 4 visible units
    assert swapped.log_partition(method="exact").mean == pytest.approx(brute, abs=1e-9)
    assert rbm.log_partition(method="ais", n_chains=200, n_betas=2000, rng=0).within(brute, n_sigma=3.0)


def test_gaussian_rbm_log_partition_against_quadrature() -> None:
    import itertools

    g = np.random.default_rng(4)
    W, b, c = g.normal(0, 0.7, (2, 3)), g.normal(0, 0.5, 2), g.normal(0, 0.5, 3)
    rbm = RBM.from_params(W, b, c, visible="gaussian", base_rate_bias=b, n_threads=1)
    # Z = sum_h int dv exp(-|v - b|^2 / 2 + v.W h + c.h), by a 2-D trapezoid rule
    x = np.linspace(-12, 12, 481)  # the trapezoid rule is spectrally accurate for Gaussian integrands
    X1, X2 = np.meshgrid(x, x, indexing="ij")
    Vg = np.stack([X1.ravel(), X2.ravel()], axis=1)
    Z = 0.0
    for h in itertools.product([0.0, 1.0], repeat=3):
        hv = np.array(h)
        Z += np.sum(np.exp(-0.5 * ((Vg - b) ** 2).sum(1) + Vg @ (W @ hv) + c @ hv)) * (x[1] - x[0]) ** 2
    exact = rbm.log_partition(method="exact")
    assert exact.mean == pytest.approx(np.log(Z), abs=1e-6)
    assert rbm.log_partition(method="ais", n_chains=200, n_betas=2000, rng=0).within(exact.mean, n_sigma=3.0)


@pytest.mark.parametrize("kw, name", [({"learning_rate": 0.0}, "learning_rate"), ({"n_chains": 0}, "n_chains"),
                                      ({"max_iter": [2]}, "max_iter"), ({"n_sweeps": -1}, "n_sweeps")])
def test_boltzmann_machine_refuses_bad_learning_settings(kw, name) -> None:
    """Issue #17: learning_rate=0 / n_chains=0 used to fit silently; max_iter=[2] raised a TypeError naming nothing."""
    from spinlens.boltzmann import BoltzmannMachine

    X = np.where(np.random.default_rng(0).random((40, 5)) < 0.5, -1, 1)
    with pytest.raises(ValueError, match=name):
        BoltzmannMachine(**{"max_iter": 2, "n_sweeps": 1, "rng": 0, **kw}).fit(X)
