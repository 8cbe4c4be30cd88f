"""Trained networks as spin systems (Barney, Winer & Galitski, arXiv:2408.06421).

* :func:`mlp`, :func:`cnn`, :func:`resnet`, :func:`train` — MLPs (ReLU, tanh, binarized sign), a LeNet-style CNN and
  a residual net with BatchNorm, trained with log-spaced checkpoints.
* :func:`spin_graph` — any network spinlens reads (module, state dict, weight list) as one :class:`SpinGraph`.
* :func:`to_spins` — a network (any nn.Module whose traced forward pass is a chain of Linear layers and element-wise
  activations, a state dict of one nn.Sequential, a weight list, a checkpoint) as an :class:`IsingModel`.
* :func:`map_network` — any feed-forward module (convolutions, eval-mode BatchNorm, average pooling, residual
  additions, concatenation) as an :class:`IsingModel` with named neuron layers and sparse coupling blocks.
* :func:`variance_profile_tc`, :func:`fourier_prediction`, :func:`init_theory` — initialisation T_c of any coupling
  graph (independent couplings), of convolutional blocks (their Fourier symbol), and which of them applies.
* :mod:`spinlens.networks.checkpoints` — the safe checkpoint loader and the rule for each file's training step.
* :mod:`spinlens.networks.phases` — transition temperature and phase from the TAP paramagnet's stability.
* :mod:`spinlens.networks.spectrum` — bond-matrix and per-block spectra, random-matrix edges, outliers.
* :mod:`spinlens.networks.experiment` — the whole pipeline over training checkpoints.
"""
from spinlens.networks.checkpoints import CheckpointError, checkpoint_step, list_checkpoints, load_checkpoint
from spinlens.networks.graph import GRAPH_SUPPORTED, CouplingBlock, NeuronLayer, SpinGraph, map_network
from spinlens.networks.reader import spin_graph
from spinlens.networks.theory import FourierPrediction, InitTheory, fourier_prediction, init_theory, variance_profile_tc
from spinlens.networks.to_spins import SUPPORTED_LAYERS, MappedNetwork, extract_weights, to_spins
from spinlens.networks.train import Sign, TrainResult, checkpoint_steps, cnn, mlp, read_checkpoint_index, resnet, train

__all__ = [
    "CheckpointError",
    "CouplingBlock",
    "FourierPrediction",
    "fourier_prediction",
    "variance_profile_tc",
    "InitTheory",
    "init_theory",
    "spin_graph",
    "GRAPH_SUPPORTED",
    "NeuronLayer",
    "SpinGraph",
    "map_network",
    "MappedNetwork",
    "SUPPORTED_LAYERS",
    "checkpoint_step",
    "list_checkpoints",
    "Sign",
    "TrainResult",
    "checkpoint_steps",
    "extract_weights",
    "load_checkpoint",
    "mlp",
    "cnn",
    "resnet",
    "read_checkpoint_index",
    "to_spins",
    "train",
]
