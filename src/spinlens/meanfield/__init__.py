"""Forward and inverse mean-field solvers: naive mean field, TAP, stability spectra, inverse Ising."""
from spinlens.meanfield.inverse import InverseIsing, as_spin_samples
from spinlens.meanfield.naive import MFResult, naive, naive_free_energy
from spinlens.meanfield.stability import lowest_eigenpairs, paramagnet_hessian, paramagnet_stability, tap_hessian
from spinlens.meanfield.tap import TAPResult, TAPScanResult, tap, tap_free_energy, tap_scan

__all__ = [
    "InverseIsing",
    "as_spin_samples",
    "MFResult",
    "TAPResult",
    "TAPScanResult",
    "lowest_eigenpairs",
    "naive",
    "naive_free_energy",
    "paramagnet_hessian",
    "paramagnet_stability",
    "tap",
    "tap_free_energy",
    "tap_hessian",
    "tap_scan",
]
