"""Shared fixtures: small random models with known exact answers."""
from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp

import spinlens
from spinlens.spins import IsingModel

os.environ.setdefault("MPLBACKEND", "Agg")


def random_model(n: int, rng: int | np.random.Generator = 0, sparse: bool = False, field: bool = True,
                 scale: float = 1.0, density: float = 0.6) -> IsingModel:
    """A random model: Gaussian couplings (some zeroed), optional fields, dense or CSR."""
    g = np.random.default_rng(rng)
    A = g.normal(0.0, scale, size=(n, n)) * (g.random((n, n)) < density)
    A = np.triu(A, 1)
    A = A + A.T
    h = g.normal(0.0, 0.5 * scale, size=n) if field else None
    return IsingModel(sp.csr_matrix(A) if sparse else A, h)


@pytest.fixture
def small_models() -> list[IsingModel]:
    return [random_model(n, rng=n, sparse=(n % 2 == 0), field=(n % 3 != 0)) for n in range(2, 9)]


@pytest.fixture(scope="session")
def package() -> object:
    return spinlens
