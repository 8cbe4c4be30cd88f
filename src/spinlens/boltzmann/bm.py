"""The fully visible Boltzmann machine: the inverse-Ising estimator with ``method="boltzmann"``.

It lives in :mod:`spinlens.meanfield` (``InverseIsing``); this module exposes it as
``spinlens.boltzmann.BoltzmannMachine`` (imported lazily, so :mod:`spinlens.boltzmann` works without it).
"""
from __future__ import annotations

import functools
from typing import Any

__all__ = ["get_boltzmann_machine"]


@functools.lru_cache(maxsize=1)
def get_boltzmann_machine() -> Any:
    """Build ``BoltzmannMachine``: a subclass of ``spinlens.meanfield.InverseIsing`` fixed to method="boltzmann"."""
    try:
        from spinlens.meanfield import InverseIsing
    except ImportError as exc:  # pragma: no cover - depends on the meanfield package
        raise ImportError(
            "BoltzmannMachine needs spinlens.meanfield.InverseIsing, which is not available: " + str(exc)
        ) from exc

    class BoltzmannMachine(InverseIsing):  # type: ignore[misc, valid-type]
        """Fully visible Boltzmann machine: ``InverseIsing(method="boltzmann", ...)`` (Ackley, Hinton &
        Sejnowski 1985), fitted by moment matching of <s_i> and <s_i s_j> with Monte Carlo estimates."""

        def __init__(self, **kwargs: Any) -> None:
            if kwargs.pop("method", "boltzmann") != "boltzmann":
                raise ValueError("BoltzmannMachine always uses method='boltzmann'; use InverseIsing for others.")
            super().__init__("boltzmann", **kwargs)

    BoltzmannMachine.__module__ = "spinlens.boltzmann"
    BoltzmannMachine.__qualname__ = "BoltzmannMachine"
    return BoltzmannMachine
