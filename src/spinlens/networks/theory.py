r"""Initialisation theory beyond MLPs: the glass temperature of any coupling graph, and what replaces it for
convolutions and identity shortcuts.

Everything here predicts what :func:`spinlens.networks.phases.analyze` measures at initialisation: the stability
curve of the TAP paramagnet

.. math:: f(T) = \lambda_{\min}(T I + D/T - J), \qquad D = \mathrm{diag}(d_i),\ d_i = \textstyle\sum_k J_{ik}^2,

read as a glass (tangency, :math:`T_c = \arg\min f`), hidden order (:math:`f<0` on an interval, :math:`T_c` its
upper end) or paramagnet (:math:`f` clearly positive), with the finite-size tolerance
:func:`~spinlens.networks.phases.default_tolerance`.

Independent couplings: the variance profile (spinlens's own derivation)
-----------------------------------------------------------------------
For couplings :math:`J_{ij}` independent with mean 0 and variance :math:`V_{ij}` (zero where there is no bond),
linearising the replica-symmetric equations :math:`q_i = \beta^2 \sum_j V_{ij} q_j` at :math:`q = 0` gives

.. math:: T_c^2 = \rho(V),

the spectral radius (Perron eigenvalue) of the variance profile. For block-constant :math:`V` (a chain of dense
layers, an MLP) it reduces to the layered-SK result :math:`T_c^2 = \lambda_{\max}(M)`, :math:`M_{ab} = n_b
\sigma_{ab}^2` (Barney, Winer & Galitski, arXiv:2408.06421; :func:`~spinlens.networks.phases.layered_tc`), since
:math:`V` then maps layer indicator vectors to layer indicator vectors. :func:`variance_profile_tc`.

Weight sharing and deterministic bonds: the Fourier symbol (spinlens's own derivation)
-------------------------------------------------------------------------------------
A convolution reuses one kernel at every position, so its couplings are neither independent nor random given the
kernel: a conv block is *translation invariant*. If every neuron layer is a feature map :math:`(C_l, *S)` of one
spatial shape :math:`S` (stride 1, no pooling, no dense head) and the padding is circular, the plane waves
:math:`e^{i k\cdot x}` (:math:`k \in 2\pi\mathbb{Z}^d/S`, :math:`N = |S|` of them) diagonalise every block at
once: :math:`J` is unitarily equivalent to :math:`\bigoplus_k \hat J(k)`, with :math:`\hat J(k)` the
:math:`C_{\rm tot}\times C_{\rm tot}` Hermitian matrix (:math:`C_{\rm tot} = \sum_l C_l`) whose block
:math:`(d, s)` is the kernel's Fourier coefficient :math:`\hat A(k)_{oc} = \sum_\delta K_{oc}(\delta)\,
e^{i k\cdot\delta}` (a :math:`C_{\rm out}\times C_{\rm in}` matrix, :math:`K_{oc}(\delta)` the coupling of output
channel :math:`o` to input channel :math:`c` at offset :math:`\delta`) and block :math:`(s, d)` its adjoint.
An identity shortcut has :math:`\hat A(k) = I` for every :math:`k` (unit bonds along depth). :math:`d_i` is
constant over positions (Parseval: :math:`d_{(l,c)} = N^{-1}\sum_k \sum_r |\hat J(k)_{r,(l,c)}|^2`), so
:math:`D` commutes with the transform and

.. math:: f(T) = T - \max_k \lambda_{\max}\big(\hat J(k) - D/T\big), \qquad
          \lambda_{\max}(J) = \max_k \lambda_{\max}(\hat J(k))

(for a single conv block: :math:`\max_k \sigma_{\max}(\hat A(k))`), exactly. What this predicts:

* **Few channels: a modulated ferromagnet, or nothing.** The top of the spectrum is the maximum of a smooth band
  :math:`\lambda_{\max}(\hat J(k))` over the Brillouin zone, not a random-matrix edge; the critical mode is a
  plane wave at the maximising :math:`\pm k_*` with a fixed channel polarisation. One channel, one conv block:
  :math:`d = \sum_\delta w_\delta^2 = \overline{|\hat w(k)|^2}` on both layers, so
  :math:`f(T) = T + d/T - \max_k|\hat w(k)|`: **modulated order** (:math:`T_c = [\lambda + \sqrt{\lambda^2 -
  4d}]/2`, :math:`\lambda = \max_k |\hat w(k)|`) iff :math:`\max_k |\hat w|^2 > 4\,\overline{|\hat w|^2}`,
  else :math:`f_{\min} = 2\sqrt d - \lambda > 0`: a **paramagnet**.
* **Many channels: the glass comes back, slowly.** At each :math:`k`, :math:`\hat A(k)` is a random
  :math:`C_{\rm out}\times C_{\rm in}` matrix whose entries have variance :math:`\sum_\delta \sigma^2` — the
  channel-level variance profile — so :math:`\hat J(k)` is a layered-SK matrix of size :math:`C_{\rm tot}` and
  :math:`T_c \to \sqrt{\rho(V)}` as :math:`C \to \infty`. At finite width the maximum over the :math:`N` wave
  vectors of the top-eigenvalue fluctuations (scale :math:`C_{\rm tot}^{-2/3}`, not :math:`n^{-2/3}`) pushes
  :math:`T_c` above :math:`\sqrt{\rho(V)}`: the finite-size scale of a CNN is its channel count.
* **Identity shortcuts: chains, no transition.** A unit bond adds 1 to :math:`d_i` but at most 2 to the band top
  (a chain of :math:`m` unit bonds has :math:`\lambda_{\max} = 2\cos(\pi/(m+1))`, the chain ends :math:`d = 1`),
  so the Onsager term wins: residual networks at initialisation have :math:`f_{\min}` clearly positive (a
  paramagnet by the TAP criterion, as a 1-D Ising chain along depth has no transition).
* **Zero padding** removes the wrap-around bonds, a boundary perturbation of relative size :math:`O(1/S)`;
  :func:`fourier_prediction` then uses the symbol of an interior position (``exact=False``), an approximation.

Costs: :func:`variance_profile_tc` is one sparse eigen-solve, :math:`O(\mathrm{nnz})` per product (dense blocks
without materialising :math:`V`: :math:`O(n)`); :func:`fourier_prediction` costs :math:`O(\mathrm{nnz})` to read the
kernels, :math:`O(N C_{\rm tot}^2)` memory and :math:`O(N C_{\rm tot}^3)` per temperature (never an
:math:`n \times n` matrix).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from scipy.optimize import brentq

from spinlens.results import Result

__all__ = ["FourierPrediction", "InitTheory", "fourier_prediction", "init_theory", "variance_profile_tc"]

_VARIANCES = ("block", "entry")


def _layers_and_blocks(graph_or_blocks: Any) -> tuple[dict[str, tuple[int, tuple[int, ...]]], list[Any]]:
    """``{layer name: (size, shape)}`` and the coupling blocks of a SpinGraph or a sequence of CouplingBlocks."""
    from spinlens.networks.graph import CouplingBlock, SpinGraph

    if isinstance(graph_or_blocks, SpinGraph):
        return ({la.name: (la.size, tuple(la.shape)) for la in graph_or_blocks.layers},
                list(graph_or_blocks.blocks))
    if isinstance(graph_or_blocks, CouplingBlock):
        graph_or_blocks = [graph_or_blocks]
    if not isinstance(graph_or_blocks, Sequence) or isinstance(graph_or_blocks, (str, bytes)) or not all(
        isinstance(b, CouplingBlock) for b in graph_or_blocks
    ):
        raise ValueError(
            f"expected a SpinGraph (from map_network) or a sequence of CouplingBlock, got "
            f"{type(graph_or_blocks).__name__}; map the network first: map_network(net, example_input)."
        )
    layers: dict[str, tuple[int, tuple[int, ...]]] = {}
    for b in graph_or_blocks:
        for name, size in ((b.dst, b.matrix.shape[0]), (b.src, b.matrix.shape[1])):
            if layers.setdefault(name, (int(size), (int(size),)))[0] != size:
                raise ValueError(f"layer {name!r} has two sizes ({layers[name][0]} and {size}) in these blocks.")
    return layers, list(graph_or_blocks)


def variance_profile_tc(graph_or_blocks: Any, *, variance: str = "block", exclude: Sequence[tuple[str, str]] = ()
                        ) -> float:
    r"""Glass temperature of independent couplings: :math:`T_c = \sqrt{\rho(V)}` (spinlens's own derivation).

    For couplings independent with mean 0 and variance :math:`V_{ij}` (zero where no bond), the linearised
    replica-symmetric equations :math:`q_i = \beta^2\sum_j V_{ij}q_j` first have a non-zero solution at
    :math:`T_c^2 = \rho(V)`, the spectral radius of the symmetric non-negative :math:`n\times n` variance
    matrix (:math:`V_{ij} = V_{ji}`). For block-constant :math:`V` (a chain of dense layers) this is the
    layered-SK formula :math:`T_c^2 = \lambda_{\max}(M)`, :math:`M_{ab} = n_b\sigma_{ab}^2`, of Barney, Winer &
    Galitski, arXiv:2408.06421 (:func:`~spinlens.networks.phases.layered_tc`).

    What :math:`V` is, per coupling block :math:`A` (``variance="block"``, the default): on the bonds the block
    stores (its sparsity pattern), the block's empirical second moment over those bonds,
    :math:`V_{ij} = \overline{A^2} = \sum A^2/\mathrm{nnz}(A)`; zero elsewhere. Hence:

    * a **dense block** (Linear, a dense projection shortcut, any fully stored block): block-constant
      :math:`V = \overline{A^2}` over all :math:`n_{dst} n_{src}` entries (its empirical variance, the weights
      having mean ≈ 0 at initialisation) — never materialised;
    * a **convolution** (sparse, weight-shared): :math:`V_{ij}` = the kernel's mean square on the bonds the
      convolution creates (fewer at a zero-padded boundary) — the *as-if-independent* approximation, which
      ignores that the bonds share weights (see :func:`fourier_prediction` for what replaces it);
    * a **deterministic block** (identity shortcut, average pooling): :math:`V_{ij}` = the square of its constant
      bond (1 for an identity shortcut) — treated as if it were disorder, which it is not; drop such blocks with
      ``exclude``.

    ``variance="entry"`` uses the realised squares :math:`V_{ij} = A_{ij}^2` instead (the plug-in estimate;
    the same to :math:`O(n^{-1/2})` for large random dense blocks).

    Parameters
    ----------
    graph_or_blocks : SpinGraph (from :func:`~spinlens.networks.map_network`) or a sequence of CouplingBlock.
    variance : ``"block"`` or ``"entry"`` (above).
    exclude : ``(src, dst)`` layer-name pairs of blocks to leave out of :math:`V`.

    Returns
    -------
    float
        :math:`\sqrt{\rho(V)}` (0 for no couplings).

    Notes
    -----
    Cost: all blocks dense and ``variance="block"``: an eigenvalue of the :math:`L\times L` layer matrix
    :math:`S_{ab} = \sqrt{n_a n_b}\,\overline{A_{ab}^2}` (exact reduction). Otherwise one Lanczos solve
    (``eigsh``) with products of cost :math:`O(n + \mathrm{nnz}(\text{sparse blocks}))`; no dense
    :math:`n\times n` array.
    """
    if variance not in _VARIANCES:
        raise ValueError(f"variance must be one of {_VARIANCES}, got {variance!r}.")
    layers, blocks = _layers_and_blocks(graph_or_blocks)
    excl = {(str(a), str(b)) for a, b in exclude}
    unknown = excl - {(b.src, b.dst) for b in blocks}
    if unknown:
        raise ValueError(f"exclude names blocks that do not exist: {sorted(unknown)}; "
                         f"blocks are {[(b.src, b.dst) for b in blocks]}.")
    blocks = [b for b in blocks if (b.src, b.dst) not in excl]
    names = list(layers)
    idx = {name: i for i, name in enumerate(names)}
    sizes = np.array([layers[name][0] for name in names], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n = int(offsets[-1])
    dense_terms: list[tuple[int, int, float]] = []
    sparse_terms: list[tuple[int, int, Any]] = []
    for b in blocks:
        A = sp.csr_matrix(b.matrix)
        m_dst, m_src = A.shape
        data = np.asarray(A.data, dtype=np.float64)
        if not np.all(np.isfinite(data)):
            raise ValueError(f"block {b.src} -> {b.dst} has non-finite couplings.")
        if A.nnz == 0:
            continue
        if variance == "block" and A.nnz == m_dst * m_src:
            dense_terms.append((idx[b.dst], idx[b.src], float(np.sum(data**2)) / A.nnz))
            continue
        P = A.copy().astype(np.float64)
        P.data = data**2 if variance == "entry" else np.full(A.nnz, float(np.sum(data**2)) / A.nnz)
        sparse_terms.append((idx[b.dst], idx[b.src], P.tocsr()))
    if not dense_terms and not sparse_terms:
        return 0.0
    if not sparse_terms:  # block-constant V: exact reduction to the layer matrix
        L = len(names)
        S = np.zeros((L, L))
        for a, c, v in dense_terms:
            s = np.sqrt(float(sizes[a]) * float(sizes[c])) * v
            S[a, c] += s
            if a != c:
                S[c, a] += s
        return float(np.sqrt(max(np.linalg.eigvalsh(S)[-1], 0.0)))

    def matvec(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.zeros(n)
        sl = [slice(int(offsets[i]), int(offsets[i + 1])) for i in range(len(names))]
        for a, c, v in dense_terms:
            y[sl[a]] += v * x[sl[c]].sum()
            if a != c:
                y[sl[c]] += v * x[sl[a]].sum()
        for a, c, P in sparse_terms:
            y[sl[a]] += P @ x[sl[c]]
            y[sl[c]] += P.T @ x[sl[a]]
        return y

    if n <= 64:
        Vd = np.column_stack([matvec(e) for e in np.eye(n)])
        rho = float(np.linalg.eigvalsh(0.5 * (Vd + Vd.T))[-1])
    else:
        op = sla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        v0 = np.ones(n)  # the Perron vector is positive: start inside its cone
        rho = float(sla.eigsh(op, k=1, which="LA", v0=v0, tol=1e-10, return_eigenvectors=False)[0])
    return float(np.sqrt(max(rho, 0.0)))


# ---------------------------------------------------------------------------------------------- Fourier symbol
@dataclass(frozen=True)
class FourierPrediction(Result):
    r"""The stability curve of a translation-invariant network from its Fourier symbol (:func:`fourier_prediction`).

    Attributes
    ----------
    t_c, phase, criterion : as :class:`~spinlens.networks.phases.PhaseResult` (same rules, same tolerance).
    t_star, f_min, f_min_rel, t_upper : minimum of :math:`f`, its value (relative: over ``t_star``) and the upper
        zero of :math:`f` (NaN if none).
    lambda_max : :math:`\max_k \lambda_{\max}(\hat J(k))` (:math:`= \lambda_{\max}(J)` when ``exact``).
    k_star : the wave vector (radians per site, one per spatial dimension, in :math:`(-\pi, \pi]`) of the
        critical mode at :math:`T_c` (at ``t_star`` without one).
    block_sigma_max : per block ``(src, dst, max_k sigma_max(A_hat(k)))``, the largest singular value of its symbol.
    exact : every block is translation invariant (circular padding): the prediction is the measured curve.
    translation_error : largest relative difference between a block and its circulant (0 when ``exact``).
    variance_profile_tc : :func:`variance_profile_tc` of the same graph, for comparison.
    n_channels : :math:`C_{\rm tot}`; ``spatial_shape`` : :math:`S`.
    temperatures, stability : :math:`f(T)` on the grid used.
    """

    t_c: float
    phase: str
    criterion: str
    t_star: float
    f_min: float
    f_min_rel: float
    t_upper: float
    tolerance: float
    lambda_max: float
    k_star: tuple
    block_sigma_max: tuple
    exact: bool
    translation_error: float
    variance_profile_tc: float
    n_channels: int
    spatial_shape: tuple
    temperatures: np.ndarray
    stability: np.ndarray

    def summary(self) -> str:
        kind = "exact" if self.exact else f"circulant approximation, boundary error {self.translation_error:.2g}"
        return (f"{self.phase}, T_c = {self.t_c:.4g} (Fourier symbol, {kind}; f_min/T* = {self.f_min_rel:+.3g}; "
                f"independent-couplings T_c = {self.variance_profile_tc:.4g})")


def _symbols(layers: dict[str, tuple[int, tuple[int, ...]]], blocks: list[Any]
             ) -> tuple[tuple[int, ...], dict[str, int], np.ndarray, list[tuple[str, str, float]], float]:
    """Spatial shape, channel offsets, the symbol ``Jk`` (N, C_tot, C_tot), per-block sigma_max, translation error."""
    shapes = {name: shape for name, (_, shape) in layers.items()}
    spatial = {shape[1:] for shape in shapes.values()}
    if len(spatial) != 1 or any(len(shape) < 2 for shape in shapes.values()):
        desc = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            "the Fourier prediction needs every neuron layer to be a feature map (C, *S) of one spatial shape S "
            f"(stride-1 convolutions and shortcuts only, no pooling, flatten or dense head); got {desc}. "
            "Use variance_profile_tc for dense graphs, or analyze for the measured value."
        )
    S = next(iter(spatial))
    N = int(np.prod(S))
    names = list(shapes)
    coff: dict[str, int] = {}
    c = 0
    for name in names:
        coff[name] = c
        c += int(shapes[name][0])
    C_tot = c
    Jk = np.zeros((N, C_tot, C_tot), dtype=np.complex128)
    p0 = tuple(s // 2 for s in S)  # an interior position: away from a zero-padded boundary
    p0_flat = int(np.ravel_multi_index(p0, S))
    axes = tuple(range(2, 2 + len(S)))
    sig: list[tuple[str, str, float]] = []
    err = 0.0
    rng = np.random.default_rng(0)
    for b in blocks:
        Co, Ci = int(shapes[b.dst][0]), int(shapes[b.src][0])
        A = sp.csr_matrix(b.matrix)
        rows = np.arange(Co) * N + p0_flat
        K = np.asarray(A[rows].toarray(), dtype=np.float64).reshape((Co, Ci) + S)
        K = np.roll(K, shift=tuple(-p for p in p0), axis=axes)  # K[o, c, delta] = A[(o, p0), (c, p0 + delta)]
        F = np.fft.fftn(K, axes=axes)  # sum_delta K e^{-i k.delta} = A_hat(-k): one convention for all blocks
        Ahat = np.moveaxis(F.reshape(Co, Ci, N), 2, 0)  # (N, Co, Ci)
        Jk[:, coff[b.dst]:coff[b.dst] + Co, coff[b.src]:coff[b.src] + Ci] += Ahat
        Jk[:, coff[b.src]:coff[b.src] + Ci, coff[b.dst]:coff[b.dst] + Co] += np.conj(np.swapaxes(Ahat, 1, 2))
        sig.append((b.src, b.dst, float(np.linalg.svd(Ahat, compute_uv=False).max())))
        # translation invariance: A x against the circulant conj(F) * fft(x), channel by channel
        x = rng.standard_normal((Ci,) + S)
        y = np.asarray(A @ x.ravel()).reshape((Co,) + S)
        X = np.fft.fftn(x, axes=tuple(range(1, 1 + len(S)))).reshape(Ci, N)
        Y = np.einsum("noc,cn->on", np.conj(Ahat), X).reshape((Co,) + S)
        y_circ = np.real(np.fft.ifftn(Y, axes=tuple(range(1, 1 + len(S)))))
        scale = max(float(np.linalg.norm(y)), 1e-300)
        err = max(err, float(np.linalg.norm(y - y_circ)) / scale)
    return S, coff, Jk, sig, err


def fourier_prediction(graph: Any, *, tol: float | None = None, n_grid: int = 32) -> FourierPrediction:
    r"""Transition temperature and phase of a convolutional / residual network from its Fourier symbol.

    The derivation (spinlens's own; module docstring): with every neuron layer a feature map :math:`(C_l, *S)`
    of one spatial shape and circular padding, :math:`J \cong \bigoplus_k \hat J(k)`, :math:`D` is constant per
    channel, so

    .. math:: f(T) = T - \max_k \lambda_{\max}\big(\hat J(k) - D/T\big)

    exactly, with :math:`\hat J(k)` the :math:`C_{\rm tot}\times C_{\rm tot}` Hermitian matrix of the blocks'
    kernel Fourier coefficients (:math:`C_{\rm out}\times C_{\rm in}` per block, the identity for an identity
    shortcut) and :math:`d_{(l,c)} = N^{-1}\sum_k\sum_r |\hat J(k)_{r,(l,c)}|^2`. The phase and :math:`T_c` are
    read off :math:`f` with the rules of :func:`~spinlens.networks.phases.analyze` (tangency / upper zero /
    paramagnet, tolerance :func:`~spinlens.networks.phases.default_tolerance` of the number of spins). With zero
    (or reflect/replicate) padding each block is replaced by the circulant of its kernel at an interior position
    (``exact=False``, ``translation_error`` says how far the block is from it): an approximation whose error is
    the boundary's, :math:`O(1/S)`.

    Parameters
    ----------
    graph : SpinGraph from :func:`~spinlens.networks.map_network` of a network of stride-1 convolutions
        (any padding, dilation, groups), 1×1 projections, identity shortcuts and element-wise activations,
        whose neuron layers all share one spatial shape.
    tol : finite-size tolerance on :math:`f_{\min}/T_*` (default: that of ``analyze``).
    n_grid : log-spaced temperatures in :math:`[T_{hi}/20, T_{hi}]`,
        :math:`T_{hi} = 1.05\max(\lambda_{\max}, \sqrt{\max d})`, before refinement.

    Returns
    -------
    FourierPrediction

    Raises
    ------
    ValueError
        If a neuron layer is not a feature map of the common spatial shape (a flatten, pooling or dense head).

    Notes
    -----
    Cost: reading the kernels :math:`O(\mathrm{nnz})`; memory :math:`O(N C_{\rm tot}^2)`; each temperature one
    batch of :math:`N` Hermitian eigenvalue problems of size :math:`C_{\rm tot}` (about ``n_grid + 30``
    temperatures; only half the wave vectors, :math:`\hat J(-k) = \overline{\hat J(k)}`). No :math:`n\times n` matrix.
    """
    from spinlens.networks.graph import SpinGraph
    from spinlens.networks.phases import default_tolerance

    if not isinstance(graph, SpinGraph):
        raise ValueError(f"fourier_prediction needs a SpinGraph from map_network, got {type(graph).__name__}.")
    layers, blocks = _layers_and_blocks(graph)
    S, _, Jk, sig, err = _symbols(layers, blocks)
    N, C_tot = Jk.shape[0], Jk.shape[1]
    d = np.sum(np.abs(Jk) ** 2, axis=(0, 1)) / N  # Parseval: sum_j J_ij^2 per channel
    tol = default_tolerance(graph.n_spins) if tol is None else float(tol)
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}.")
    # real kernels: J_hat(-k) = conj(J_hat(k)) has the same eigenvalues, so half the wave vectors suffice
    kv = np.unravel_index(np.arange(N), S)
    neg = np.ravel_multi_index(tuple((-k) % s for k, s in zip(kv, S, strict=True)), S)
    keep = np.nonzero(np.arange(N) <= neg)[0]
    Jh = Jk[keep]
    lam_k = np.linalg.eigvalsh(Jh)[:, -1]
    lam = float(lam_k.max()) if C_tot else 0.0
    vp = variance_profile_tc(graph)
    def g(T: np.ndarray, ks: np.ndarray) -> np.ndarray:
        """g_k(T) = T - lambda_max(J_hat(k) - D/T), one temperature per wave vector."""
        T = np.asarray(T, dtype=np.float64)
        return T - np.linalg.eigvalsh(Jh[ks] - d[None, None, :] * np.eye(C_tot)[None] / T[:, None, None])[:, -1]

    # f(T) = min_k g_k(T): its minimum is min_k min_T g_k(T). Each branch is smooth, f has kinks where the
    # maximising wave vector changes, so every branch is minimised on its own (batched golden section).
    nk = len(keep)
    ks = np.arange(nk)
    t_hi = 1.05 * max(lam, float(np.sqrt(d.max())) if d.size else 0.0, 1e-12)
    grid = np.geomspace(t_hi / 20.0, t_hi, int(n_grid))
    G = np.array([g(np.full(nk, T), ks) for T in grid])  # (n_grid, nk)
    ig = np.argmin(G, axis=0)
    a = grid[np.maximum(ig - 1, 0)]
    b = grid[np.minimum(ig + 1, len(grid) - 1)]
    invphi = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = b - invphi * (b - a), a + invphi * (b - a)
    g1, g2 = g(x1, ks), g(x2, ks)
    for _ in range(60):
        left = g1 < g2
        b = np.where(left, x2, b)
        a = np.where(left, a, x1)
        x2n = np.where(left, x1, a + invphi * (b - a))
        x1n = np.where(left, b - invphi * (b - a), x2)
        new = np.where(left, x1n, x2n)
        gn = g(new, ks)
        g1, g2 = np.where(left, gn, g2), np.where(left, g1, gn)
        x1, x2 = x1n, x2n
        if np.max(b - a) < 1e-9 * t_hi:
            break
    tk = np.where(g1 < g2, x1, x2)
    gk = np.minimum(g1, g2)
    grid_min = G[ig, ks]
    tk = np.where(gk <= grid_min, tk, grid[ig])
    gk = np.minimum(gk, grid_min)
    j = int(np.argmin(gk))
    t_star, f_min = float(tk[j]), float(gk[j])
    i = int(ig[j])
    t_upper = float("nan")
    if f_min < 0:  # upper end of {f < 0} = the largest upper zero of the negative branches
        uppers = []
        for kk in np.nonzero(gk < 0)[0]:
            above = np.nonzero((grid > tk[kk]) & (G[:, kk] > 0))[0]
            if above.size:
                gs = lambda T, kk=kk: float(g(np.array([T]), np.array([kk]))[0])  # noqa: E731
                uppers.append(brentq(gs, float(tk[kk]), float(grid[above[0]]), xtol=1e-12 * t_hi, maxiter=200))
        t_upper = float(max(uppers)) if uppers else float("nan")
    rel = f_min / t_star
    if rel < -tol:
        phase, criterion, t_c = "hidden order", "upper zero", t_upper
    elif rel <= 5 * tol and not (i == 0 and np.isclose(t_star, grid[0])):
        phase, criterion, t_c = "spin glass", "tangency", t_star
    else:
        phase, criterion, t_c = "paramagnet", "none", float("nan")
    t_ref = t_c if np.isfinite(t_c) else t_star
    k_index = int(keep[int(np.argmin(g(np.full(nk, t_ref), ks)))])
    k_vec = np.unravel_index(k_index, S)
    k_star = tuple(float(np.angle(np.exp(2j * np.pi * kj / s))) for kj, s in zip(k_vec, S, strict=True))
    Ts = grid
    f_grid = G.min(axis=1)
    return FourierPrediction(
        t_c=float(t_c),
        phase=phase,
        criterion=criterion,
        t_star=t_star,
        f_min=float(f_min),
        f_min_rel=float(rel),
        t_upper=t_upper,
        tolerance=tol,
        lambda_max=lam,
        k_star=k_star,
        block_sigma_max=tuple(sig),
        exact=bool(err < 1e-9),
        translation_error=float(err),
        variance_profile_tc=vp,
        n_channels=int(C_tot),
        spatial_shape=tuple(int(s) for s in S),
        temperatures=Ts,
        stability=f_grid,
    )


# ---------------------------------------------------------------------------------------------- which one applies
@dataclass(frozen=True)
class InitTheory(Result):
    r"""The initialisation prediction that applies to a network (:func:`init_theory`).

    Attributes
    ----------
    t_c : predicted :math:`T_c` (NaN for a predicted paramagnet).
    phase : predicted phase (``"spin glass"`` for the independent-couplings formulas, which predict a glass).
    formula : ``"layered SK"`` (a chain of dense blocks), ``"variance profile"`` (dense blocks beyond a chain),
        ``"Fourier symbol"`` (convolutions, all feature maps of one spatial shape) or ``"variance profile
        (as if independent)"`` (sparse blocks where the Fourier symbol does not apply: an approximation).
    exact : the formula is the model's own answer in the large-width limit (dense, independent couplings) or
        exactly (circular padding) rather than an approximation.
    text : one line for reports, saying which formula and what it assumes.
    """

    t_c: float
    phase: str
    formula: str
    exact: bool
    text: str


def init_theory(graph: Any) -> InitTheory:
    r"""The prediction of the step-0 phase and :math:`T_c` that holds for ``graph``'s kind of couplings.

    * only dense blocks (Linear layers, dense projection shortcuts): :math:`T_c = \sqrt{\rho(V)}`
      (:func:`variance_profile_tc`; for a chain the layered-SK formula :math:`T_c^2 = \lambda_{\max}(M)`, Barney,
      Winer & Galitski, arXiv:2408.06421), a spin glass;
    * sparse (weight-shared or deterministic) blocks with every neuron layer a feature map of one spatial shape:
      :func:`fourier_prediction` (exact for circular padding, a boundary approximation otherwise);
    * other sparse graphs (pooling, a dense head): the variance profile *as if* the couplings were independent,
      flagged as an approximation (conv weights are shared and identity shortcuts deterministic, so it can be
      far off: see the docs' measurements).

    A block counts as dense with more than :data:`spinlens.networks.spectrum.DENSE_FRACTION` of its entries stored.
    """
    from spinlens.networks.spectrum import DENSE_FRACTION

    layers, blocks = _layers_and_blocks(graph)
    dense = all(b.matrix.nnz > DENSE_FRACTION * b.matrix.shape[0] * b.matrix.shape[1] for b in blocks)
    if dense:
        order = list(layers)
        chain = all(order.index(b.dst) == order.index(b.src) + 1 for b in blocks)
        t_c = variance_profile_tc(blocks)
        formula = "layered SK" if chain else "variance profile"
        what = ("T_c² = λ_max(M), M_ab = n_b σ_ab²" if chain else "T_c² = ρ(V), V the coupling-variance profile")
        return InitTheory(t_c, "spin glass", formula, True,
                          f"{formula.replace(' ', '-')} prediction (independent couplings) T_c = {t_c:.4g} ({what})")
    try:
        fp = fourier_prediction(graph)
    except ValueError:
        t_c = variance_profile_tc(blocks)
        return InitTheory(t_c, "spin glass", "variance profile (as if independent)", False,
                          f"variance-profile T_c = {t_c:.4g}, computed as if the couplings were independent: an "
                          "approximation here, since convolution weights are shared and shortcuts are deterministic "
                          "(the Fourier-symbol theory needs every neuron layer on one spatial grid)")
    how = "exact (circular padding)" if fp.exact else "zero padding treated as a boundary perturbation"
    val = f"T_c = {fp.t_c:.4g}" if np.isfinite(fp.t_c) else "no transition"
    return InitTheory(float(fp.t_c), fp.phase, "Fourier symbol", fp.exact,
                      f"Fourier-symbol prediction ({how}): {fp.phase}, {val}")
