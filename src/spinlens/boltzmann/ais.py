r"""Partition functions of RBMs: exact summation over the smaller layer and annealed importance sampling.

RBM energy :math:`E(v,h) = -v^\top W h - b^\top v - c^\top h` (Bernoulli visible) or
:math:`\tfrac12\|v-b\|^2 - v^\top W h - c^\top h` (Gaussian visible, unit variance).

* Exact: :math:`Z = \sum_h e^{c^\top h}\prod_i(1+e^{b_i+(Wh)_i})` (or the sum over v when that layer is
  smaller); Gaussian: :math:`Z = \sum_h (2\pi)^{n_v/2} e^{c^\top h + b^\top W h + \frac12\|Wh\|^2}`.
* AIS (Neal 2001; Salakhutdinov & Murray, ICML 2008): intermediate distributions
  :math:`p_k^*(v) = e^{(1-\beta_k) b_A^\top v + \beta_k b^\top v}\prod_j(1+e^{\beta_k(c_j + (W^\top v)_j)})` (times the
  constant :math:`2^{n_h}` of the base model's hidden units) between the base-rate model
  (:math:`W = 0`, visible biases :math:`b_A` = logit of the data means) at :math:`\beta_0=0` and the RBM at
  :math:`\beta_K = 1`; :math:`\log Z \approx \log Z_A + \log\frac1M\sum_m w^{(m)}` with
  :math:`\log w = \sum_k [\log p_k^*(v_k) - \log p_{k-1}^*(v_k)]` and :math:`v_{k+1}` drawn by one Gibbs step
  that leaves :math:`p_k` invariant. The standard error of :math:`\log\hat Z` is
  :math:`\mathrm{sd}(w)/(\sqrt M\,\bar w)` (delta method).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, torch_generator
from spinlens.results import Estimate
from spinlens.spins.model import as_count, as_real_array

__all__ = ["exact_log_partition", "ais_log_partition", "bernoulli_", "MAX_EXACT_UNITS"]

#: Largest layer summed exactly (2**20 states).
MAX_EXACT_UNITS = 20


def bernoulli_(prob: torch.Tensor, out: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Bernoulli samples ``out = 1[u < prob]``, ``u ~ U[0, 1)`` (P(out = 1) = prob), written into ``out``.

    Same distribution as ``torch.bernoulli`` but about 3x faster on CPU (one uniform draw and one comparison
    per unit). ``out`` must have ``prob``'s shape and dtype and must not alias it.
    """
    torch.rand(prob.shape, generator=generator, out=out, dtype=out.dtype, device=out.device)
    return torch.lt(out, prob, out=out)


def _rbm_params(W: Any, b: Any, c: Any, visible: str,
                base_bias: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(W, b, c, base_bias)`` as float64 arrays of matching shapes, or a ValueError naming the bad one."""
    if not isinstance(visible, str) or visible not in ("bernoulli", "gaussian"):
        raise ValueError(f"visible must be 'bernoulli' or 'gaussian', got {visible!r}.")
    Wa = as_real_array(W, "W (weights, (n_visible, n_hidden))", ndim=2)
    nv, nh = Wa.shape
    ba = as_real_array(b, f"b (visible biases; W has {nv} visible units)", shape=(nv,))
    ca = as_real_array(c, f"c (hidden biases; W has {nh} hidden units)", shape=(nh,))
    base = None if base_bias is None else as_real_array(base_bias, f"base_bias (W has {nv} visible units)",
                                                         shape=(nv,))
    return Wa, ba, ca, base


def _states(n: int, start: int, stop: int) -> torch.Tensor:
    codes = torch.arange(start, stop, dtype=torch.int64)
    bits = (codes[:, None] >> torch.arange(n, dtype=torch.int64)[None, :]) & 1
    return bits.to(torch.float64)


def exact_log_partition(W: Any, b: Any, c: Any, visible: str = "bernoulli", chunk: int = 1 << 15) -> float:
    """Exact log Z by summing the smaller layer (at most 20 units; Gaussian RBMs sum the hidden layer)."""
    Wa, ba, ca, _ = _rbm_params(W, b, c, visible)
    chunk = as_count(chunk, "chunk", minimum=1)
    W, b, c = (torch.as_tensor(a, dtype=torch.float64) for a in (Wa, ba, ca))
    nv, nh = W.shape
    sum_hidden = visible == "gaussian" or nh <= nv
    n = nh if sum_hidden else nv
    if n > MAX_EXACT_UNITS:
        raise ValueError(
            f"exact log Z needs a layer with at most {MAX_EXACT_UNITS} units (smallest summable layer has {n}); "
            "use method='ais'."
        )
    parts = []
    for start in range(0, 1 << n, chunk):
        S = _states(n, start, min(1 << n, start + chunk))
        if visible == "gaussian":
            Wh = S @ W.T
            lp = S @ c + Wh @ b + 0.5 * (Wh * Wh).sum(1)
        elif sum_hidden:
            lp = S @ c + torch.nn.functional.softplus(S @ W.T + b).sum(1)
        else:
            lp = S @ b + torch.nn.functional.softplus(S @ W + c).sum(1)
        parts.append(torch.logsumexp(lp, 0))
    out = float(torch.logsumexp(torch.stack(parts), 0))
    if visible == "gaussian":
        out += 0.5 * nv * math.log(2 * math.pi)
    return out


def ais_log_partition(
    W: Any,
    b: Any,
    c: Any,
    base_bias: Any = None,
    visible: str = "bernoulli",
    n_chains: int = 100,
    n_betas: int = 10000,
    rng: RNGLike = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
) -> Estimate:
    r"""AIS estimate of log Z with its standard error (see the module docstring).

    Parameters
    ----------
    W : (n_visible, n_hidden); b : (n_visible,); c : (n_hidden,)
    base_bias : (n_visible,) visible biases of the base model (default zeros; pass the logit of the data
        means — Bernoulli — or the data mean — Gaussian — as Salakhutdinov & Murray recommend).
    n_chains : independent AIS runs M.
    n_betas : intermediate inverse temperatures (linearly spaced in three stages as in S&M 2008).
    dtype : matrix products run in this dtype; the log weights accumulate in float64.

    Returns
    -------
    Estimate
        ``mean`` = log Z estimate, ``error`` = its standard error, ``n_eff`` = effective sample size of the
        importance weights.
    """
    n_chains = as_count(n_chains, "n_chains (AIS needs >= 2)", minimum=2)
    n_betas = as_count(n_betas, "n_betas (AIS needs >= 2)", minimum=2)
    Wa, ba, ca, base = _rbm_params(W, b, c, visible, base_bias)
    dev = torch.device(device)
    W, b, c = (torch.as_tensor(a).to(dev, dtype) for a in (Wa, ba, ca))
    nv, nh = W.shape
    bA = torch.zeros(nv, device=dev, dtype=dtype) if base is None else torch.as_tensor(base).to(dev, dtype)
    gen = torch_generator(rng, device=str(dev) if dev.type != "cpu" else None)
    # beta schedule of Salakhutdinov & Murray (2008): dense near 1
    k1, k2 = int(0.035 * n_betas), int(0.28 * n_betas)
    betas = np.concatenate([
        np.linspace(0.0, 0.5, max(k1, 2), endpoint=False),
        np.linspace(0.5, 0.9, max(k2, 2), endpoint=False),
        np.linspace(0.9, 1.0, max(n_betas - k1 - k2, 2)),
    ])
    M = int(n_chains)
    gaussian = visible == "gaussian"
    if gaussian:
        v = bA + torch.randn(M, nv, generator=gen, device=dev, dtype=dtype)
        logZA = nh * math.log(2.0) + 0.5 * nv * math.log(2 * math.pi)
    else:
        v = torch.bernoulli(torch.sigmoid(bA).expand(M, nv), generator=gen)
        logZA = nh * math.log(2.0) + float(torch.nn.functional.softplus(bA.double()).sum())
    db = (b - bA).to(torch.float64)
    bA64, b64 = bA.double(), b.double()
    logw = torch.zeros(M, dtype=torch.float64, device=dev)
    x = torch.empty(M, nh, device=dev, dtype=dtype)
    a = torch.empty(M, nv, device=dev, dtype=dtype)
    h = torch.empty(M, nh, device=dev, dtype=dtype)
    if not gaussian:
        v = v.contiguous().clone()
    sp = torch.nn.functional.softplus
    total = len(betas) - 1
    for k in range(1, len(betas)):
        bk, bk1 = float(betas[k]), float(betas[k - 1])
        torch.addmm(c, v, W, out=x)
        x64 = x.double()
        v64 = v.double()
        if gaussian:
            # -1/2||v||^2 + m_beta.v - 1/2[(1-beta)||bA||^2 + beta||b||^2], m_beta = (1-beta) bA + beta b
            lin = (bk - bk1) * (v64 @ db - 0.5 * (b64 @ b64 - bA64 @ bA64))
        else:
            lin = (bk - bk1) * (v64 @ db)
        logw += lin + (sp(bk * x64) - sp(bk1 * x64)).sum(1)
        if k == total:
            break
        # Gibbs step leaving p_k invariant
        bernoulli_(torch.sigmoid_(x.mul_(bk)), h, gen)
        torch.addmm(bA, h, W.t(), beta=1.0 - bk, alpha=bk, out=a)
        a.add_(b, alpha=bk)
        if gaussian:
            v = a + torch.randn(M, nv, generator=gen, device=dev, dtype=dtype)
        else:
            bernoulli_(torch.sigmoid_(a), v, gen)
        if k % 500 == 0:
            notify(progress, k, total)
    notify(progress, total, total)
    lw = logw.cpu().numpy()
    mx = float(lw.max())
    r = np.exp(lw - mx)
    mean_r = float(r.mean())
    log_z = logZA + mx + math.log(mean_r)
    se = float(r.std(ddof=1) / (math.sqrt(M) * mean_r))
    ess = float(r.sum() ** 2 / np.sum(r * r))
    return Estimate(log_z, se, n_eff=ess)
