"""Monte Carlo engine: fast, checked samplers for any :class:`~spinlens.spins.model.IsingModel`.

``sample(model, beta, n_sweeps, method="auto", ...)`` is the entry point; the sampler configs (NetKet style:
frozen dataclasses with ``sample(model, beta, n_sweeps, state=None, rng=None) -> (Samples, state)``),
statistics (:mod:`spinlens.sampling.stats`), parallel tempering, annealing and temperature scans
(:mod:`spinlens.sampling.scan`) are re-exported here.
"""
from spinlens.sampling import scan, stats
from spinlens.sampling.api import METHODS, SampleResult, choose_method, make_sampler, sample
from spinlens.sampling.samplers import (
    CheckerboardSampler,
    MetropolisSampler,
    MultiSpinReplicaSampler,
    MultiSpinSampler,
    Samples,
    SwendsenWangSampler,
    WolffSampler,
    multispin_supported,
)
from spinlens.sampling.scan import IsingScanResult, SKScanResult, ising_scan, sk_scan
from spinlens.sampling.tempering import AnnealResult, ParallelTempering, anneal

__all__ = [
    "METHODS",
    "AnnealResult",
    "IsingScanResult",
    "SKScanResult",
    "CheckerboardSampler",
    "MetropolisSampler",
    "MultiSpinReplicaSampler",
    "MultiSpinSampler",
    "ParallelTempering",
    "SampleResult",
    "Samples",
    "SwendsenWangSampler",
    "WolffSampler",
    "anneal",
    "choose_method",
    "ising_scan",
    "make_sampler",
    "multispin_supported",
    "sample",
    "scan",
    "sk_scan",
    "stats",
]
