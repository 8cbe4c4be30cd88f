"""Shared helpers for the sampling tests: random small models, exact state tables, chi-square."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats as sst

from spinlens.exact import boltzmann_probabilities
from spinlens.spins import IsingModel


def small_model(kind: str, n: int = 8, seed: int = 0) -> IsingModel:
    """Random n-spin models: dense+field, sparse, sparse+field, frustrated (+-J), ferromagnetic (+field)."""
    g = np.random.default_rng(seed)
    if kind == "frustrated":
        A = g.choice([-1.0, 1.0], size=(n, n)) * 0.6
    else:
        A = g.normal(0.0, 0.7, size=(n, n))
    if kind.startswith("sparse"):
        A = A * (g.random((n, n)) < 0.45)
    if kind.startswith("ferro"):
        A = np.abs(A) * (g.random((n, n)) < 0.6)
    A = np.triu(A, 1)
    A = A + A.T
    h = g.normal(0.0, 0.4, size=n) if kind.endswith("field") else None
    J = sp.csr_matrix(A) if kind.startswith("sparse") else A
    return IsingModel(J, h)


def state_codes(states: np.ndarray) -> np.ndarray:
    """Row index in ``boltzmann_probabilities``' table: bit i set when spin i is down."""
    S = np.asarray(states).reshape(-1, states.shape[-1])
    return ((S == -1).astype(np.int64) << np.arange(S.shape[1])).sum(axis=1)


def chi2_pvalue(observed: np.ndarray, probs: np.ndarray, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value; bins with small expected counts are pooled into one."""
    n = observed.sum()
    exp = probs * n
    big = exp >= min_expected
    obs_b = np.append(observed[big], observed[~big].sum())
    exp_b = np.append(exp[big], exp[~big].sum())
    if exp_b[-1] == 0:
        obs_b, exp_b = obs_b[:-1], exp_b[:-1]
    return float(sst.chisquare(obs_b, exp_b).pvalue)


def state_pvalue(model: IsingModel, beta: float, states: np.ndarray) -> float:
    _, p = boltzmann_probabilities(model, beta)
    counts = np.bincount(state_codes(states), minlength=p.size)
    return chi2_pvalue(counts, p)


def fisher(pvalues: list[float]) -> float:
    """Fisher's method: -2 sum ln p ~ chi2(2k)."""
    p = np.clip(np.asarray(pvalues), 1e-300, 1.0)
    return float(sst.chi2.sf(-2.0 * np.log(p).sum(), 2 * p.size))


def lattice_em_table(model: IsingModel, beta: float) -> tuple[dict[int, float], float]:
    """Exact joint distribution of (E, |M|) for a small zero-field lattice (all 2^n states).

    |M| rather than M: the sign of M flips only rarely on a lattice (long autocorrelation), and the
    Hamiltonian is symmetric under s -> -s, so (E, |M|) tests the distribution without that slow mode.
    """
    n = model.n_spins
    k = np.arange(1 << n, dtype=np.int64)
    S = (1 - 2 * ((k[:, None] >> np.arange(n)[None, :]) & 1)).astype(np.int8)
    E = np.rint(np.asarray(model.energy(S))).astype(np.int64)
    M = np.abs(S.astype(np.int64).sum(axis=1))
    a = -beta * E.astype(float)
    w = np.exp(a - a.max())
    w /= w.sum()
    keys = E * 1000 + M
    uniq, inv = np.unique(keys, return_inverse=True)
    pk = np.bincount(inv, weights=w)
    return {int(u): float(p) for u, p in zip(uniq, pk, strict=True)}, float(w.sum())


def em_pvalue(table: dict[int, float], E: np.ndarray, M: np.ndarray) -> float:
    e = np.rint(np.asarray(E)).astype(np.int64).ravel()
    keys = e * 1000 + np.abs(np.rint(np.asarray(M)).astype(np.int64).ravel())
    ks = sorted(table)
    idx = {k: i for i, k in enumerate(ks)}
    assert all(int(k) in idx for k in np.unique(keys)), "sampled an (E, M) pair that does not exist"
    counts = np.bincount([idx[int(k)] for k in keys], minlength=len(ks))
    return chi2_pvalue(counts, np.array([table[k] for k in ks]))
