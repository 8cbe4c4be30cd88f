"""Sources of couplings: the IsingModel core and its builders."""
from spinlens.spins.lattice import chain, cubic_lattice, curie_weiss, hypercubic_lattice, square_lattice
from spinlens.spins.model import IsingModel, LatticeGeometry, as_spins
from spinlens.spins.sk import layered_sk, layered_sk_from_weights, sk

__all__ = [
    "IsingModel",
    "LatticeGeometry",
    "as_spins",
    "chain",
    "cubic_lattice",
    "curie_weiss",
    "hypercubic_lattice",
    "layered_sk",
    "layered_sk_from_weights",
    "sk",
    "square_lattice",
]
