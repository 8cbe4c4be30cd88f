"""spinlens: neural networks through statistical mechanics."""
from spinlens._version import __version__
from spinlens.spins.model import IsingModel

__all__ = ["IsingModel", "__version__"]
