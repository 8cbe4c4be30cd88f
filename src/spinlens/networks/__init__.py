"""Trained networks as spin systems (Barney, Winer & Galitski, arXiv:2408.06421).

* :func:`mlp`, :func:`train` — MLPs (ReLU, tanh, binarized sign) trained with log-spaced checkpoints.
* :func:`to_spins` — a network (nn.Sequential, state dict, weight list, checkpoint) as an :class:`IsingModel`.
* :mod:`spinlens.networks.phases` — transition temperature and phase from the TAP paramagnet's stability.
* :mod:`spinlens.networks.spectrum` — bond-matrix and per-block spectra, random-matrix edges, outliers.
* :mod:`spinlens.networks.experiment` — the whole pipeline over training checkpoints.
"""
from spinlens.networks.to_spins import MappedNetwork, extract_weights, load_checkpoint, to_spins
from spinlens.networks.train import Sign, TrainResult, checkpoint_steps, mlp, read_checkpoint_index, train

__all__ = [
    "MappedNetwork",
    "Sign",
    "TrainResult",
    "checkpoint_steps",
    "extract_weights",
    "load_checkpoint",
    "mlp",
    "read_checkpoint_index",
    "to_spins",
    "train",
]
