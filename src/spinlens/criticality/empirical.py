r"""Monte Carlo over random networks: measured signal propagation against mean-field theory.

Networks of ``depth`` layers and equal ``width`` n: :math:`h^1 = W^0x+b^0`,
:math:`h^{l+1}=W^l\phi(h^l)+b^l`, :math:`W_{ij}\sim\mathcal N(0,\sigma_w^2/n)`,
:math:`b_i\sim\mathcal N(0,\sigma_b^2)`. Two inputs with :math:`\lVert x\rVert^2/n = q_\text{in}` and
correlation :math:`c_\text{in}`. Per layer and network we measure :math:`\hat q^l = \lVert h^l\rVert^2/n`
and :math:`\hat c^l`; the mean over networks is compared with the length/correlation maps (exact as
n → ∞), and the fluctuations with Roberts–Yaida–Hanin's finite-width theory
(:mod:`spinlens.criticality.ryh`, :math:`C_W=\sigma_w^2`, :math:`C_b=\sigma_b^2`):
:math:`\mathrm{Var}(\hat q^l) \approx (V^l + 2(K^l)^2)/n` and the pooled connected four-point function
:math:`\langle z^4\rangle - 3\langle z^2\rangle^2 = 3V^l/n`, i.e. :math:`\hat V = n(\langle z^4\rangle-3\langle
z^2\rangle^2)/3`; the mean kernel carries the correction :math:`K^{\{1\}}/n`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, seed_int, spawn
from spinlens.criticality.activations import get_activation
from spinlens.criticality.ryh import kernel_recursion
from spinlens.criticality.signal import (
    _SB,
    _nonnegative_array,
    _one_number,
    _positive_array,
    _scalar_sigmas,
    fixed_point,
    iterate_maps,
)
from spinlens.results import Result
from spinlens.spins.model import as_count, as_positive, as_real

__all__ = ["SignalSimulation", "GradientNorms", "Trainability", "simulate_signal", "gradient_norms",
           "trainability"]


def _device(device: Any) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True)
class SignalSimulation(Result):
    """Measured and predicted per-layer statistics, arrays of shape ``(depth,)`` for l = 1..depth."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    width: int
    n_networks: int
    layers: np.ndarray
    q_mean: np.ndarray
    q_err: np.ndarray
    q_theory: np.ndarray
    q_theory_1n: np.ndarray
    c_mean: np.ndarray
    c_err: np.ndarray
    c_theory: np.ndarray
    q_std: np.ndarray
    q_std_theory: np.ndarray
    V_hat: np.ndarray
    V_err: np.ndarray
    V_theory: np.ndarray


def _inputs(width: int, q_in: float, c_in: float, g: np.random.Generator) -> np.ndarray:
    a = g.standard_normal((width, 2))
    Qm, _ = np.linalg.qr(a)
    u, v = Qm[:, 0], Qm[:, 1]
    s = np.sqrt(q_in * width)
    return np.stack([s * u, s * (c_in * u + np.sqrt(1 - c_in**2) * v)], axis=1)


def simulate_signal(
    activation: Any,
    sigma_w2: float,
    sigma_b2: float,
    width: int = 1000,
    depth: int = 20,
    n_networks: int = 16,
    q_in: float = 1.0,
    c_in: float = 0.6,
    rng: RNGLike = None,
    device: Any = None,
    dtype: Any = None,
    progress: ProgressCallback | None = None,
    weights: str = "marginal",
) -> SignalSimulation:
    r"""Propagate two inputs through ``n_networks`` random networks (batched in torch) and compare
    q^l, c^l and their fluctuations with theory. Errors are standard errors over networks.

    ``weights="explicit"`` draws every :math:`W^l` (``n x n``, O(n^2) per layer). ``"marginal"`` (default)
    samples the same ensemble in O(n) per layer: each :math:`W^l` is fresh and meets only the two activation
    vectors :math:`a, b` of its layer, so the rows of :math:`(W^la, W^lb)` are i.i.d. Gaussian pairs with
    covariance :math:`(\sigma_w^2/n)\begin{pmatrix}a\cdot a & a\cdot b\\ a\cdot b & b\cdot b\end{pmatrix}`
    (exact in distribution at finite width, not an infinite-width approximation)."""
    import torch

    act = get_activation(activation)
    sigma_w2, sigma_b2 = _scalar_sigmas(sigma_w2, sigma_b2, "simulate one point per call")
    width = as_count(width, "width", minimum=2)
    depth = as_count(depth, "depth", minimum=1)
    n_networks = as_count(n_networks, "n_networks (needed >= 2 for error bars)", minimum=2)
    q_in = as_positive(q_in, "q_in (the input squared length per unit)")
    c_in = as_real(c_in, "c_in (the input correlation)", low=-1.0, high=1.0, low_open=True, high_open=True)
    if weights not in ("marginal", "explicit"):
        raise ValueError(f"weights must be 'marginal' or 'explicit', got {weights!r}.")
    dev = _device(device)
    dt = dtype or torch.float64
    g = as_generator(rng)
    x = torch.as_tensor(_inputs(width, q_in, c_in, g), dtype=dt, device=dev)
    tg = torch.Generator(device=dev.type)
    tg.manual_seed(seed_int(g))
    phi = act.torch()
    B, n = int(n_networks), int(width)
    sw, sb = float(np.sqrt(sigma_w2)), float(np.sqrt(sigma_b2))
    qs = np.zeros((depth, B))
    cs = np.zeros((depth, B))
    m2 = np.zeros((depth, B))
    m4 = np.zeros((depth, B))
    h = x.expand(B, n, 2)
    for l in range(depth):
        inp = h if l == 0 else phi(h)
        if weights == "explicit":
            W = torch.randn(B, n, n, generator=tg, device=dev, dtype=dt) * (sw / np.sqrt(n))
            wx = torch.bmm(W, inp)
        else:
            na = torch.linalg.vector_norm(inp[:, :, 0], dim=1)
            nb = torch.linalg.vector_norm(inp[:, :, 1], dim=1)
            rho = ((inp[:, :, 0] * inp[:, :, 1]).sum(dim=1) / (na * nb).clamp_min(1e-300)).clamp(-1.0, 1.0)
            xi = torch.randn(B, n, 2, generator=tg, device=dev, dtype=dt) * (sw / np.sqrt(n))
            wa = na[:, None] * xi[:, :, 0]
            wb = nb[:, None] * (rho[:, None] * xi[:, :, 0] + torch.sqrt(1.0 - rho * rho)[:, None] * xi[:, :, 1])
            wx = torch.stack([wa, wb], dim=2)
        b = torch.randn(B, n, 1, generator=tg, device=dev, dtype=dt) * sb
        h = wx + b
        q12 = (h * h).mean(dim=1)
        qs[l] = q12[:, 0].cpu().numpy()
        cs[l] = ((h[:, :, 0] * h[:, :, 1]).mean(dim=1) / torch.sqrt(q12[:, 0] * q12[:, 1])).cpu().numpy()
        z = h[:, :, 0]
        m2[l] = (z**2).mean(dim=1).cpu().numpy()
        m4[l] = (z**4).mean(dim=1).cpu().numpy()
        notify(progress, l + 1, depth)
    q1 = sigma_w2 * q_in + sigma_b2
    c1 = (sigma_w2 * q_in * c_in + sigma_b2) / q1
    q_th, c_th = iterate_maps(act, sigma_w2, sigma_b2, q1, c1, depth)
    kf = kernel_recursion(act, sigma_b2, sigma_w2, q1, depth)
    # V-hat per layer with a jackknife error over networks
    def vhat(M2: np.ndarray, M4: np.ndarray) -> np.ndarray:
        return n * (M4.mean(axis=-1) - 3 * M2.mean(axis=-1) ** 2) / 3

    V_hat = vhat(m2, m4)
    jk = np.stack([vhat(np.delete(m2, i, axis=1), np.delete(m4, i, axis=1)) for i in range(B)], axis=1)
    V_err = np.sqrt((B - 1) / B * ((jk - jk.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
    return SignalSimulation(
        act.name, float(sigma_w2), float(sigma_b2), n, B, np.arange(1, depth + 1),
        qs.mean(axis=1), qs.std(axis=1, ddof=1) / np.sqrt(B), q_th, kf.K + kf.K1 / n,
        cs.mean(axis=1), cs.std(axis=1, ddof=1) / np.sqrt(B), c_th,
        qs.std(axis=1, ddof=1), np.sqrt((kf.V + 2 * kf.K**2) / n), V_hat, V_err, kf.V,
    )


@dataclass(frozen=True)
class GradientNorms(Result):
    r"""Mean squared gradient :math:`\lVert\partial L/\partial h^l\rVert^2/n` per layer (l = 1..depth) and
    the mean-field prediction :math:`\propto\chi_1^{\,\text{depth}-l}` (Schoenholz et al. 2017), normalised
    at the last layer; ``rate_fit`` is the fitted per-layer factor, ``chi_1`` the theory."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    layers: np.ndarray
    grad_sq: np.ndarray
    grad_sq_err: np.ndarray
    theory: np.ndarray
    chi_1: float
    rate_fit: float


def gradient_norms(
    activation: Any,
    sigma_w2: float,
    sigma_b2: float,
    width: int = 300,
    depth: int = 30,
    n_networks: int = 8,
    rng: RNGLike = None,
    device: Any = None,
) -> GradientNorms:
    """Backpropagate a random linear read-out through random networks whose input sits at q*.

    ``width >= 1``, ``depth >= 2`` (the per-layer rate is a fit over layers), ``n_networks >= 2`` (error bars)."""
    import torch

    act = get_activation(activation)
    sigma_w2, sigma_b2 = _scalar_sigmas(sigma_w2, sigma_b2, "one point per call")
    width = as_count(width, "width", minimum=1)
    depth = as_count(depth, "depth (>= 2: the rate is fitted over layers)", minimum=2)
    n_networks = as_count(n_networks, "n_networks (needed >= 2 for error bars)", minimum=2)
    fp = fixed_point(act, sigma_w2, sigma_b2)
    if not np.isfinite(fp.q_star):
        raise ValueError("the length map diverges here: no fixed point to start the gradients from.")
    dev = _device(device)
    phi = act.torch()
    out = np.zeros((n_networks, depth))
    for k, gk in enumerate(spawn(rng, n_networks)):
        tg = torch.Generator(device=dev.type)
        tg.manual_seed(seed_int(gk))
        n = int(width)
        h = torch.randn(n, generator=tg, dtype=torch.float64, device=dev) * np.sqrt(max(fp.q_star, 1e-12))
        hs: list[Any] = []
        for _ in range(depth):
            W = torch.randn(n, n, generator=tg, dtype=torch.float64, device=dev) * np.sqrt(sigma_w2 / n)
            b = torch.randn(n, generator=tg, dtype=torch.float64, device=dev) * np.sqrt(sigma_b2)
            h = (W @ phi(h) + b).detach().requires_grad_(True) if not hs else W @ phi(h) + b
            h.retain_grad()
            hs.append(h)
        v = torch.randn(n, generator=tg, dtype=torch.float64, device=dev) / np.sqrt(n)
        (v @ hs[-1]).backward()
        out[k] = [float((hh.grad**2).mean()) for hh in hs]
    m = out.mean(axis=0)
    err = out.std(axis=0, ddof=1) / np.sqrt(n_networks)
    layers = np.arange(1, depth + 1)
    theory = m[-1] * fp.chi_1 ** (depth - layers)
    good = m > 0
    slope = np.polyfit(layers[good], np.log(m[good]), 1)[0]
    return GradientNorms(act.name, float(sigma_w2), float(sigma_b2), layers, m, err, theory, fp.chi_1,
                         float(np.exp(-slope)))


@dataclass(frozen=True)
class Trainability(Result):
    """Training accuracy over a (depth, sigma_w2) grid (``accuracy[i_depth, i_w]``) and 6 xi_c per sigma_w2."""

    activation: str
    sigma_b2: float
    sigma_w2: np.ndarray
    depths: np.ndarray
    accuracy: np.ndarray
    six_xi_c: np.ndarray


def trainability(
    activation: Any = "tanh",
    sigma_w2: Any = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
    depths: Any = (4, 10, 20, 40),
    sigma_b2: float = 0.05,
    width: int = 100,
    n_samples: int = 2000,
    epochs: int = 3,
    lr: float = 1e-3,
    rng: RNGLike = 0,
    device: Any = None,
    progress: ProgressCallback | None = None,
) -> Trainability:
    """Slow: train a tanh-style MLP per grid point on MNIST-5000 (Adam, ``epochs`` passes, batch 64) from the
    given initialisation and record training accuracy; compare with the trainable-depth bound 6 xi_c
    (Schoenholz et al. 2017: accuracy collapses where depth > ~6 xi_c)."""
    import torch

    from spinlens.data import load_mnist5000

    act = get_activation(activation)
    sws = np.atleast_1d(_positive_array(sigma_w2, "sigma_w2 (weight variances)", ndim=(0, 1)))
    ds_f = np.atleast_1d(_positive_array(depths, "depths (numbers of hidden layers)", ndim=(0, 1)))
    if np.any(ds_f != np.round(ds_f)):
        raise ValueError(f"depths (numbers of hidden layers) must be integers >= 1, got {ds_f.tolist()}.")
    ds = ds_f.astype(int)
    _one_number(sigma_b2, _SB, "")
    sigma_b2 = float(_nonnegative_array(sigma_b2, _SB, ndim=0))
    width = as_count(width, "width", minimum=1)
    n_samples = as_count(n_samples, "n_samples", minimum=1)
    epochs = as_count(epochs, "epochs", minimum=1)
    lr = as_positive(lr, "lr (the learning rate)")
    data = load_mnist5000(n_samples=n_samples)
    dev = _device(device)
    X = torch.as_tensor(data.X, dtype=torch.float32, device=dev)
    X = (X - X.mean()) / X.std()
    y = torch.as_tensor(data.y, device=dev)
    phi = act.torch()
    acc = np.zeros((len(ds), len(sws)))
    gens = spawn(rng, acc.size)
    total = acc.size
    for i, d in enumerate(ds):
        for j, sw in enumerate(sws):
            tg = torch.Generator(device=dev.type)
            tg.manual_seed(seed_int(gens[i * len(sws) + j]))
            dims = [X.shape[1]] + [width] * int(d) + [10]
            params = []
            for a, bdim in zip(dims[:-1], dims[1:], strict=False):
                W = (torch.randn(bdim, a, generator=tg, device=dev) * np.sqrt(sw / a)).requires_grad_(True)
                b = (torch.randn(bdim, generator=tg, device=dev) * np.sqrt(sigma_b2)).requires_grad_(True)
                params += [W, b]
            opt = torch.optim.Adam(params, lr=lr)
            perm_g = torch.Generator(device="cpu")
            perm_g.manual_seed(seed_int(gens[i * len(sws) + j]))

            def forward(xb: Any, params: list[Any] = params) -> Any:
                h = xb
                for k in range(0, len(params) - 2, 2):
                    h = phi(h @ params[k].T + params[k + 1])
                return h @ params[-2].T + params[-1]

            for _ in range(epochs):
                perm = torch.randperm(len(y), generator=perm_g).to(dev)
                for s in range(0, len(y), 64):
                    idx = perm[s:s + 64]
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(forward(X[idx]), y[idx])
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                acc[i, j] = float((forward(X).argmax(1) == y).float().mean())
            notify(progress, i * len(sws) + j + 1, total)
    six = np.array([6 * fixed_point(act, float(s), sigma_b2).xi_c for s in sws])
    return Trainability(act.name, float(sigma_b2), sws, ds, acc, six)
