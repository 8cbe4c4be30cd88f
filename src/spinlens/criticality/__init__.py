"""Criticality of deep networks: signal propagation, phase diagrams and RG along depth."""
from spinlens.criticality.activations import ACTIVATIONS, Activation, get_activation
from spinlens.criticality.signal import (
    FixedPoint,
    PhaseDiagram,
    correlation_map,
    critical_line,
    critical_sigma_w2,
    erf_maps,
    fixed_point,
    iterate_maps,
    length_map,
    phase_diagram,
    relu_maps,
)

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "FixedPoint",
    "PhaseDiagram",
    "correlation_map",
    "critical_line",
    "critical_sigma_w2",
    "erf_maps",
    "fixed_point",
    "get_activation",
    "iterate_maps",
    "length_map",
    "phase_diagram",
    "relu_maps",
]
