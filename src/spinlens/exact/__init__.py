"""Exact solvers: enumeration of all states, 1D transfer matrix and closed forms.

* :func:`enumerate` — exact thermodynamics of any :class:`~spinlens.IsingModel` up to
  :data:`MAX_SPINS` spins (Gray code, log-sum-exp, numba); :func:`boltzmann_probabilities`.
* Closed forms that check every solver: :func:`chain_transfer_matrix`, :func:`onsager`,
  :func:`kaufman`, :func:`curie_weiss`, :func:`sk_paramagnet`, :func:`layered_sk_tc`.
"""
from spinlens.exact.closed_forms import (
    ONSAGER_BETA_C,
    ONSAGER_TC,
    CurieWeissResult,
    OnsagerResult,
    SKParamagnetResult,
    chain_transfer_matrix,
    curie_weiss,
    kaufman,
    layered_sk_tc,
    layered_sk_tc_equal,
    onsager,
    sk_paramagnet,
)
from spinlens.exact.enumeration import (
    MAX_SPINS,
    MAX_SPINS_PROBABILITIES,
    EnumerationResult,
    boltzmann_probabilities,
    enumerate,
)

__all__ = [
    "MAX_SPINS",
    "MAX_SPINS_PROBABILITIES",
    "ONSAGER_BETA_C",
    "ONSAGER_TC",
    "CurieWeissResult",
    "EnumerationResult",
    "OnsagerResult",
    "SKParamagnetResult",
    "boltzmann_probabilities",
    "chain_transfer_matrix",
    "curie_weiss",
    "enumerate",
    "kaufman",
    "layered_sk_tc",
    "layered_sk_tc_equal",
    "onsager",
    "sk_paramagnet",
]
