r"""Restricted Boltzmann machines trained by contrastive divergence (CD-k) or persistent CD, on torch CPU/GPU.

Energy (Bernoulli visible, :math:`v\in\{0,1\}^{n_v}`, :math:`h\in\{0,1\}^{n_h}`):
:math:`E(v,h) = -v^\top W h - b^\top v - c^\top h`; free energy
:math:`F(v) = -b^\top v - \sum_j \log(1 + e^{c_j + (W^\top v)_j})`. Gaussian visible units (unit variance, for
standardised real data): :math:`E = \tfrac12\|v-b\|^2 - v^\top W h - c^\top h`,
:math:`F(v) = \tfrac12\|v-b\|^2 - \sum_j\log(1+e^{c_j+(W^\top v)_j})`.

Learning (Hinton 2002; Tieleman 2008; Hinton, *A Practical Guide to Training RBMs*, 2010): the
log-likelihood gradient :math:`\partial_W \langle\log p(v)\rangle = \langle v\,p(h|v)^\top\rangle_{data} -
\langle v\,p(h|v)^\top\rangle_{model}`, the model term estimated from ``k`` Gibbs steps started at the data (CD-k)
or at persistent chains (PCD). Update with momentum and L2 weight decay:
:math:`\Delta\theta \leftarrow \mu\,\Delta\theta + \eta\,(g - \lambda\theta_W)`,
:math:`\theta \leftarrow\theta+\Delta\theta`,
with ``g`` the minibatch-*mean* gradient (scikit-learn's ``BernoulliRBM`` uses the same convention: its
``learning_rate`` multiplies the batch-averaged gradient).
"""
from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np
import torch

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator, seed_int, torch_generator
from spinlens.boltzmann.ais import MAX_EXACT_UNITS, ais_log_partition, bernoulli_, exact_log_partition
from spinlens.results import Estimate
from spinlens.spins.model import as_count, as_real, as_real_array

__all__ = ["RBM"]


def _sp(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.softplus(x)


class RBM:
    """Restricted Boltzmann machine with a scikit-learn interface.

    Parameters
    ----------
    n_hidden : number of hidden units.
    n_epochs : passes over the training data.
    learning_rate : step size on the minibatch-mean gradient.
    batch_size : minibatch size.
    k : Gibbs steps per update (CD-k / PCD-k).
    persistent : use persistent chains (PCD) with one chain per minibatch row.
    momentum : momentum coefficient mu.
    weight_decay : L2 coefficient lambda on W.
    visible : "bernoulli" (data in [0, 1]) or "gaussian" (real data, unit variance; standardise it).
    init_scale : standard deviation of the initial weights.
    visible_bias_init : Bernoulli visible biases start at zero (default; measured better with PCD on MNIST-5000)
        or at the logit of the data means ("base-rate", Hinton's guide). Gaussian units start at the data mean.
    rng : seed or Generator (weights, minibatch order, Gibbs noise).
    device : torch device ("cpu" default; "cuda" when available and wanted).
    dtype : torch dtype of training (float32 default; partition functions accumulate in float64).
    n_threads : torch intra-op threads during fit/AIS (None leaves torch's setting).

    Attributes
    ----------
    components_ : (n_hidden, n_visible) weights W^T (scikit-learn layout).
    intercept_visible_ : (n_visible,) b.  intercept_hidden_ : (n_hidden,) c.
    base_rate_bias_ : (n_visible,) visible biases of the AIS base model, from the training data.
    history_ : dict of per-epoch lists: "epoch_time", "reconstruction_error".
    """

    def __init__(
        self,
        n_hidden: int = 256,
        n_epochs: int = 10,
        learning_rate: float = 0.05,
        batch_size: int = 100,
        k: int = 1,
        persistent: bool = False,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        visible: Literal["bernoulli", "gaussian"] = "bernoulli",
        init_scale: float = 0.01,
        visible_bias_init: Literal["zero", "base-rate"] = "zero",
        rng: RNGLike = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        n_threads: int | None = None,
    ) -> None:
        self.n_hidden = n_hidden
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.visible = visible
        self.init_scale = init_scale
        self.visible_bias_init = visible_bias_init
        self.rng = rng
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads

    # ------------------------------------------------------------------ scikit-learn plumbing
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        keys = ["n_hidden", "n_epochs", "learning_rate", "batch_size", "k", "persistent", "momentum",
                "weight_decay", "visible", "init_scale", "visible_bias_init", "rng", "device", "dtype", "n_threads"]
        return {k: getattr(self, k) for k in keys}

    def set_params(self, **params: Any) -> RBM:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"unknown parameter {k!r} for RBM.")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"RBM(n_hidden={self.n_hidden}, visible={self.visible!r}, k={self.k}, persistent={self.persistent})"

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if self.visible_bias_init not in ("zero", "base-rate"):
            raise ValueError(f"visible_bias_init must be 'zero' or 'base-rate', got {self.visible_bias_init!r}.")
        if self.visible not in ("bernoulli", "gaussian"):
            raise ValueError(f"visible must be 'bernoulli' or 'gaussian', got {self.visible!r}.")
        for name in ("n_hidden", "n_epochs", "batch_size", "k"):
            as_count(getattr(self, name), name, minimum=1)
        as_real(self.learning_rate, "learning_rate", low=0.0, low_open=True)
        as_real(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        as_real(self.weight_decay, "weight_decay", low=0.0)
        as_real(self.init_scale, "init_scale", low=0.0, low_open=True)

    def _check_X(self, X: Any, fitting: bool = False) -> np.ndarray:
        A = as_real_array(X, "X", allow_empty=True, finite=False)
        if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
            raise ValueError(f"X must be a 2-D array (n_samples, n_visible), got shape {A.shape}.")
        if not np.all(np.isfinite(A)):
            raise ValueError("X contains NaN or inf.")
        if self.visible == "bernoulli" and (A.min() < 0.0 or A.max() > 1.0):
            raise ValueError(
                f"a Bernoulli RBM needs data in [0, 1] (got values in [{A.min():.3g}, {A.max():.3g}]); "
                "scale it (e.g. X / 255) or use visible='gaussian' for real-valued data."
            )
        if not fitting:
            self._check_fitted()
            if A.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {A.shape[1]} features but the RBM was fitted with {self.n_features_in_}.")
        return A

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise ValueError("this RBM is not fitted yet; call fit(X) first (or RBM.from_params).")

    # ------------------------------------------------------------------ parameters
    @classmethod
    def from_params(
        cls, W: Any, b: Any, c: Any, visible: Literal["bernoulli", "gaussian"] = "bernoulli",
        base_rate_bias: Any = None, **kwargs: Any,
    ) -> RBM:
        """An RBM with given weights ``W`` (n_visible, n_hidden) and biases (e.g. from scikit-learn's
        ``BernoulliRBM``: ``W = components_.T``, ``b = intercept_visible_``, ``c = intercept_hidden_``)."""
        W = np.asarray(W, dtype=np.float64)
        self = cls(n_hidden=W.shape[1], visible=visible, **kwargs)
        self._set_params(W, np.asarray(b, np.float64), np.asarray(c, np.float64))
        nv = W.shape[0]
        self.base_rate_bias_ = np.zeros(nv) if base_rate_bias is None else np.asarray(base_rate_bias, np.float64)
        self.n_features_in_ = nv
        self.history_ = {"epoch_time": [], "reconstruction_error": []}
        return self

    def _set_params(self, W: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
        dev = torch.device(self.device)
        self._W = torch.as_tensor(W).to(dev, self.dtype).contiguous()
        self._b = torch.as_tensor(b).to(dev, self.dtype).contiguous()
        self._c = torch.as_tensor(c).to(dev, self.dtype).contiguous()
        self._logz_cache: dict[tuple[Any, ...], Estimate] = {}

    @property
    def components_(self) -> np.ndarray:
        return self._W.T.double().cpu().numpy()

    @property
    def intercept_visible_(self) -> np.ndarray:
        return self._b.double().cpu().numpy()

    @property
    def intercept_hidden_(self) -> np.ndarray:
        return self._c.double().cpu().numpy()

    @property
    def weights_(self) -> np.ndarray:
        """(n_visible, n_hidden) W."""
        return self._W.double().cpu().numpy()

    def __getattr__(self, name: str) -> Any:
        # make hasattr(self, "components_") False before fit
        if name in ("components_", "intercept_visible_", "intercept_hidden_", "weights_"):
            raise AttributeError(name)
        raise AttributeError(name)

    def _threads(self) -> Any:
        class _Ctx:
            def __init__(s, n: int | None) -> None:
                s.n: int | None = n
                s.old: int | None = None

            def __enter__(s) -> None:
                if s.n:
                    s.old = torch.get_num_threads()
                    torch.set_num_threads(int(s.n))

            def __exit__(s, *a: Any) -> None:
                if s.old:
                    torch.set_num_threads(s.old)

        return _Ctx(self.n_threads)

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any = None, progress: ProgressCallback | None = None, callback: Any = None) -> RBM:
        """Train by CD-k or PCD-k on ``X`` (n_samples, n_visible). ``callback(epoch, self)`` runs after each epoch."""
        self._check_params()
        A = self._check_X(X, fitting=True)
        g = as_generator(self.rng)
        n, nv = A.shape
        nh = int(self.n_hidden)
        dev = torch.device(self.device)
        if self.visible == "bernoulli":
            p = np.clip(A.mean(0), 1e-3, 1 - 1e-3)
            base = np.log(p / (1 - p))
            b0 = base.copy() if self.visible_bias_init == "base-rate" else np.zeros(nv)
        else:
            base = A.mean(0)
            b0 = base.copy()
        W0 = g.normal(0.0, self.init_scale, size=(nv, nh))
        self._set_params(W0, b0, np.zeros(nh))
        self.base_rate_bias_ = base
        self.n_features_in_ = nv
        self.history_: dict[str, list[float]] = {"epoch_time": [], "reconstruction_error": []}
        gen = torch_generator(seed_int(g), device=str(dev) if dev.type != "cpu" else None)
        Xt = torch.as_tensor(A).to(dev, self.dtype).contiguous()
        with self._threads():
            self._train(Xt, gen, progress, callback)
        self._logz_cache = {}
        return self

    def _train(self, Xt: torch.Tensor, gen: torch.Generator, progress: ProgressCallback | None, callback: Any) -> None:
        n, nv = Xt.shape
        nh = int(self.n_hidden)
        B = min(int(self.batch_size), n)
        W, b, c = self._W, self._b, self._c
        dt, dev = self.dtype, W.device
        # preallocated buffers
        v = torch.empty(B, nv, dtype=dt, device=dev)
        ph = torch.empty(B, nh, dtype=dt, device=dev)
        hs = torch.empty(B, nh, dtype=dt, device=dev)
        pv = torch.empty(B, nv, dtype=dt, device=dev)
        vs = torch.empty(B, nv, dtype=dt, device=dev)
        nhp = torch.empty(B, nh, dtype=dt, device=dev)
        dW = torch.zeros(nv, nh, dtype=dt, device=dev)
        db = torch.zeros(nv, dtype=dt, device=dev)
        dc = torch.zeros(nh, dtype=dt, device=dev)
        chains = None
        if self.persistent:
            chains = torch.bernoulli(torch.full((B, nh), 0.5, dtype=dt, device=dev), generator=gen)
        lr, mom, wd = float(self.learning_rate), float(self.momentum), float(self.weight_decay)
        n_batches = math.ceil(n / B)
        mon = Xt[: min(n, 500)]
        for epoch in range(int(self.n_epochs)):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen, device=dev)
            for s in range(n_batches):
                idx = perm[s * B : (s + 1) * B]
                m = idx.shape[0]
                vv, pph, hhs, ppv, vvs, nnh = v[:m], ph[:m], hs[:m], pv[:m], vs[:m], nhp[:m]
                torch.index_select(Xt, 0, idx, out=vv)
                self._cd_statistics(vv, pph, hhs, ppv, vvs, nnh, chains, gen)
                # gradient (batch means) into dW, db, dc with momentum
                scale = lr / m
                dW.mul_(mom)
                dW.addmm_(vv.t(), pph, alpha=scale)
                dW.addmm_(vvs.t(), nnh, alpha=-scale)
                if wd:
                    dW.add_(W, alpha=-lr * wd)
                db.mul_(mom).add_(vv.sum(0).sub_(vvs.sum(0)), alpha=scale)
                dc.mul_(mom).add_(pph.sum(0).sub_(nnh.sum(0)), alpha=scale)
                W.add_(dW)
                b.add_(db)
                c.add_(dc)
            self.history_["epoch_time"].append(time.perf_counter() - t0)
            self.history_["reconstruction_error"].append(self._recon_error(mon))
            notify(progress, epoch + 1, int(self.n_epochs))
            if callback is not None:
                callback(epoch + 1, self)

    def _cd_statistics(self, v: torch.Tensor, ph: torch.Tensor, hs: torch.Tensor, pv: torch.Tensor,
                       vs: torch.Tensor, nh: torch.Tensor, chains: torch.Tensor | None, gen: torch.Generator) -> None:
        """Positive phase p(h|v) into ``ph``; k Gibbs steps from the data (CD) or from ``chains`` (PCD);
        negative visible samples into ``vs`` and their p(h|vs) into ``nh``."""
        W, b, c = self._W, self._b, self._c
        m = v.shape[0]
        torch.addmm(c, v, W, out=ph).sigmoid_()
        if chains is not None:
            hs.copy_(chains[:m])
        else:
            bernoulli_(ph, hs, gen)
        for step in range(int(self.k)):
            torch.addmm(b, hs, W.t(), out=pv)
            if self.visible == "gaussian":
                torch.randn(pv.shape, generator=gen, out=vs, dtype=pv.dtype, device=pv.device)
                vs.add_(pv)
            else:
                pv.sigmoid_()
                bernoulli_(pv, vs, gen)
            torch.addmm(c, vs, W, out=nh).sigmoid_()
            if step < int(self.k) - 1 or chains is not None:
                bernoulli_(nh, hs, gen)
        if chains is not None:
            chains[:m].copy_(hs)

    def _recon_error(self, V: torch.Tensor) -> float:
        with torch.no_grad():
            h = torch.sigmoid(torch.addmm(self._c, V, self._W))
            r = torch.addmm(self._b, h, self._W.t())
            if self.visible == "bernoulli":
                r = torch.sigmoid(r)
            return float(((V - r) ** 2).sum(1).mean())

    def gradient(self, X: Any, k: int | None = None, rng: RNGLike = None, persistent_chains: Any = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CD-k estimate of the log-likelihood gradient (dW, db, dc) on ``X`` — the same kernel as ``fit``
        uses, without updating parameters (batch means; no momentum or weight decay)."""
        self._check_fitted()
        A = self._check_X(X)
        kk = int(self.k if k is None else k)
        old_k = self.k
        self.k = kk
        try:
            dev, dt = self._W.device, self.dtype
            Xt = torch.as_tensor(A).to(dev, dt)
            m, nv, nh = Xt.shape[0], self._W.shape[0], self._W.shape[1]
            bufs = [torch.empty(m, d, dtype=dt, device=dev) for d in (nh, nh, nv, nv, nh)]
            gen = torch_generator(rng)
            chains = None if persistent_chains is None else torch.as_tensor(persistent_chains).to(dev, dt).clone()
            ph, hs, pv, vs, nhp = bufs
            self._cd_statistics(Xt, ph, hs, pv, vs, nhp, chains, gen)
            dW = (Xt.t() @ ph - vs.t() @ nhp) / m
            db = (Xt - vs).mean(0)
            dc = (ph - nhp).mean(0)
        finally:
            self.k = old_k
        return dW.double().cpu().numpy(), db.double().cpu().numpy(), dc.double().cpu().numpy()

    def exact_gradient(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact log-likelihood gradient by enumerating all visible states (Bernoulli, n_visible <= 20)."""
        self._check_fitted()
        A = self._check_X(X)
        nv = self._W.shape[0]
        if self.visible != "bernoulli" or nv > MAX_EXACT_UNITS:
            raise ValueError("exact_gradient needs a Bernoulli RBM with at most 20 visible units.")
        W, b, c = self._W.double(), self._b.double(), self._c.double()
        codes = torch.arange(1 << nv)
        V = ((codes[:, None] >> torch.arange(nv)[None, :]) & 1).double()
        lp = V @ b + _sp(V @ W + c).sum(1)
        p = torch.softmax(lp, 0)
        H = torch.sigmoid(V @ W + c)
        Xt = torch.as_tensor(A, dtype=torch.float64)
        Hd = torch.sigmoid(Xt @ W + c)
        dW = Xt.t() @ Hd / len(Xt) - (V * p[:, None]).t() @ H
        db = Xt.mean(0) - p @ V
        dc = Hd.mean(0) - p @ H
        return dW.numpy(), db.numpy(), dc.numpy()

    # ------------------------------------------------------------------ evaluation
    def free_energy(self, X: Any) -> np.ndarray:
        """Free energy F(v) for each row of ``X`` (formula in the module docstring), float64."""
        A = self._check_X(X)
        W, b, c = self._W.double(), self._b.double(), self._c.double()
        V = torch.as_tensor(A, dtype=torch.float64, device=W.device)
        sp = _sp(V @ W + c).sum(1)
        if self.visible == "gaussian":
            F = 0.5 * ((V - b) ** 2).sum(1) - sp
        else:
            F = -(V @ b) - sp
        return F.cpu().numpy()

    def transform(self, X: Any) -> np.ndarray:
        """Hidden activation probabilities p(h = 1 | v), (n_samples, n_hidden)."""
        A = self._check_X(X)
        V = torch.as_tensor(A).to(self._W.device, self.dtype)
        return torch.sigmoid(torch.addmm(self._c, V, self._W)).double().cpu().numpy()

    def log_partition(
        self,
        method: Literal["auto", "ais", "exact"] = "auto",
        n_chains: int = 100,
        n_betas: int = 10000,
        rng: RNGLike = 0,
        progress: ProgressCallback | None = None,
    ) -> Estimate:
        """log Z as an :class:`~spinlens.results.Estimate` (error 0 for the exact sum).

        ``"exact"`` sums the smaller layer (<= 20 units; the hidden layer for Gaussian RBMs), ``"ais"`` runs
        annealed importance sampling from the base-rate model, ``"auto"`` picks exact when possible.
        """
        self._check_fitted()
        nv, nh = self._W.shape
        small = nh if self.visible == "gaussian" else min(nv, nh)
        if method == "auto":
            method = "exact" if small <= MAX_EXACT_UNITS else "ais"
        if method == "exact":
            return Estimate(exact_log_partition(self.weights_, self.intercept_visible_, self.intercept_hidden_,
                                                self.visible), 0.0, n_eff=float("inf"))
        if method != "ais":
            raise ValueError(f"method must be 'auto', 'ais' or 'exact', got {method!r}.")
        key = (n_chains, n_betas, rng if isinstance(rng, int) else None)
        if key[2] is not None and key in self._logz_cache:
            return self._logz_cache[key]
        with self._threads():
            est = ais_log_partition(self._W, self._b, self._c, self.base_rate_bias_, self.visible, n_chains, n_betas,
                                    rng=rng, dtype=self.dtype, device=self._W.device, progress=progress)
        if key[2] is not None:
            self._logz_cache[key] = est
        return est

    def score(self, X: Any, y: Any = None, log_z: Estimate | float | None = None, **log_partition_kw: Any) -> float:
        r"""Average log-likelihood :math:`\frac1n\sum_v[-F(v)] - \log Z` of ``X`` (nats per sample)."""
        F = self.free_energy(X)
        lz = self.log_partition(**log_partition_kw) if log_z is None else log_z
        return float(-F.mean() - float(lz))

    def score_samples(self, X: Any, log_z: Estimate | float | None = None) -> np.ndarray:
        """Per-sample log-likelihood ``-F(v) - log Z``."""
        lz = self.log_partition() if log_z is None else log_z
        return -self.free_energy(X) - float(lz)

    def sample(self, n_samples: int = 100, n_gibbs: int = 1000, rng: RNGLike = None, init: Any = None,
               return_probabilities: bool = False) -> np.ndarray:
        """``n_samples`` visible states after ``n_gibbs`` block-Gibbs steps from ``init`` (default: the base-rate
        model). ``return_probabilities`` gives p(v = 1 | h) (Bernoulli) or the mean (Gaussian) of the last step."""
        self._check_fitted()
        gen = torch_generator(rng)
        W, b, c = self._W, self._b, self._c
        nv = W.shape[0]
        base = torch.as_tensor(self.base_rate_bias_).to(W.device, self.dtype)
        if init is not None:
            v = torch.as_tensor(self._check_X(init)).to(W.device, self.dtype)
        elif self.visible == "gaussian":
            v = base + torch.randn(n_samples, nv, generator=gen, dtype=self.dtype)
        else:
            v = torch.bernoulli(torch.sigmoid(base).expand(n_samples, nv).contiguous(), generator=gen)
        mean = v
        with self._threads():
            for _ in range(int(n_gibbs)):
                h = torch.bernoulli(torch.sigmoid(torch.addmm(c, v, W)), generator=gen)
                mean = torch.addmm(b, h, W.t())
                if self.visible == "gaussian":
                    v = mean + torch.randn(mean.shape, generator=gen, dtype=self.dtype)
                else:
                    mean = torch.sigmoid(mean)
                    v = torch.bernoulli(mean, generator=gen)
        out = mean if return_probabilities else v
        return out.double().cpu().numpy()
