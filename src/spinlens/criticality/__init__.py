"""Criticality of deep networks: signal propagation, phase diagrams and RG along depth.

* :mod:`~spinlens.criticality.signal` — length/correlation maps, fixed points, depth scales, phase diagrams
  (Poole et al. 2016; Schoenholz et al. 2017).
* :mod:`~spinlens.criticality.ryh` — Roberts–Yaida–Hanin critical initialisation, universality classes,
  kernel and four-point-vertex recursions.
* :mod:`~spinlens.criticality.empirical` — simulated random networks (torch) against theory.
* :mod:`~spinlens.criticality.rg` — dynamic-neuron energy and RG decimation along depth (spinlens's own
  reconstruction of the RG of Lee, Lee & Yi).
* :mod:`~spinlens.criticality.dynamic` — the dynamic-neuron ensemble of Lee, Lee & Yi at beta > 0 (neurons of
  every layer and data point beside W and b), sampled by Hamiltonian Monte Carlo.
"""
from spinlens.criticality.activations import ACTIVATIONS, Activation, get_activation
from spinlens.criticality.dynamic import (
    DynamicEnsembleSamples,
    dynamic_neuron_terms,
    forward_pass,
    sample_dynamic_ensemble,
)
from spinlens.criticality.empirical import (
    GradientNorms,
    SignalSimulation,
    Trainability,
    gradient_norms,
    simulate_signal,
    trainability,
)
from spinlens.criticality.rg import (
    Decimation,
    ExponentFit,
    RGFlow,
    correlation_length_exponent,
    decimate,
    dynamic_neuron_energy,
    rg_eigenvalues,
    rg_flow,
    rg_step,
    sample_dynamic_neurons,
)
from spinlens.criticality.ryh import (
    CriticalInit,
    KernelFlow,
    chi_parallel_perp,
    critical_init,
    kernel_recursion,
    universality_class,
)
from spinlens.criticality.signal import (
    DepthScaleCut,
    FixedPoint,
    PhaseDiagram,
    chi_1,
    correlation_map,
    critical_line,
    critical_sigma_w2,
    depth_scale_cut,
    erf_maps,
    fixed_point,
    iterate_maps,
    length_map,
    phase_diagram,
    relu_maps,
)

__all__ = [
    "ACTIVATIONS", "Activation", "CriticalInit", "Decimation", "DepthScaleCut", "DynamicEnsembleSamples",
    "ExponentFit", "FixedPoint",
    "GradientNorms", "KernelFlow", "PhaseDiagram", "RGFlow", "SignalSimulation", "Trainability", "chi_1",
    "chi_parallel_perp", "correlation_length_exponent", "correlation_map", "critical_init", "critical_line",
    "critical_sigma_w2", "decimate", "depth_scale_cut", "dynamic_neuron_energy", "dynamic_neuron_terms", "erf_maps",
    "fixed_point", "forward_pass",
    "get_activation", "gradient_norms", "iterate_maps", "kernel_recursion", "length_map", "phase_diagram",
    "relu_maps", "rg_eigenvalues", "rg_flow", "rg_step", "sample_dynamic_ensemble", "sample_dynamic_neurons",
    "simulate_signal",
    "trainability", "universality_class",
]
