"""spinlens: neural networks through statistical mechanics.

Everything becomes an :class:`IsingModel` ``(J, h)`` with ``H(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i``,
and every solver works on any ``IsingModel``. The subpackages (``spins``, ``exact``, ``sampling``, ``meanfield``,
``expfam``, ``memory``, ``boltzmann``, ``networks``, ``landscape``, ``criticality``, ``sweeps``, ``report``) are
imported on first use, so ``import spinlens`` stays cheap (no numba compilation, no torch import).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spinlens._version import __version__
from spinlens.spins.model import IsingModel

if TYPE_CHECKING:  # pragma: no cover
    from spinlens.sampling.api import sample

_SUBPACKAGES = ("spins", "exact", "sampling", "meanfield", "expfam", "memory", "boltzmann", "networks",
                "landscape", "criticality", "sweeps", "report", "results", "data")

__all__ = ["IsingModel", "sample", "__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name == "sample":
        from spinlens.sampling.api import sample

        return sample
    if name in _SUBPACKAGES:
        return importlib.import_module(f"spinlens.{name}")
    raise AttributeError(f"module 'spinlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
