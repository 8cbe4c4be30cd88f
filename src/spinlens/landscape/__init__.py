"""Loss-landscape geometry of torch models: Hessian spectra, slices, mode connectivity, spin-glass protocols.

Böttcher & Wheeler (arXiv:2405.10957, arXiv:2208.13219); Li et al. (2018); Liao et al. (2024).
``loss_fn(output, target)`` returns a scalar; ``data`` is ``(inputs, targets)`` or a DataLoader.
"""
from spinlens.landscape.curvature import (
    ProjectionCurvature,
    RandomPlaneStatistics,
    goe2_probabilities,
    projected_hessian,
    projection_curvature,
    random_plane_statistics,
)
from spinlens.landscape.directions import (
    PCADirections,
    filter_normalize,
    flat_parameters,
    hessian_directions,
    orthonormalize,
    pca_directions,
    random_direction,
    user_direction,
)
from spinlens.landscape.hessian import (
    CurvatureFD,
    HessianEigs,
    HessianOperator,
    HessianTrace,
    SpectralDensity,
    curvature_fd,
    hessian_eigs,
    hessian_trace,
    lanczos,
    spectral_density,
)
from spinlens.landscape.surface import (
    Interpolation,
    Surface1D,
    Surface2D,
    evaluate_losses,
    interpolate,
    surface_1d,
    surface_2d,
    weight_matching,
)

__all__ = [
    "CurvatureFD",
    "HessianEigs",
    "HessianOperator",
    "HessianTrace",
    "Interpolation",
    "PCADirections",
    "ProjectionCurvature",
    "RandomPlaneStatistics",
    "SpectralDensity",
    "Surface1D",
    "Surface2D",
    "curvature_fd",
    "evaluate_losses",
    "filter_normalize",
    "flat_parameters",
    "goe2_probabilities",
    "hessian_directions",
    "hessian_eigs",
    "hessian_trace",
    "interpolate",
    "lanczos",
    "orthonormalize",
    "pca_directions",
    "projected_hessian",
    "projection_curvature",
    "random_direction",
    "random_plane_statistics",
    "spectral_density",
    "surface_1d",
    "surface_2d",
    "user_direction",
    "weight_matching",
]
