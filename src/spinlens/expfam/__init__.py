"""Exponential families (discrete and continuous), maximum entropy, the log-loss / max-ent / minimax equivalence,
the Gibbs variational principle and large deviations."""
from spinlens.expfam.continuous import ContinuousExpFamily as ContinuousExpFamily
from spinlens.expfam.continuous import Exponential, Gaussian, VonMises
from spinlens.expfam.equivalence import EquivalenceResult, maxent_equivalence
from spinlens.expfam.families import (
    DiscreteExpFamily,
    MaxEntResult,
    ising_family,
    ising_from_theta,
    ising_theta,
)
from spinlens.expfam.largedev import (
    chernoff_bound,
    cramer_rate,
    cross_entropy,
    entropy,
    gibbs_conditioning,
    gibbs_lower_bound,
    kl_divergence,
    sanov_log_prob,
)

# ContinuousExpFamily (the base class of the three) is importable here but not in __all__: it is not built directly.
__all__ = [
    "DiscreteExpFamily",
    "EquivalenceResult",
    "Exponential",
    "Gaussian",
    "MaxEntResult",
    "chernoff_bound",
    "cramer_rate",
    "cross_entropy",
    "entropy",
    "gibbs_conditioning",
    "gibbs_lower_bound",
    "ising_family",
    "ising_from_theta",
    "ising_theta",
    "kl_divergence",
    "maxent_equivalence",
    "sanov_log_prob",
    "VonMises",
]
