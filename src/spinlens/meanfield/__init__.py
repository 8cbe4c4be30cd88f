"""Forward and inverse mean-field solvers: naive mean field, TAP, stability spectra, TAP census, inverse Ising."""
from spinlens.meanfield.census import CensusLevelResult, MeltingResult, TapCensusResult, melting_temperature, tap_census
from spinlens.meanfield.inverse import InverseIsing, as_spin_samples
from spinlens.meanfield.naive import MFResult, naive, naive_free_energy
from spinlens.meanfield.stability import lowest_eigenpairs, paramagnet_hessian, paramagnet_stability, tap_hessian
from spinlens.meanfield.tap import TAPResult, TAPScanResult, tap, tap_free_energy, tap_scan

__all__ = [
    "CensusLevelResult",
    "InverseIsing",
    "as_spin_samples",
    "MFResult",
    "MeltingResult",
    "TAPResult",
    "TAPScanResult",
    "TapCensusResult",
    "lowest_eigenpairs",
    "melting_temperature",
    "naive",
    "naive_free_energy",
    "paramagnet_hessian",
    "paramagnet_stability",
    "tap",
    "tap_census",
    "tap_free_energy",
    "tap_hessian",
    "tap_scan",
]
