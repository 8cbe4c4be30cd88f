r"""The dynamic-neuron ensemble at :math:`\beta > 0` (D. Lee, H.-S. Lee & J. Yi, *Dynamic neuron approach to deep
neural networks: Decoupling neurons for renormalization group analysis*, arXiv:2410.00396).

A network :math:`f(x; W, b)` with layers :math:`h^{(m+1)} = \phi(W^m h^{(m)} + b^m)` trained on data
:math:`\{(x_\mu, y_\mu)\}_{\mu=1}^P` with the squared loss :math:`L(W,b) = \sum_\mu\lVert y_\mu - f(x_\mu)\rVert^2`
has the Gibbs weight :math:`e^{-\beta L(W,b)}` over its parameters. Writing the forward pass as delta functions
and widening them into Gaussians of width :math:`\lambda^{-1/2}` makes the neurons :math:`h_\mu^{(m)}` of every
layer and data point degrees of freedom beside :math:`W` and :math:`b` (:math:`h_\mu^{(0)} = x_\mu` clamped):

.. math:: P(W, b, h)\ \propto\ \pi(W, b)\,\exp\Big[-\beta\sum_\mu\lVert y_\mu - h_\mu^{(M)}\rVert^2
          - \frac\lambda2\sum_{\mu}\sum_{m=0}^{M-1}\big\lVert h_\mu^{(m+1)} - \phi(W^m h_\mu^{(m)} + b^m)\big\rVert^2
          \Big],

which tends to :math:`\pi(W,b)\,e^{-\beta L(W, b)}` as :math:`\lambda\to\infty` (each Gaussian, normalised, tends
to the delta function). Only adjacent layers interact. The prior :math:`\pi` is the initialisation ensemble
:math:`W^m_{ij}\sim\mathcal N(0, \sigma_w^2/n_m)`, :math:`b^m_i\sim\mathcal N(0,\sigma_b^2)`; with
``learn_params=False`` the weights and biases stay at the given values and only the neurons are sampled.
With equal widths and identical layers (:math:`W^m = W`, :math:`b^m = b`) every bulk term has the same form, so
shifting a configuration by one layer, :math:`h^{(m)}\to h^{(m-1)}`, leaves the bulk energy unchanged and changes
only the boundary terms (the first coupling and the loss): the translational symmetry along depth of the paper.
:func:`dynamic_neuron_terms` returns the terms one by one so this can be checked.

**Sampler.** Hamiltonian Monte Carlo (S. Duane, A. D. Kennedy, B. J. Pendleton & D. Roweth, *Hybrid Monte Carlo*,
Phys. Lett. B 195, 216-222 (1987); R. M. Neal, *MCMC using Hamiltonian dynamics*, Handbook of Markov Chain Monte
Carlo, ch. 5 (2011)) on all variables at once, with analytic gradients (back-propagation through the terms
above), a diagonal mass matrix from the Gauss-Newton curvature of the energy at the end of the first half of the
burn-in (so each block moves on its own scale: :math:`\lambda` for neurons, :math:`\lambda\sum_\mu h^2` for
weights), a step size tuned during burn-in to ``target_accept`` and then frozen, a uniformly jittered step
(:math:`\pm20\%`), and a Metropolis test on the total energy: the chain leaves :math:`P` exactly invariant.
Observables carry error bars from :func:`spinlens.sampling.stats.estimate` (integrated autocorrelation time
:math:`\tau_{int}`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.criticality.activations import get_activation
from spinlens.results import Estimate, Result
from spinlens.spins.model import as_count, as_positive, as_real, as_real_array

__all__ = ["DynamicEnsembleSamples", "dynamic_neuron_terms", "forward_pass", "sample_dynamic_ensemble"]


def _layers(weights: Any, biases: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from spinlens.criticality.rg import _network

    return _network(weights, biases)


def _data(X: Any, Y: Any, Ws: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    n0, nM = Ws[0].shape[1], Ws[-1].shape[0]
    Xa = as_real_array(X, "X (inputs, one row per data point)", ndim=(1, 2))
    Xa = Xa.reshape(1, -1) if Xa.ndim == 1 else Xa
    if Xa.shape[1] != n0:
        raise ValueError(f"X must have {n0} columns (the input width of weights[0]), got {Xa.shape[1]}.")
    Ya = as_real_array(Y, "Y (targets, one row per data point)", ndim=(1, 2))
    Ya = Ya.reshape(1, -1) if Ya.ndim == 1 else Ya
    if Ya.shape != (Xa.shape[0], nM):
        raise ValueError(f"Y must have shape ({Xa.shape[0]}, {nM}) (one target of the output width per input), got "
                         f"{Ya.shape}.")
    return Xa, Ya


def forward_pass(X: Any, weights: Sequence[Any], biases: Sequence[Any], activation: Any) -> list[np.ndarray]:
    r"""The network's neurons :math:`h^{(m+1)} = \phi(W^m h^{(m)} + b^m)` for inputs ``X`` (P, n_0): a list
    ``[h^(0) = X, h^(1), ..., h^(M)]`` of (P, n_m) arrays."""
    act = get_activation(activation)
    Ws, bs = _layers(weights, biases)
    Xa = as_real_array(X, "X (inputs, one row per data point)", ndim=(1, 2))
    Xa = Xa.reshape(1, -1) if Xa.ndim == 1 else Xa
    if Xa.shape[1] != Ws[0].shape[1]:
        raise ValueError(f"X must have {Ws[0].shape[1]} columns (the input width of weights[0]), got {Xa.shape[1]}.")
    hs = [Xa]
    for W, b in zip(Ws, bs, strict=True):
        hs.append(act.fn(hs[-1] @ W.T + b))
    return hs


def dynamic_neuron_terms(h: Sequence[Any], Y: Any, weights: Sequence[Any], biases: Sequence[Any], activation: Any,
                         lam: float, beta: float) -> tuple[np.ndarray, float]:
    r"""The terms of the energy :math:`-\ln P + \ln\pi` (module notes) one by one: ``(coupling, loss)`` with
    ``coupling[m]`` :math:`= \frac\lambda2\sum_\mu\lVert h_\mu^{(m+1)} - \phi(W^m h_\mu^{(m)} + b^m)\rVert^2`
    (shape (M,)) and ``loss`` :math:`= \beta\sum_\mu\lVert y_\mu - h_\mu^{(M)}\rVert^2`. ``h`` is
    ``[h^(0), ..., h^(M)]`` with (P, n_m) arrays (h^(0) the inputs)."""
    act = get_activation(activation)
    Ws, bs = _layers(weights, biases)
    lam = as_positive(lam, "lam (the coupling of each layer to its forward pass)")
    beta = as_real(beta, "beta", low=0.0)
    if not isinstance(h, (list, tuple)) or len(h) != len(Ws) + 1:
        got = len(h) if isinstance(h, (list, tuple)) else type(h).__name__
        raise ValueError(f"h must be a list of len(weights) + 1 = {len(Ws) + 1} neuron arrays h^(0..M), got {got}.")
    widths = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    hs = []
    for m, (v, n) in enumerate(zip(h, widths, strict=True)):
        a = as_real_array(v, f"h[{m}]", ndim=(1, 2))
        hs.append(a.reshape(1, -1) if a.ndim == 1 else a)
        if hs[-1].shape[1] != n or hs[-1].shape[0] != hs[0].shape[0]:
            raise ValueError(f"h[{m}] must have shape (P, {n}) with the P rows of h[0], got {hs[-1].shape}.")
    Ya = as_real_array(Y, "Y (targets)", ndim=(1, 2))
    Ya = Ya.reshape(1, -1) if Ya.ndim == 1 else Ya
    if Ya.shape != hs[-1].shape:
        raise ValueError(f"Y must have the shape {hs[-1].shape} of the output neurons, got {Ya.shape}.")
    coupling = np.array([0.5 * lam * float(np.sum((hs[m + 1] - act.fn(hs[m] @ W.T + b)) ** 2))
                         for m, (W, b) in enumerate(zip(Ws, bs, strict=True))])
    return coupling, float(beta * np.sum((Ya - hs[-1]) ** 2))


@dataclass(frozen=True)
class DynamicEnsembleSamples(Result):
    r"""Samples of the dynamic-neuron ensemble (:func:`sample_dynamic_ensemble`).

    Attributes
    ----------
    loss : Estimate of :math:`\frac1P\sum_\mu\lVert y_\mu - h_\mu^{(M)}\rVert^2` (with its error and tau_int).
    coupling, coupling_error : (M,) mean coupling energy of each layer,
        :math:`\frac\lambda2\langle\sum_\mu\lVert h^{(m+1)}_\mu - \phi(W^m h^{(m)}_\mu + b^m)\rVert^2\rangle`.
    deviation, deviation_error : (M,) mean squared distance per neuron of layer m+1 from the forward pass of the
        sampled W, b started at the inputs (0 on the network itself).
    tau_int : (M + 2,) integrated autocorrelation times of the loss, the couplings and the total energy.
    energy : (n_kept,) trace of the total energy :math:`-\ln P` (up to a constant).
    trace : (n_kept, D) the sampled states (neurons of layers 1..M for every data point, then W, b when learned),
        or an empty (0, 0) array unless ``keep_trace``.
    neuron_mean : (D_h,) posterior mean of the neurons (layer by layer, data point by data point, row-major).
    acceptance : fraction of accepted HMC trajectories after burn-in; step_size : the frozen step size.
    lam, beta, learn_params, n_samples, n_leapfrog.
    """

    loss: Estimate
    coupling: np.ndarray
    coupling_error: np.ndarray
    deviation: np.ndarray
    deviation_error: np.ndarray
    tau_int: np.ndarray
    energy: np.ndarray
    trace: np.ndarray
    neuron_mean: np.ndarray
    acceptance: float
    step_size: float
    lam: float
    beta: float
    learn_params: bool
    n_samples: int
    n_leapfrog: int


class _Ensemble:
    """Packing, energy and gradient of the ensemble (pure arrays)."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, Ws: list[np.ndarray], bs: list[np.ndarray], act: Any,
                 lam: float, beta: float, learn: bool, sigma_w2: float, sigma_b2: float) -> None:
        self.X, self.Y, self.act = X, Y, act
        self.lam, self.beta, self.learn = lam, beta, learn
        self.Ws0, self.bs0 = Ws, bs
        self.sw2, self.sb2 = sigma_w2, sigma_b2
        P = X.shape[0]
        self.h_shapes = [(P, W.shape[0]) for W in Ws]
        self.p_shapes = [W.shape for W in Ws] + [b.shape for b in bs] if learn else []
        sizes = [int(np.prod(s)) for s in self.h_shapes + self.p_shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.n_h = int(sum(int(np.prod(s)) for s in self.h_shapes))
        self.size = int(self.offsets[-1])

    def unpack(self, z: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        parts = [z[self.offsets[i]:self.offsets[i + 1]].reshape(s)
                 for i, s in enumerate(self.h_shapes + self.p_shapes)]
        M = len(self.Ws0)
        H = [self.X, *parts[:M]]
        if self.learn:
            return H, parts[M:2 * M], parts[2 * M:]
        return H, self.Ws0, self.bs0

    def pack(self, H: list[np.ndarray], Ws: list[np.ndarray], bs: list[np.ndarray]) -> np.ndarray:
        parts = [a.ravel() for a in H[1:]]
        if self.learn:
            parts += [W.ravel() for W in Ws] + [b.ravel() for b in bs]
        return np.concatenate(parts)

    def energy_grad(self, z: np.ndarray, grad: bool = True) -> tuple[float, np.ndarray]:
        H, Ws, bs = self.unpack(z)
        M = len(Ws)
        lam, beta = self.lam, self.beta
        U = 0.0
        gH = [np.zeros_like(a) for a in H]
        gW = [np.zeros_like(W) for W in Ws]
        gb = [np.zeros_like(b) for b in bs]
        for m in range(M):
            a = H[m] @ Ws[m].T + bs[m]
            r = H[m + 1] - self.act.fn(a)
            U += 0.5 * lam * float(np.sum(r * r))
            if grad:
                gH[m + 1] += lam * r
                d = -lam * r * self.act.d1(a)
                if m > 0:
                    gH[m] += d @ Ws[m]
                gW[m] += d.T @ H[m]
                gb[m] += d.sum(axis=0)
        e = self.Y - H[M]
        U += beta * float(np.sum(e * e))
        if grad:
            gH[M] += -2.0 * beta * e
        if self.learn:
            for m in range(M):
                prec_w = Ws[m].shape[1] / self.sw2
                U += 0.5 * prec_w * float(np.sum(Ws[m] ** 2)) + 0.5 * float(np.sum(bs[m] ** 2)) / self.sb2
                if grad:
                    gW[m] += prec_w * Ws[m]
                    gb[m] += bs[m] / self.sb2
        if not grad:
            return U, np.empty(0)
        return U, self.pack(gH, gW, gb)

    def curvature(self, z: np.ndarray) -> np.ndarray:
        """Gauss-Newton diagonal of the energy's Hessian (the HMC mass matrix)."""
        H, Ws, bs = self.unpack(z)
        M = len(Ws)
        lam = self.lam
        cH = [np.zeros_like(a) for a in H]
        cW = [np.zeros_like(W) for W in Ws]
        cb = [np.zeros_like(b) for b in bs]
        for m in range(M):
            d1 = self.act.d1(H[m] @ Ws[m].T + bs[m])
            cH[m + 1] += lam
            if m > 0:
                cH[m] += lam * (d1 * d1) @ (Ws[m] ** 2)
            cW[m] += lam * (d1 * d1).T @ (H[m] ** 2)
            cb[m] += lam * np.sum(d1 * d1, axis=0)
        cH[M] += 2.0 * self.beta
        if self.learn:
            for m in range(M):
                cW[m] += Ws[m].shape[1] / self.sw2
                cb[m] += 1.0 / self.sb2
        c = self.pack(cH, cW, cb)
        return np.maximum(c, 1e-6 * max(1.0, float(np.median(c))))

    def observables(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        H, Ws, bs = self.unpack(z)
        M = len(Ws)
        coup = np.empty(M)
        dev = np.empty(M)
        f = self.X
        for m in range(M):
            r = H[m + 1] - self.act.fn(H[m] @ Ws[m].T + bs[m])
            coup[m] = 0.5 * self.lam * float(np.sum(r * r))
            f = self.act.fn(f @ Ws[m].T + bs[m])
            dev[m] = float(np.mean((H[m + 1] - f) ** 2))
        loss = float(np.sum((self.Y - H[M]) ** 2)) / self.X.shape[0]
        return loss, coup, dev


def sample_dynamic_ensemble(
    X: Any,
    Y: Any,
    weights: Sequence[Any],
    biases: Sequence[Any],
    activation: Any = "tanh",
    lam: float = 100.0,
    beta: float = 1.0,
    *,
    learn_params: bool = True,
    sigma_w2: float = 1.0,
    sigma_b2: float = 1.0,
    n_samples: int = 2000,
    n_burn: int = 500,
    n_leapfrog: int = 12,
    target_accept: float = 0.8,
    keep_trace: bool = False,
    rng: RNGLike = None,
    progress: ProgressCallback | None = None,
) -> DynamicEnsembleSamples:
    r"""Sample the dynamic-neuron ensemble (module notes) by Hamiltonian Monte Carlo.

    Parameters
    ----------
    X, Y : (P, n_0) inputs and (P, n_M) targets (one data point may be given as 1-D arrays).
    weights, biases : lists ``W^m`` of shape (n_{m+1}, n_m) and ``b^m`` of shape (n_{m+1},): the starting point
        (``learn_params=True``: W and b are sampled from ``pi(W, b) e^{...}``) or the fixed parameters.
    activation : name or callable (:func:`spinlens.criticality.get_activation`).
    lam : :math:`\lambda > 0`, the inverse variance of each neuron about its forward pass.
    beta : :math:`\beta \ge 0`, the inverse temperature of the loss.
    sigma_w2, sigma_b2 : prior variances of :math:`\pi` (used when ``learn_params``).
    n_samples : HMC trajectories kept (one sample each); n_burn : trajectories of burn-in (the first half also
        sets the mass matrix, all of it tunes the step size).
    n_leapfrog : leapfrog steps per trajectory; target_accept : acceptance the burn-in tunes the step to.
    keep_trace : keep every sampled state in ``trace`` (memory n_samples x D).

    Starts from the forward pass of ``weights``, ``biases`` (plus nothing else: the chain is burnt in from there).
    Cost: n_leapfrog + 1 energy gradients per sample, each O(P sum_m n_m n_{m+1}).
    """
    act = get_activation(activation)
    Ws, bs = _layers(weights, biases)
    Xa, Ya = _data(X, Y, Ws)
    lam = as_positive(lam, "lam (the coupling of each layer to its forward pass)")
    beta = as_real(beta, "beta (the inverse temperature of the loss)", low=0.0)
    if not isinstance(learn_params, (bool, np.bool_)) or not isinstance(keep_trace, (bool, np.bool_)):
        raise ValueError("learn_params and keep_trace must be True or False.")
    sw2 = as_positive(sigma_w2, "sigma_w2")
    sb2 = as_positive(sigma_b2, "sigma_b2")
    n_samples = as_count(n_samples, "n_samples", minimum=2)
    n_burn = as_count(n_burn, "n_burn", minimum=0)
    n_leapfrog = as_count(n_leapfrog, "n_leapfrog", minimum=1)
    target = as_real(target_accept, "target_accept", low=0.0, high=1.0, low_open=True, high_open=True)
    g = as_generator(rng)
    ens = _Ensemble(Xa, Ya, Ws, bs, act, lam, beta, bool(learn_params), sw2, sb2)
    hs = forward_pass(Xa, Ws, bs, act)
    z = ens.pack(hs, Ws, bs)
    mass = ens.curvature(z)
    eps = 0.5 / np.sqrt(n_leapfrog)
    log_eps = np.log(eps)
    U, grad = ens.energy_grad(z)
    total = n_burn + n_samples
    kept_U = np.empty(n_samples)
    kept_loss = np.empty(n_samples)
    kept_coup = np.empty((n_samples, len(Ws)))
    kept_dev = np.empty((n_samples, len(Ws)))
    trace = np.empty((n_samples, ens.size)) if keep_trace else np.empty((0, 0))
    hsum = np.zeros(ens.n_h)
    accepted = 0
    for it in range(total):
        if it == n_burn // 2 and n_burn > 0:
            mass = ens.curvature(z)  # from a burnt-in state, frozen from here on
        step = float(np.exp(log_eps)) * g.uniform(0.8, 1.2)
        p = g.standard_normal(ens.size) * np.sqrt(mass)
        H0 = U + 0.5 * float(np.sum(p * p / mass))
        zn, gn = z.copy(), grad.copy()
        pn = p - 0.5 * step * gn
        Un = U
        for k in range(n_leapfrog):
            zn += step * pn / mass
            Un, gn = ens.energy_grad(zn)
            if not np.isfinite(Un):
                break
            if k < n_leapfrog - 1:
                pn -= step * gn
        pn -= 0.5 * step * gn
        H1 = Un + 0.5 * float(np.sum(pn * pn / mass)) if np.isfinite(Un) else np.inf
        a = float(np.exp(min(0.0, H0 - H1))) if np.isfinite(H1) else 0.0
        if g.random() < a:
            z, U, grad = zn, Un, gn
            if it >= n_burn:
                accepted += 1
        if it < n_burn:  # Robbins-Monro on log(step): towards the target acceptance, frozen after burn-in
            log_eps += (a - target) / np.sqrt(it + 1.0)
        else:
            j = it - n_burn
            kept_U[j] = U
            kept_loss[j], kept_coup[j], kept_dev[j] = ens.observables(z)
            hsum += z[:ens.n_h]
            if keep_trace:
                trace[j] = z
        if (it + 1) % 50 == 0 or it + 1 == total:
            notify(progress, it + 1, total)
    from spinlens.sampling.stats import estimate

    loss = estimate(kept_loss, warn=False, name="loss")
    ce = [estimate(kept_coup[:, m], warn=False, name="coupling") for m in range(len(Ws))]
    de = [estimate(kept_dev[:, m], warn=False, name="deviation") for m in range(len(Ws))]
    eU = estimate(kept_U, warn=False, name="energy")
    taus = np.array([loss.tau_int, *(e.tau_int for e in ce), eU.tau_int])
    return DynamicEnsembleSamples(
        loss=loss, coupling=np.array([e.mean for e in ce]), coupling_error=np.array([e.error for e in ce]),
        deviation=np.array([e.mean for e in de]), deviation_error=np.array([e.error for e in de]), tau_int=taus,
        energy=kept_U, trace=trace, neuron_mean=hsum / n_samples, acceptance=accepted / n_samples,
        step_size=float(np.exp(log_eps)), lam=float(lam), beta=float(beta), learn_params=bool(learn_params),
        n_samples=int(n_samples), n_leapfrog=int(n_leapfrog),
    )
