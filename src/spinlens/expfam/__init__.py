"""Exponential families, maximum entropy, the Gibbs variational principle and large deviations."""
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

__all__ = [
    "DiscreteExpFamily",
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
    "sanov_log_prob",
]
