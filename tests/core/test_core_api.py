"""The top-level API: every name in ``spinlens.__all__`` resolves; ``import spinlens`` stays light."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

import spinlens


def test_all_names_resolve() -> None:
    for name in spinlens.__all__:
        assert getattr(spinlens, name) is not None, name


def test_top_level_sample_is_the_sampling_entry_point() -> None:
    from spinlens.sampling import sample

    assert spinlens.sample is sample
    res = spinlens.sample(spinlens.spins.chain(16, periodic=False), 0.5, 4000, n_chains=4, rng=0)
    # open chain of 16 spins, J = 1: exact energy per spin -(15/16) tanh(beta)
    exact = -(15 / 16) * np.tanh(0.5)
    assert res.energy.error < 0.01
    assert abs(res.energy.mean - exact) < 4 * res.energy.error


def test_import_spinlens_does_not_import_torch_or_numba() -> None:
    code = "import sys, spinlens; print('torch' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
