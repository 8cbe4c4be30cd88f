"""Boltzmann machines: RBMs (CD-k, PCD, AIS and exact partition functions) and general Boltzmann machines with
visible-visible, hidden-hidden and visible-hidden couplings (``BoltzmannMachine(n_hidden=...)``; ``n_hidden=0`` is
the fully visible machine, the inverse-Ising ``boltzmann`` estimator of :mod:`spinlens.meanfield`)."""
from typing import Any

from spinlens.boltzmann.ais import ais_log_partition, exact_log_partition
from spinlens.boltzmann.plots import filters_figure, image_grid_figure
from spinlens.boltzmann.rbm import RBM

__all__ = ["RBM", "BoltzmannMachine", "ais_log_partition", "exact_log_partition", "filters_figure",
           "image_grid_figure"]


def __getattr__(name: str) -> Any:
    if name == "BoltzmannMachine":
        from spinlens.boltzmann.bm import get_boltzmann_machine

        return get_boltzmann_machine()
    raise AttributeError(f"module 'spinlens.boltzmann' has no attribute {name!r}")
