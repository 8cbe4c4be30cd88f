"""Dense associative memories: one-step softmax retrieval, capacity growth with the order n."""
from __future__ import annotations

import numpy as np
import pytest

from spinlens.memory import DenseAssociativeMemory, ModernHopfield, corrupt, dense_capacity


def test_softmax_one_step_retrieval_large_beta() -> None:
    g = np.random.default_rng(0)
    X = np.where(g.random((500, 100)) < 0.5, 1, -1).astype(np.int8)
    # well separated: random patterns overlap ~ 0.1, the queries keep overlap 0.6 with their target
    Y = corrupt(X[:40], 0.2, rng=1)
    net = ModernHopfield(X, beta=2.0)
    out = net.update(Y, n_steps=1)
    assert np.max(np.abs(out - X[:40])) < 1e-6  # one update lands on the stored pattern (continuous state)
    assert np.array_equal(net.update(Y, binary=True), X[:40])
    # small beta averages many patterns instead
    blurred = ModernHopfield(X, beta=1e-3).update(Y)
    assert np.max(np.abs(blurred)) < 0.5


def test_dense_capacity_grows_with_order_as_predicted() -> None:
    res = dense_capacity(orders=(2, 3, 4), n_spins=20, n_trials=4, rng=0)
    assert np.all(np.diff(res.p_max) > 0)
    # P_max ~ N^(n-1) / (2 (2n-3)!! ln N) (Krotov & Hopfield 2016) up to an O(1) factor common to all n
    ratio = res.p_max / res.predicted
    assert np.all((ratio > 0.7) & (ratio < 3.0))
    assert ratio.max() / ratio.min() < 1.6


def test_exponential_energy_stores_more_patterns_than_spins() -> None:
    g = np.random.default_rng(1)
    X = np.where(g.random((200, 30)) < 0.5, 1, -1).astype(np.int8)  # P = 6.7 N
    exp_frac, exp_bits = DenseAssociativeMemory(X, energy="exp").stable_fraction()
    hebb_frac, _ = DenseAssociativeMemory(X, n=2).stable_fraction()
    assert exp_frac == 1.0 and exp_bits == 0.0  # F(x) = e^x (Demircigil et al. 2017): exponential capacity
    assert hebb_frac < 0.05  # the classical network (n = 2) stores none of them
    # a corrupted pattern returns in one synchronous step
    Y = corrupt(X[:20], 0.1, rng=2)
    assert np.array_equal(DenseAssociativeMemory(X, energy="exp").update(Y), X[:20])


def test_dense_memory_bad_input() -> None:
    X = np.where(np.random.default_rng(0).random((5, 10)) < 0.5, 1, -1)
    with pytest.raises(ValueError, match="integer >= 2"):
        DenseAssociativeMemory(X, n=1)
    with pytest.raises(ValueError, match="'poly' or 'exp'"):
        DenseAssociativeMemory(X, energy="cosh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="-1 and \\+1"):
        DenseAssociativeMemory((X + 1) // 2)
    with pytest.raises(ValueError, match="beta must be positive"):
        ModernHopfield(X, beta=0.0)
